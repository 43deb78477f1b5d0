"""Every entry point users train from, and every algorithm rl_games registers, through a real rl_games Runner with
hsi_wandb's two lines: each run read back with W&B's reader (every TensorBoard scalar under its key, checkpoints as
artifacts, exit code 0). IsaacGymEnvs and Isaac Lab need rl-games 1.6; the rest runs on 1.1.4 and 1.6."""
import json
import os
import subprocess
import sys
from importlib.metadata import version

import numpy as np
import pytest
from rl_games.algos_torch import model_builder
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import entry_points
import tiny_env
from conftest import ROOT, assert_mirrored, working_in
from offline_run import OfflineRun, offline_runs

RL_GAMES = version("rl-games")
RL_GAMES_16 = hasattr(model_builder, "register_model")
needs_rl_games_16 = pytest.mark.skipif(not RL_GAMES_16, reason="IsaacGymEnvs and Isaac Lab run rl-games 1.6")
SAC_CONFIG = "brax/sac_ant.yaml"


def read_back(exp_dir):
    """The one offline run under ``exp_dir`` and the TensorBoard scalars of its summaries folder (or ``exp_dir``)."""
    (run_dir,) = offline_runs(exp_dir)
    summaries = os.path.join(exp_dir, "summaries")
    if not (os.path.isdir(summaries) and os.listdir(summaries)):
        summaries = exp_dir
    accumulator = EventAccumulator(summaries, size_guidance={"scalars": 0})
    accumulator.Reload()
    scalars = {tag: [(e.step, e.value) for e in accumulator.Scalars(tag)] for tag in accumulator.Tags()["scalars"]}
    return OfflineRun(run_dir), scalars


def assert_checkpoints_logged(run, nn_dir):
    """Every save point is a model artifact with epoch and frame, the last one ``final``."""
    versions = [(json.loads(a["metadata"]), a) for a in run.artifacts]
    assert versions and all(a["type"] == "model" for _, a in versions)
    assert all({"epoch", "frame", "reason"} <= set(meta) for meta, _ in versions)
    assert "final" in versions[-1][1]["aliases"]
    assert os.listdir(nn_dir)


@pytest.fixture(scope="module")
def discrete_run(tmp_path_factory):
    """rl_games' ``ppo_cartpole.yaml`` (a2c_discrete) through a plain Runner."""
    if RL_GAMES == "1.1.4" and not hasattr(np, "long"):
        pytest.skip("rl-games 1.1.4's discrete agent uses np.long, which numpy 1.24 to 1.26 lack")
    tmp = tmp_path_factory.mktemp("discrete")
    with working_in(tmp):
        cfg = entry_points.example_config("ppo_cartpole.yaml", tiny_env.DISCRETE_ENV_NAME, tmp / "runs",
                                          max_epochs=4, save_frequency=2, save_best_after=1, minibatch_size=256,
                                          horizon_length=16)
        entry_points.train_plain_runner(cfg)
        exp_dir = tmp / "runs" / cfg["params"]["config"]["name"]
        yield exp_dir, read_back(exp_dir)


@pytest.mark.slow
def test_rl_games_discrete_example_config_mirrors_every_scalar(discrete_run):
    exp_dir, (run, tb) = discrete_run
    assert run.exit_code == 0
    assert_mirrored(tb, run.history)
    assert {"rewards/mean", "losses/a_loss", "info/epochs"} <= set(run.history[-1])
    assert_checkpoints_logged(run, exp_dir / "nn")


@pytest.mark.slow
def test_rl_games_continuous_example_config_mirrors_every_scalar(tmp_path):
    cfg = entry_points.example_config("ppo_pendulum_torch.yaml", tiny_env.ENV_NAME, tmp_path / "runs", max_epochs=4,
                                      save_frequency=2, save_best_after=1, minibatch_size=256, horizon_length=16)
    entry_points.train_plain_runner(cfg)
    exp_dir = tmp_path / "runs" / cfg["params"]["config"]["name"]
    run, tb = read_back(exp_dir)
    assert run.exit_code == 0
    assert_mirrored(tb, run.history)
    if RL_GAMES_16:
        assert {"shaped_rewards/mean", "shaped_rewards/0"} <= set(run.history[-1]), "rl-games 1.6's shaped_rewards"
    assert_checkpoints_logged(run, exp_dir / "nn")


@pytest.fixture(scope="module")
def sac_run(tmp_path_factory):
    """rl_games' ``brax/sac_ant.yaml`` (sac) through a plain Runner, long enough for best-reward saves."""
    tmp = tmp_path_factory.mktemp("sac")
    with working_in(tmp):
        cfg = entry_points.example_config(SAC_CONFIG, tiny_env.ENV_NAME, tmp / "runs", max_epochs=12,
                                          num_steps_per_episode=8, save_best_after=2, batch_size=64,
                                          replay_buffer_size=4096, num_warmup_steps=2, num_seed_steps=2)
        entry_points.train_plain_runner(cfg)
        yield tmp, cfg


@pytest.mark.slow
def test_sac_mirrors_every_scalar_and_logs_its_best_reward_saves(sac_run):
    """rl-games 1.1.4's SAC writes to ``runs/<name>_<time>`` and saves to ``./nn``; 1.6.5's to its experiment folder."""
    tmp, cfg = sac_run
    runs = [os.path.dirname(os.path.dirname(d)) for d in offline_runs(tmp)]
    assert len(runs) == 1, runs
    run, tb = read_back(runs[0])
    assert run.exit_code == 0
    assert_mirrored(tb, run.history)
    assert {"losses/c1_loss", "info/alpha", "rewards/mean", "episode_lengths/mean"} <= {
        key for row in run.history for key in row}
    epochs = [row["epoch"] for row in run.history]
    assert epochs == sorted(epochs) and len(set(epochs)) == len(epochs)
    assert [row["epoch"] for row in run.history] == [row["info/epochs"] for row in run.history]
    metas = [json.loads(a["metadata"]) for a in run.artifacts]
    assert any(meta["reason"] == "best" for meta in metas)
    assert all(isinstance(meta["mean_reward"], float) for meta in metas)
    nn_dir = os.path.join(tmp, "nn") if RL_GAMES == "1.1.4" else os.path.join(runs[0], "nn")
    assert_checkpoints_logged(run, nn_dir)


@pytest.mark.slow
@needs_rl_games_16
def test_isaacgymenvs_train_py_with_hydra_configs_and_its_observers(tmp_path):
    cfg = entry_points.ige_config(tmp_path / "cfg", tmp_path / "runs")
    assert type(cfg.train.wandb.tags).__name__ == "ListConfig"
    exp_dir = entry_points.launch_rlg_hydra(cfg)
    run, tb = read_back(exp_dir)
    assert run.exit_code == 0
    assert run.of_type("run")[0].get("tags") == ["ige", "cartpole"] or run.config["wandb"]["tags"] == ["ige",
                                                                                                    "cartpole"]
    assert {"Episode/rew_reach", "Episode/rew_action", "consecutive_successes/iter",
            "episode/rew_reach/frame"} <= set(tb), "IGE's RLGPUAlgoObserver wrote through the agent's writer"
    assert_mirrored(tb, run.history)
    keys = {key for row in run.history for key in row}
    assert {"Episode/rew_reach", "consecutive_successes", "episode/rew_reach"} <= keys
    assert_checkpoints_logged(run, os.path.join(exp_dir, "nn"))


@pytest.mark.slow
@needs_rl_games_16
def test_isaacgymenvs_own_wandb_run_is_reused_as_they_configured_it(tmp_path):
    """``wandb_activate=True``: IGE's observer starts its own run (sync_tensorboard) before the agent exists; we log
    checkpoints into it, add no scalars, no ``frame`` to its rows, and do not redefine its axes or finish it."""
    import wandb

    try:
        wandb.Settings(start_method="fork")
    except Exception as exc:
        pytest.skip("this wandb rejects IsaacGymEnvs' own wandb.init ({}); the README says what to do instead"
                    .format(type(exc).__name__))
    cfg = entry_points.ige_config(tmp_path / "cfg", tmp_path / "runs", ["wandb_activate=True"])
    try:
        exp_dir = entry_points.launch_rlg_hydra(cfg)
        assert wandb.run is not None, "the user's run is left open for the user to finish"
        run_dir = wandb.run.settings.sync_dir
    finally:
        wandb.finish()
    run = OfflineRun(run_dir)
    assert run.run_id == "uid_tiny_ige"
    assert run.history and not any("frame" in row for row in run.history)
    assert all("global_step" in row for row in run.history), "rows of its own TensorBoard sync only"
    assert any("Episode/rew_reach" in row for row in run.history)
    assert not run.of_type("metric"), "no axis defined on the user's run"
    assert run.artifacts and os.listdir(os.path.join(exp_dir, "nn"))


def write_clip(path):
    """A short .mp4, as gymnasium's ``RecordVideo`` leaves in Isaac Lab's ``videos/train`` with ``--video``."""
    import imageio.v2 as imageio

    frames = [np.full((32, 32, 3), 8 * i, dtype=np.uint8) for i in range(8)]
    imageio.mimwrite(path, frames, fps=10, macro_block_size=1)


@pytest.mark.slow
@needs_rl_games_16
def test_isaaclab_rl_games_train_py_with_its_videos(tmp_path):
    agent_yaml = tmp_path / "rl_games_ppo_cfg.yaml"
    agent_yaml.write_text(entry_points.ISAACLAB_AGENT)
    exp_dir = entry_points.isaaclab_train(str(agent_yaml), write_video=write_clip)
    assert exp_dir.startswith(str(tmp_path / "logs" / "rl_games" / "tiny_point"))
    run, tb = read_back(exp_dir)
    assert run.exit_code == 0
    assert {"Episode/rew_reach", "consecutive_successes/frame"} <= set(tb), "rl_games' IsaacAlgoObserver wrote"
    assert_mirrored(tb, run.history)
    assert_checkpoints_logged(run, os.path.join(exp_dir, "nn"))
    clips = sorted(os.listdir(os.path.join(exp_dir, "videos", "train")))
    logged = [row for row in run.history if "videos/train.path" in row]
    assert clips and len(logged) == len(clips), (clips, logged)


@pytest.mark.slow
@pytest.mark.skipif(RL_GAMES == "1.1.4", reason="the built-in runner is written for this rl-games")
def test_built_in_runner_names_the_rl_games_it_needs():
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "run.py"), "--max_iterations", "1"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith(
        "run.py: error: the built-in runner needs rl-games 1.1.4"), proc.stderr
    assert RL_GAMES in proc.stderr and 'pip install -e ".[builtin]"' in proc.stderr
