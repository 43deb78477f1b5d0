"""Success-rate evaluation of a reach-and-hold policy over batched trials (TokenHSI's sit/reach evaluation, pure numbers)."""

import torch


def _run_trials(player, num_trials):
    """Run first episodes of all envs until num_trials finished; returns success, precision, terminate (bool/float tensors)."""
    env = player.env
    success, precision, terminate = [], [], []
    collected = 0
    while collected < num_trials:
        obs = env.reset()
        pending = torch.ones(env.num_envs, dtype=torch.bool, device=env.device)
        while pending.any():
            obs, _, done, extras = env.step(player.act(obs))
            finished = done & pending
            success.append(extras['success'][finished])
            precision.append(extras['precision'][finished])
            terminate.append(extras['terminate'][finished])
            pending &= ~done
        collected += env.num_envs
    return (torch.cat(success)[:num_trials], torch.cat(precision)[:num_trials], torch.cat(terminate)[:num_trials])


def evaluate(player, num_trials, num_repeats=1, exp_names=None, seed=0):
    """Per experiment name, a dict of success_rate, success_precision, num_trials, success_trials, fail_trials, fail_trials_terminate.

    One experiment per repeat (names default to ``exp{i}``), each seeded with seed + i; the player acts
    deterministically on its own batched task, whose step extras must carry success / precision / terminate.
    """
    names = list(exp_names) if exp_names else ['exp{}'.format(i) for i in range(num_repeats)]
    results = {}
    for i, name in enumerate(names):
        torch.manual_seed(seed + i)
        success, precision, terminate = _run_trials(player, int(num_trials))
        num_success = int(success.sum().item())
        results[name] = {
            'success_rate': num_success / success.numel(),
            'success_precision': float(precision[success].mean().item()) if num_success else float('nan'),
            'num_trials': int(success.numel()),
            'success_trials': num_success,
            'fail_trials': int((~success).sum().item()),
            'fail_trials_terminate': int((~success & terminate).sum().item()),
        }
    return results
