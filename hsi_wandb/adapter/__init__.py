"""The rl_games adapter: any rl_games agent and player mirrored to W&B through the core's TrainingSession.

``apply_to_runner(runner, cfg_train, source=...)`` after registering your algorithms, or ``class MyAgent(WandbMixin,
A2CAgent)`` with ``configure(cfg_train)``. Modules: ``mixin`` (the agent binding, ``apply_to_runner``), ``options``
(run options and the logged config), ``player`` (evaluations to an eval run), ``runner`` (a Runner's builders),
``mixing`` (a mixin given to a built object), ``run_names``, ``tags`` (rl_games' tag schema), ``checkpoints``
(rl_games' checkpoint naming).
"""
from .mixin import WandbMixin, apply_to_runner, attach
from .options import WandbOptions, configure, make_options

__all__ = ["WandbMixin", "WandbOptions", "apply_to_runner", "attach", "configure", "make_options"]
