"""rl_games adapter: the name a training run gets when its ``wandb:`` section sets none and it resumes no named run."""
import secrets
import time
from typing import Any, Mapping, Optional


def generated_run_name(config: Mapping[str, Any], task: Optional[str]) -> str:
    """A readable, unique run name: task, then the rl_games ``params.config`` name and learning rate, then the time."""
    algo_cfg = config.get("params", {}).get("config", {}) if isinstance(config.get("params"), Mapping) else {}
    parts = [task] + ([algo_cfg.get("name")] if algo_cfg.get("name") != task else [])
    if algo_cfg.get("learning_rate") is not None:
        parts.append("lr{:g}".format(float(algo_cfg["learning_rate"])))
    parts += [time.strftime("%Y%m%d-%H%M%S"), secrets.token_hex(2)]
    return "-".join(str(p) for p in parts if p)
