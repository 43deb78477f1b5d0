"""Success-rate evaluation of a built-in task's policy, counted as TokenHSI counts it: each env's first episode."""
from typing import Any, Dict, List, Optional, Sequence

import torch

RESULT_KEYS = ("num_trials", "success_trials", "success_rate", "success_precision", "fail_trials",
               "fail_trials_because_terminate", "fail_trials_total")
"""TokenHSI's result keys; ``fail_trials`` excludes the failures by termination, ``fail_trials_total`` counts both."""


def first_episodes(player: Any, num_trials: int) -> Dict[str, torch.Tensor]:
    """Success, precision, terminate and task id of the first episode of envs 0, 1, ... for ``num_trials`` trials.

    Each round resets every env and waits for the first episode of the envs it counts. Trials are taken in env order,
    never in the order episodes end, so short (failed) episodes are not over-represented when ``num_trials`` is below
    the number of envs; above it, rounds repeat.
    """
    env = player.env
    rounds: List[Dict[str, torch.Tensor]] = []
    remaining = num_trials
    while remaining > 0:
        obs = env.reset()
        count = min(remaining, env.num_envs)
        pending = torch.arange(env.num_envs, device=env.device) < count
        outcome: Dict[str, torch.Tensor] = {}
        while pending.any():
            obs, _, done, extras = env.step(player.act(obs))
            first = done & pending
            for key in ("success", "precision", "terminate", "task_ids"):
                outcome.setdefault(key, torch.zeros_like(extras[key]))[first] = extras[key][first]
            pending &= ~done
        rounds.append({key: value[:count] for key, value in outcome.items()})
        remaining -= count
    return {key: torch.cat([r[key] for r in rounds]) for key in rounds[0]}


def summarize(success: torch.Tensor, precision: torch.Tensor, terminate: torch.Tensor) -> Dict[str, Any]:
    """TokenHSI's result dict for a set of trials; ``success_precision`` is 0 when no trial succeeded (as TokenHSI)."""
    num_trials, num_success = int(success.numel()), int(success.sum().item())
    because_terminate = int((terminate & ~success).sum().item())
    fail = num_trials - num_success - because_terminate
    return {
        "num_trials": num_trials,
        "success_trials": num_success,
        "success_rate": num_success / num_trials if num_trials else 0.0,
        "success_precision": float(precision[success].mean().item()) if num_success else 0.0,
        "fail_trials": fail,
        "fail_trials_because_terminate": because_terminate,
        "fail_trials_total": fail + because_terminate,
    }


def evaluate(player: Any, num_trials: int, num_repeats: int = 1, exp_names: Optional[Sequence[str]] = None,
             seed: int = 0) -> Dict[str, Dict[str, Any]]:
    """``{experiment: results}``, one experiment per repeat (``exp{i}`` unless named), seeded with ``seed + i``.

    A multi-task env is reported per task, as ``{experiment}/{task}``, each env judged by its own task's objective.
    """
    names = list(exp_names) if exp_names else ["exp{}".format(i) for i in range(num_repeats)]
    task_names = list(player.env.task_names)
    results = {}
    for i, name in enumerate(names):
        torch.manual_seed(seed + i)
        trials = first_episodes(player, num_trials)
        if len(task_names) == 1:
            results[name] = summarize(trials["success"], trials["precision"], trials["terminate"])
            continue
        for task_id, task in enumerate(task_names):
            mine = trials["task_ids"] == task_id
            results["{}/{}".format(name, task)] = summarize(trials["success"][mine], trials["precision"][mine],
                                                            trials["terminate"][mine])
    return results
