"""Built-in point-mass tasks: batched stepping, resets, extras, AMP observations and demonstration motions."""

import os
import sys

import numpy as np
import pytest
import torch

from hsi_wandb.builtin import motions
from hsi_wandb.builtin.inputs import PROJECT_ROOT
from hsi_wandb.builtin.registry import create_task, load_task_configs

TASK_NAMES = ['PointMassTraj', 'PointMassReach', 'PointMassMultiTask']


def make_task(name, num_envs=64, episode_length=20):
    """A small instance of a built-in task with its shipped env config."""
    cfg_env, _ = load_task_configs(name)
    cfg_env['env']['numEnvs'] = num_envs
    cfg_env['env']['episodeLength'] = episode_length
    return create_task(name, cfg_env, 'cpu', seed=0)


@pytest.mark.parametrize('name', TASK_NAMES)
def test_batched_step_shapes_and_extras(name):
    env = make_task(name)
    obs = env.reset()
    assert obs.shape == (64, env.num_obs) == (64,) + env.observation_space.shape
    actions = torch.rand(64, 2) * 2 - 1
    obs, rew, done, extras = env.step(actions)
    assert obs.shape == (64, env.num_obs) and rew.shape == (64,) and done.shape == (64,)
    assert done.dtype == torch.bool
    assert extras['amp_obs'].shape == (64,) + env.amp_observation_space.shape
    assert extras['terminate'].shape == (64,) and extras['time_outs'].shape == (64,)
    assert set(extras['task_episode_rewards']) == set(env.task_names)
    assert torch.isfinite(obs).all() and torch.isfinite(rew).all()


@pytest.mark.parametrize('name', TASK_NAMES)
def test_timeout_resets_every_env(name):
    env = make_task(name, episode_length=5)
    env.reset()
    dones = torch.zeros(64, dtype=torch.bool)
    for _ in range(5):
        _, _, done, extras = env.step(torch.zeros(64, 2))
        dones |= done
    assert dones.all()
    assert (env.progress_buf <= 5).all()
    finished = sum(v.numel() for v in extras['task_episode_rewards'].values())
    assert finished == int(done.sum())


def test_reach_extras_and_success_with_a_controller():
    env = make_task('PointMassReach', num_envs=128, episode_length=200)
    obs = env.reset()
    successes = []
    for _ in range(200):
        rel, vel = obs[:, 2:4], obs[:, :2]
        obs, _, done, extras = env.step((3.0 * rel - 2.0 * vel) / 4.0)
        assert extras['success'].dtype == torch.bool and extras['precision'].shape == (128,)
        successes.append(extras['success'][done])
    success = torch.cat(successes)
    assert success.numel() == 128 and success.float().mean() > 0.9


def test_reach_terminates_outside_arena():
    env = make_task('PointMassReach', num_envs=16, episode_length=1000)
    env.reset()
    terminated = torch.zeros(16, dtype=torch.bool)
    for _ in range(200):
        _, _, done, extras = env.step(torch.ones(16, 2))
        terminated |= extras['terminate'] & done
    assert terminated.all()


def test_multi_task_one_hot_matches_task_ids():
    env = make_task('PointMassMultiTask', num_envs=256)
    obs = env.reset()
    one_hot = obs[:, -len(env.task_names):]
    assert torch.equal(one_hot.argmax(-1), env.task_ids)
    assert set(env.task_ids.tolist()) == {0, 1, 2}


def python_calls(fn):
    """How many Python and C function calls ``fn()`` makes (``sys.setprofile``'s call events)."""
    calls = []
    sys.setprofile(lambda frame, event, arg: calls.append(event) if event in ("call", "c_call") else None)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return len(calls)


def test_step_has_no_per_env_python_loop():
    """Stepping 64x more envs makes no more Python calls: the work is in batched tensor operations. Episodes end at
    the same steps for every count (the episode length), so both take the same branches."""
    counts = []
    for n in (64, 4096):
        env = make_task('PointMassMultiTask', num_envs=n)
        env.reset()
        counts.append(python_calls(lambda: [env.step(torch.zeros(n, 2)) for _ in range(30)]))
    assert counts[1] < 1.5 * counts[0], counts


def test_demo_obs_match_amp_space():
    env = make_task('PointMassTraj')
    demo = env.fetch_amp_obs_demo(100)
    assert demo.shape == (100,) + env.amp_observation_space.shape
    assert torch.isfinite(demo).all()


def test_shipped_motion_file_regenerates_deterministically(tmp_path):
    out = str(tmp_path / 'clips.npz')
    motions.main([out])
    shipped = np.load(os.path.join(PROJECT_ROOT, 'cfg', 'motions', 'point_mass_reference.npz'))
    regenerated = np.load(out)
    np.testing.assert_allclose(shipped['vel'], regenerated['vel'], atol=1e-6)
    np.testing.assert_allclose(shipped['pos'], regenerated['pos'], atol=1e-5)


def test_motion_library_from_controller_is_seeded():
    env_cfg = {'motion_controller': {'num_clips': 4, 'num_frames': 50, 'seed': 3}}
    a = motions.MotionLibrary.from_config(env_cfg, 1.0 / 30.0, 'cpu')
    b = motions.MotionLibrary.from_config(env_cfg, 1.0 / 30.0, 'cpu')
    assert torch.equal(a.vel, b.vel) and a.vel.shape == (4, 50, 2)
