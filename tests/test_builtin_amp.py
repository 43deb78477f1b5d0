"""Built-in AMP agent with a real rl_games Runner: TensorBoard tags, checkpoints, resume, evaluation, learning."""

import math
import os
import sys

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from hsi_wandb.builtin import registry, success
from hsi_wandb.adapter import apply_to_runner
from test_sinks import Terminal

FRAME_TAGS = [
    'performance/total_fps', 'performance/step_fps', 'performance/update_time', 'performance/play_time',
    'losses/a_loss', 'losses/c_loss', 'losses/bounds_loss', 'losses/entropy', 'losses/disc_loss',
    'info/epochs', 'info/last_lr', 'info/lr_mul', 'info/clip_frac', 'info/kl', 'info/e_clip',
    'info/disc_agent_acc', 'info/disc_demo_acc', 'info/disc_agent_logit', 'info/disc_demo_logit',
    'info/disc_grad_penalty', 'info/disc_logit_loss', 'info/disc_reward_mean', 'info/disc_reward_std',
    'rewards0/frame', 'episode_lengths/frame',
]
ITER_TAGS = ['rewards0/iter', 'episode_lengths/iter']


def rl_config(tmp_path, task='PointMassTraj', epochs=3, num_envs=256, episode_length=16, **kwargs):
    """A small, fast configuration of a built-in task for a real rl_games Runner."""
    cfg_env, cfg_train = registry.load_task_configs(task)
    cfg_env['env']['episodeLength'] = episode_length
    config = cfg_train['params']['config']
    config.update({'minibatch_size': 1024, 'save_frequency': 2, 'amp_obs_demo_buffer_size': 4096,
                   'amp_replay_buffer_size': 4096, 'amp_minibatch_size': 512})
    return registry.build_rl_config(task, cfg_env, cfg_train, rl_device='cpu', seed=1, num_envs=num_envs,
                                    max_epochs=epochs, train_dir=str(tmp_path), experiment_name='exp', **kwargs)


def train(config, runner=None):
    """Train through Runner.run and return the agent-facing experiment directory."""
    runner = runner or registry.build_runner()
    runner.load(config)
    runner.run({'train': True, 'play': False, 'checkpoint': config['params']['load_path']})
    params = config['params']['config']
    return os.path.join(params['train_dir'], params['full_experiment_name'])


def scalars(exp_dir):
    """All TensorBoard scalars of a run: tag -> [(step, value)]."""
    acc = EventAccumulator(os.path.join(exp_dir, 'summaries'), size_guidance={'scalars': 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()['scalars']}


@pytest.mark.slow
def test_short_run_writes_every_ase_tag(tmp_path):
    exp_dir = train(rl_config(tmp_path, epochs=3))
    tags = scalars(exp_dir)
    missing = [t for t in FRAME_TAGS + ITER_TAGS + ['rewards0/time'] if t not in tags]
    assert not missing
    frames_per_epoch = 256 * 16
    assert [s for s, _ in tags['losses/disc_loss']] == [0, frames_per_epoch, 2 * frames_per_epoch]
    assert [v for _, v in tags['info/epochs']] == [1, 2, 3]
    assert all(s in (1, 2, 3) for s, _ in tags['rewards0/iter'])
    assert all(math.isfinite(v) for values in tags.values() for _, v in values)
    assert not [t for t in tags if t.startswith('rewards/')]
    assert sorted(os.listdir(os.path.join(exp_dir, 'nn'))) == ['PointMassTraj.pth', 'PointMassTraj_00000002.pth']


def screen(text):
    """The lines a terminal shows for ``text``: a carriage return goes back to the start of the line."""
    lines, col = [''], 0
    for char in text:
        if char == '\r':
            col = 0
        elif char == '\n':
            lines.append('')
            col = 0
        else:
            line = lines[-1].ljust(col)
            lines[-1] = line[:col] + char + line[col + 1:]
            col += 1
    return [line.rstrip() for line in lines]


def test_epoch_lines_stand_above_the_progress_bar_in_a_terminal(tmp_path, monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr(sys, 'stdout', terminal)
    monkeypatch.setattr(sys, 'stderr', terminal)
    runner = registry.build_runner()
    apply_to_runner(runner, {'use_wandb': False})
    train(rl_config(tmp_path, epochs=2), runner)
    shown = screen(terminal.getvalue())
    epoch_lines = [line for line in shown if 'epoch time' in line]
    assert [line.split()[:2] for line in epoch_lines] == [['epoch', '1'], ['epoch', '2']], shown
    assert any(line.startswith('100%|') and '2/2' in line for line in shown), shown


def test_multi_task_writes_per_task_reward_tags(tmp_path):
    tags = scalars(train(rl_config(tmp_path, task='PointMassMultiTask', epochs=2, num_envs=384)))
    for name in ('traj', 'reach', 'heading'):
        for axis in ('frame', 'iter', 'time'):
            assert 'reward_{}/{}'.format(name, axis) in tags


def test_checkpoint_contents_and_resume(tmp_path):
    exp_dir = train(rl_config(tmp_path / 'a', epochs=2))
    ckpt = os.path.join(exp_dir, 'nn', 'PointMassTraj.pth')
    state = torch.load(ckpt)
    assert state['epoch'] == 2 and state['frame'] == 2 * 256 * 16
    assert 'discriminator' in state and 'amp_input_mean_std' in state and 'model' in state

    resumed_dir = train(rl_config(tmp_path / 'b', epochs=4, checkpoint=ckpt))
    resumed = torch.load(os.path.join(resumed_dir, 'nn', 'PointMassTraj.pth'))
    assert resumed['epoch'] == 4 and resumed['frame'] == 4 * 256 * 16
    tags = scalars(resumed_dir)
    assert [v for _, v in tags['info/epochs']] == [3, 4]
    assert tags['info/epochs'][0][0] == 2 * 256 * 16


def test_evaluation_numbers_are_consistent(tmp_path):
    exp_dir = train(rl_config(tmp_path, task='PointMassReach', epochs=1))
    runner = registry.build_runner()
    runner.load(rl_config(tmp_path, task='PointMassReach', num_envs=64))
    player = runner.create_player()
    player.restore(os.path.join(exp_dir, 'nn', 'PointMassReach.pth'))
    results = success.evaluate(player, num_trials=100, num_repeats=2)
    assert sorted(results) == ['exp0', 'exp1']
    for res in results.values():
        assert sorted(res) == sorted(success.RESULT_KEYS)
        assert res['num_trials'] == 100
        assert res['success_trials'] + res['fail_trials_total'] == res['num_trials']
        assert res['fail_trials'] + res['fail_trials_because_terminate'] == res['fail_trials_total']
        assert res['success_rate'] == pytest.approx(res['success_trials'] / 100)
        assert res['success_precision'] == 0.0 if res['success_trials'] == 0 else res['success_precision'] < 0.25


@pytest.mark.slow
def test_amp_learns_trajectory_following(tmp_path):
    cfg_env, cfg_train = registry.load_task_configs('PointMassTraj')
    config = registry.build_rl_config('PointMassTraj', cfg_env, cfg_train, rl_device='cpu', seed=1, num_envs=1024,
                                      max_epochs=60, train_dir=str(tmp_path), experiment_name='exp')
    rewards = [v for _, v in scalars(train(config))['rewards0/iter']]
    assert rewards[-1] > 3 * rewards[0] and rewards[-1] > rewards[0] + 50
