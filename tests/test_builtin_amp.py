"""Built-in AMP agent with a real rl_games Runner: TensorBoard tags, checkpoints, resume, evaluation, learning."""

import math
import os
import sys

import pytest
import torch

from conftest import Terminal, builtin_rl_config, tensorboard_scalars, train_builtin
from hsi_wandb.builtin import registry, success
from hsi_wandb.adapter import apply_to_runner

FRAME_TAGS = [
    'performance/total_fps', 'performance/step_fps', 'performance/update_time', 'performance/play_time',
    'losses/a_loss', 'losses/c_loss', 'losses/bounds_loss', 'losses/entropy', 'losses/disc_loss',
    'info/epochs', 'info/last_lr', 'info/lr_mul', 'info/clip_frac', 'info/kl', 'info/e_clip',
    'info/disc_agent_acc', 'info/disc_demo_acc', 'info/disc_agent_logit', 'info/disc_demo_logit',
    'info/disc_grad_penalty', 'info/disc_logit_loss', 'info/disc_reward_mean', 'info/disc_reward_std',
    'rewards0/frame', 'episode_lengths/frame',
]
ITER_TAGS = ['rewards0/iter', 'episode_lengths/iter']


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


@pytest.fixture(scope='module')
def short_run(tmp_path_factory):
    """PointMassTraj trained for 3 epochs (a save point at epoch 2) in a terminal, W&B off: (experiment dir, what
    the terminal shows)."""
    terminal = Terminal()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, 'stdout', terminal)
        patch.setattr(sys, 'stderr', terminal)
        runner = registry.build_runner()
        apply_to_runner(runner, {'use_wandb': False})
        exp_dir = train_builtin(builtin_rl_config(tmp_path_factory.mktemp('short_run'), epochs=3), runner)
    return exp_dir, screen(terminal.getvalue())


@pytest.mark.slow
def test_short_run_writes_every_ase_tag(short_run):
    exp_dir, _ = short_run
    tags = tensorboard_scalars(exp_dir)
    missing = [t for t in FRAME_TAGS + ITER_TAGS + ['rewards0/time'] if t not in tags]
    assert not missing
    frames_per_epoch = 256 * 16
    assert [s for s, _ in tags['losses/disc_loss']] == [0, frames_per_epoch, 2 * frames_per_epoch]
    assert [v for _, v in tags['info/epochs']] == [1, 2, 3]
    assert all(s in (1, 2, 3) for s, _ in tags['rewards0/iter'])
    assert all(math.isfinite(v) for values in tags.values() for _, v in values)
    assert not [t for t in tags if t.startswith('rewards/')]
    assert sorted(os.listdir(os.path.join(exp_dir, 'nn'))) == ['PointMassTraj.pth', 'PointMassTraj_00000002.pth']


@pytest.mark.slow
def test_epoch_lines_stand_above_the_progress_bar_in_a_terminal(short_run):
    _, shown = short_run
    epoch_lines = [line for line in shown if 'epoch time' in line]
    assert [line.split()[:2] for line in epoch_lines] == [['epoch', '1'], ['epoch', '2'], ['epoch', '3']], shown
    assert any(line.startswith('100%|') and '3/3' in line for line in shown), shown


@pytest.mark.slow
def test_checkpoint_contents_and_resume(short_run, tmp_path):
    exp_dir, _ = short_run
    ckpt = os.path.join(exp_dir, 'nn', 'PointMassTraj_00000002.pth')
    state = torch.load(ckpt)
    assert state['epoch'] == 2 and state['frame'] == 2 * 256 * 16
    assert 'discriminator' in state and 'amp_input_mean_std' in state and 'model' in state

    resumed_dir = train_builtin(builtin_rl_config(tmp_path / 'b', epochs=4, checkpoint=ckpt))
    resumed = torch.load(os.path.join(resumed_dir, 'nn', 'PointMassTraj.pth'))
    assert resumed['epoch'] == 4 and resumed['frame'] == 4 * 256 * 16
    tags = tensorboard_scalars(resumed_dir)
    assert [v for _, v in tags['info/epochs']] == [3, 4]
    assert tags['info/epochs'][0][0] == 2 * 256 * 16


@pytest.mark.slow
def test_evaluation_numbers_are_consistent(tmp_path):
    exp_dir = train_builtin(builtin_rl_config(tmp_path, task='PointMassReach', epochs=1))
    runner = registry.build_runner()
    runner.load(builtin_rl_config(tmp_path, task='PointMassReach', num_envs=64))
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
                                      max_epochs=40, train_dir=str(tmp_path), experiment_name='exp')
    rewards = [v for _, v in tensorboard_scalars(train_builtin(config))['rewards0/iter']]
    assert rewards[-1] > 3 * rewards[0] and rewards[-1] > rewards[0] + 50
