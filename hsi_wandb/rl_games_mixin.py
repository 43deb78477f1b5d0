"""The import path the README showed before the adapter became ``hsi_wandb.adapter``, kept for users' ``run.py``
files: ``from hsi_wandb.rl_games_mixin import apply_to_runner`` gives the same objects."""
from .adapter import WandbMixin, WandbOptions, apply_to_runner, attach, configure, make_options

__all__ = ["WandbMixin", "WandbOptions", "apply_to_runner", "attach", "configure", "make_options"]
