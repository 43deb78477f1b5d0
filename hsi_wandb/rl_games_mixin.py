"""rl_games adapter: a mixin that mirrors an agent's writer and checkpoints to W&B, and a one-call Runner hook.

Example (an ASE/TokenHSI ``run.py``)::

    from hsi_wandb.rl_games_mixin import apply_to_runner

    runner = build_alg_runner(algo_observer)
    apply_to_runner(runner, cfg_train, source=args.cfg_train, extra_config={"env": cfg})
    runner.load(cfg_train)
    runner.run(vargs)
"""
import os
import time
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional

from .artifacts import CheckpointLogger, checkpoint_path
from .config import WandbSettings, resolve_settings
from .lifecycle import NullRun, save_run_record, start_run
from .writer import WandbWriter


@dataclass
class WandbOptions:
    """What an agent needs to start its W&B run: resolved settings and the config to log."""

    settings: WandbSettings
    config: Dict[str, Any] = field(default_factory=dict)
    """Logged as the W&B run config: the whole training YAML plus ``extra_config``."""
    task: Optional[str] = None
    """Task name, used in generated run names."""


def make_options(train_cfg: Mapping[str, Any], source: str = "<config>",
                 extra_config: Optional[Mapping[str, Any]] = None, task: Optional[str] = None) -> WandbOptions:
    """Validate a training config's W&B switches (raising ConfigError before training) and bundle the run config."""
    config = dict(train_cfg)
    config.update(extra_config or {})
    return WandbOptions(resolve_settings(train_cfg, source), config, task)


_default_options: Optional[WandbOptions] = None


def configure(train_cfg: Mapping[str, Any], source: str = "<config>",
              extra_config: Optional[Mapping[str, Any]] = None, task: Optional[str] = None) -> WandbOptions:
    """Set the options that agents built from a ``WandbMixin`` subclass use; returns them."""
    global _default_options
    _default_options = make_options(train_cfg, source, extra_config, task)
    return _default_options


def generated_run_name(config: Mapping[str, Any], task: Optional[str]) -> str:
    """A readable, unique run name: task, config name, learning rate and a timestamp."""
    algo_cfg = config.get("params", {}).get("config", {}) if isinstance(config.get("params"), Mapping) else {}
    parts = [task, algo_cfg.get("name")]
    if algo_cfg.get("learning_rate") is not None:
        parts.append("lr{:g}".format(float(algo_cfg["learning_rate"])))
    parts.append(time.strftime("%Y%m%d-%H%M%S"))
    return "-".join(str(p) for p in parts if p)


def _exit_code(exc: BaseException) -> int:
    if isinstance(exc, SystemExit):
        return exc.code if isinstance(exc.code, int) else 1
    return 130 if isinstance(exc, KeyboardInterrupt) else 1


class WandbMixin:
    """Mirror an rl_games agent to W&B: ``class MyAgent(WandbMixin, A2CAgent)``, or :func:`apply_to_runner`.

    ``train()`` starts the run (global rank 0 only), wraps ``self.writer`` so every scalar also goes to W&B
    one row per epoch, logs every ``save()`` as a checkpoint artifact, and finishes the run with exit code 0,
    or non-zero when training raises (the exception still propagates).
    """

    _wandb_owner: type

    def __init__(self, *args: Any, **kwargs: Any):
        self._wandb_next().__init__(*args, **kwargs)
        self._wandb_attach(_default_options or make_options({}))

    def _wandb_next(self) -> Any:
        """The agent class's own methods (``super()`` that also works in classes made by :func:`attach`)."""
        return super(self._wandb_owner, self)

    def _wandb_attach(self, options: WandbOptions) -> None:
        self._wandb_options = options
        self._wandb_run: Any = NullRun()
        self._wandb_writer: Optional[WandbWriter] = None
        self._wandb_checkpoints: Optional[CheckpointLogger] = None

    def train(self) -> Any:
        """Train with the W&B run open; it is finished however training ends."""
        self._wandb_start()
        try:
            result = self._wandb_next().train()
        except BaseException as exc:
            self._wandb_end(_exit_code(exc), final=False)
            raise
        self._wandb_end(0, final=True)
        return result

    def update_epoch(self) -> int:
        """Start a new epoch, sending the previous epoch's row."""
        epoch = self._wandb_next().update_epoch()
        if self._wandb_writer is not None:
            self._wandb_writer.begin_epoch(epoch)
        return epoch

    def save(self, fn: str) -> None:
        """Save as rl_games does, then hand the file to the checkpoint logger."""
        checkpoints = self._wandb_checkpoints
        if checkpoints is not None:
            checkpoints.before_save(fn + ".pth")
            checkpoints.before_save(fn)
        self._wandb_next().save(fn)
        if checkpoints is not None:
            checkpoints.add(checkpoint_path(fn), self._wandb_checkpoint_metadata())

    def _wandb_start(self) -> None:
        if getattr(self, "writer", None) is None:
            return
        options = self._wandb_options
        name = options.settings.wandb.name or generated_run_name(options.config, options.task)
        experiment_dir = self._wandb_experiment_dir()
        run = start_run(options.settings, experiment_dir, options.config, name=name, job_type="train", group=name)
        self._wandb_run = run
        if isinstance(run, NullRun):
            return
        save_run_record(experiment_dir, run)
        if run.mirrors_scalars:
            self._wandb_writer = WandbWriter(self.writer, run)
            self._wandb_rewire(self.writer, self._wandb_writer)
            self.writer = self._wandb_writer
        self._wandb_checkpoints = CheckpointLogger(run, options.settings.wandb.checkpoints)

    def _wandb_end(self, exit_code: int, final: bool) -> None:
        flush = getattr(getattr(self, "writer", None), "flush", None)
        if flush is not None:
            flush()
        if self._wandb_writer is not None:
            self._wandb_writer.flush_row()
            self._wandb_rewire(self._wandb_writer, self._wandb_writer.wrapped)
            self.writer = self._wandb_writer.wrapped
            self._wandb_writer = None
        if self._wandb_checkpoints is not None:
            self._wandb_checkpoints.close(final=final and exit_code == 0)
            self._wandb_checkpoints = None
        self._wandb_run.finish(exit_code)
        self._wandb_run = NullRun()

    def _wandb_rewire(self, old: Any, new: Any) -> None:
        """Point the observers that copied ``self.writer`` at init time to ``new``."""
        observer = getattr(self, "algo_observer", None)
        holders = [observer, getattr(self, "self_play_manager", None)]
        holders += list(getattr(observer, "algo_observers", None) or [])
        for holder in holders:
            if holder is not None and getattr(holder, "writer", None) is old:
                holder.writer = new

    def _wandb_experiment_dir(self) -> str:
        for attr in ("experiment_dir", "network_path"):
            path = getattr(self, attr, None)
            if path:
                return str(path)
        return os.getcwd()

    def _wandb_checkpoint_metadata(self) -> Dict[str, Any]:
        epoch, frame = int(getattr(self, "epoch_num", 0)), int(getattr(self, "frame", 0))
        max_epochs = getattr(self, "max_epochs", -1) or -1
        max_frames = getattr(self, "max_frames", -1) or -1
        save_freq = getattr(self, "save_freq", 0) or 0
        if (0 < max_epochs <= epoch) or (0 < max_frames <= frame):
            reason = "final"
        elif save_freq > 0 and epoch % save_freq == 0:
            reason = "save_frequency"
        else:
            reason = "best"
        metadata: Dict[str, Any] = {"epoch": epoch, "frame": frame, "reason": reason}
        rewards = getattr(self, "game_rewards", None)
        if rewards is not None and getattr(rewards, "current_size", 0) > 0:
            metadata["mean_reward"] = float(rewards.get_mean()[0])
        return metadata


WandbMixin._wandb_owner = WandbMixin
_MIXED: Dict[type, type] = {}
_MIXIN_METHODS = {k: v for k, v in vars(WandbMixin).items() if callable(v) and k != "__init__"}


def _mixed_class(cls: type) -> type:
    """``Wandb<Class>``: the agent class as its only base (so ``__class__`` can be swapped) plus the mixin."""
    if cls not in _MIXED:
        mixed = type("Wandb" + cls.__name__, (cls,), dict(_MIXIN_METHODS, __module__=cls.__module__))
        mixed._wandb_owner = mixed
        _MIXED[cls] = mixed
    return _MIXED[cls]


def attach(agent: Any, options: WandbOptions) -> Any:
    """Give an already built agent the mixin (its class becomes ``Wandb<Class>``) with ``options``."""
    if not hasattr(agent, "_wandb_owner"):
        agent.__class__ = _mixed_class(type(agent))
    agent._wandb_attach(options)
    return agent


def apply_to_runner(runner: Any, train_cfg: Mapping[str, Any], source: str = "<config>",
                    extra_config: Optional[Mapping[str, Any]] = None, task: Optional[str] = None) -> WandbSettings:
    """Mirror every algorithm registered in an rl_games ``Runner`` to W&B; call after registering your own.

    Validates the config now (ConfigError names file, key and allowed values) and returns the resolved settings.
    """
    options = make_options(train_cfg, source, extra_config, task)
    factory = runner.algo_factory
    for name, builder in list(factory._builders.items()):
        factory.register_builder(name, _attaching(builder, options))
    return options.settings


def _attaching(builder: Any, options: WandbOptions) -> Any:
    def build(**kwargs: Any) -> Any:
        return attach(builder(**kwargs), options)

    return build
