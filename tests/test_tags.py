"""The TensorBoard tag -> W&B key mapping of the README's "What appears on W&B" table."""
import pytest
from hypothesis import given, strategies as st

from hsi_wandb.adapter.tags import EPOCH, FRAME, TIME, also_logged_as, map_tag

DESIGN_TABLE = [
    ("performance/total_fps", "performance/total_fps", FRAME),
    ("performance/step_fps", "performance/step_fps", FRAME),
    ("performance/update_time", "performance/update_time", FRAME),
    ("performance/play_time", "performance/play_time", FRAME),
    ("losses/disc_loss", "losses/disc_loss", FRAME),
    ("info/clip_frac", "info/clip_frac", FRAME),
    ("info/disc_reward_std", "info/disc_reward_std", FRAME),
    ("rewards/step", "rewards/mean", FRAME),
    ("rewards/iter", "rewards/mean", EPOCH),
    ("rewards/time", "rewards/mean", TIME),
    ("rewards0/frame", "rewards/mean", FRAME),
    ("rewards0/iter", "rewards/mean", EPOCH),
    ("rewards0/time", "rewards/mean", TIME),
    ("rewards1/frame", "rewards/1", FRAME),
    ("rewards2/iter", "rewards/2", EPOCH),
    ("rewards/reach/frame", "rewards/reach", FRAME),
    ("rewards/traj/iter", "rewards/traj", EPOCH),
    ("reward_near/frame", "rewards/near", FRAME),
    ("reward_far/iter", "rewards/far", EPOCH),
    ("reward_far/time", "rewards/far", TIME),
    ("shaped_rewards/step", "shaped_rewards/mean", FRAME),
    ("shaped_rewards1/step", "shaped_rewards/1", FRAME),
    ("episode_lengths/frame", "episode_lengths/mean", FRAME),
    ("episode_lengths/step", "episode_lengths/mean", FRAME),
    ("episode_lengths/iter", "episode_lengths/mean", EPOCH),
    ("scores/mean", "scores/mean", FRAME),
    ("scores/iter", "scores/mean", EPOCH),
    ("successes/frame", "successes", FRAME),
    ("successes/time", "successes", TIME),
    ("successes/consecutive_successes/mean", "successes/consecutive_successes", FRAME),
    ("successes/consecutive_successes/iter", "successes/consecutive_successes", EPOCH),
    ("successes/consecutive_successes/time", "successes/consecutive_successes", TIME),
    ("eval/sit/success_rate", "eval/sit/success_rate", FRAME),
    ("info/time", "info/time", FRAME),
    ("performance/step_time", "performance/step_time", FRAME),
    ("my/custom/tag", "my/custom/tag", FRAME),
    ("consecutive_successes/frame", "consecutive_successes", FRAME),
    ("consecutive_successes/iter", "consecutive_successes", EPOCH),
    ("episode/rew_reach/frame", "episode/rew_reach", FRAME),
    ("episode/rew_reach/iter", "episode/rew_reach", EPOCH),
    ("episode/rew_reach/time", "episode/rew_reach", TIME),
    ("Episode/rew_reach", "Episode/rew_reach", EPOCH),
    ("Episode/episode_lengths", "Episode/episode_lengths", EPOCH),
    ("info/lr/iter", "info/lr/iter", FRAME),
]


@pytest.mark.parametrize("tag,key,axis", DESIGN_TABLE)
def test_design_table(tag, key, axis):
    assert map_tag(tag) == (key, axis)


@given(st.text(min_size=1, max_size=300))
def test_any_tag_maps_to_a_nonempty_key(tag):
    key, axis = map_tag(tag)
    assert key and axis in (FRAME, EPOCH, TIME)


@given(st.text(min_size=1, max_size=60).filter(lambda s: not s.endswith(("/frame", "/step", "/iter", "/time", "/mean"))))
def test_tags_without_axis_suffix_keep_their_name(tag):
    assert map_tag(tag).key == tag


@pytest.mark.parametrize("key,aliases", [
    ("rewards/mean", ("rewards/0",)), ("shaped_rewards/mean", ("shaped_rewards/0",)), ("rewards/1", ()),
    ("episode_lengths/mean", ()), ("scores/mean", ()), ("rewards/near", ()),
])
def test_value_dimension_zero_is_also_rewards_0(key, aliases):
    assert also_logged_as(key) == aliases
