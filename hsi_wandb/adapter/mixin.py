"""rl_games adapter: a mixin that mirrors an agent's writer and checkpoints to W&B, and a one-call Runner hook.

Example (an ASE/TokenHSI ``run.py``)::

    from hsi_wandb.adapter import apply_to_runner

    runner = build_alg_runner(algo_observer)
    apply_to_runner(runner, cfg_train, source=args.cfg_train, extra_config={"env": cfg})
    runner.load(cfg_train)
    runner.run(vargs)
"""
import os
from typing import Any, Dict, Mapping, Optional

import numpy

from ..artifacts import unshare
from ..config import WandbSettings
from ..lifecycle import prepare_start, say
from . import tags as rl_games_tags
from .checkpoints import checkpoint_path
from .mixing import Mixin, mix_into
from .options import WandbOptions, configure, default_options, make_options
from .player import attach_player
from .runner import attach_to_builders
from .run_names import generated_run_name
from ..session import TrainingSession
from ..writer import WandbWriter

__all__ = ["WandbMixin", "WandbOptions", "apply_to_runner", "attach", "configure", "make_options"]

class WandbMixin(Mixin):
    """Mirror an rl_games agent to W&B: ``class MyAgent(WandbMixin, A2CAgent)``, or :func:`apply_to_runner`.

    ``train()`` starts the run (global rank 0 only), wraps ``self.writer`` so every scalar also goes to W&B
    one row per epoch, logs every ``save()`` as a checkpoint artifact, and finishes the run with exit code 0,
    or non-zero when training raises (the exception still propagates).

    The methods follow a training run: restored from a checkpoint (when resuming), start, each epoch, each save, end.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        self._wandb_next().__init__(*args, **kwargs)
        self._wandb_attach(default_options())

    def _wandb_attach(self, options: WandbOptions) -> None:
        """Hold ``options`` and the session of a run not started yet (``train()`` starts it)."""
        self._wandb_options = options
        self._wandb_session = TrainingSession(options.settings, options.config, options.files,
                                              options.code, options.scratch, rl_games_tags)
        self._wandb_restored_frame: Optional[int] = None
        self._wandb_save_reason: Optional[str] = None
        self._wandb_best_reward: Any = None

    def set_full_state_weights(self, weights: Dict[str, Any], *args: Any, **kwargs: Any) -> None:
        """Restore as rl_games does and remember which W&B run the checkpoint belongs to, its step and clock."""
        self._wandb_next().set_full_state_weights(weights, *args, **kwargs)
        self._wandb_restored_frame = int(weights.get("frame", 0) or 0)
        self._wandb_session.restore(weights)

    def train(self) -> Any:
        """Train with the W&B run open; it is finished however training ends.

        Ctrl-C or SIGTERM (cluster preemption) first saves an interrupt checkpoint, logged with reason
        ``interrupt``; the run is then finished and the interruption propagates: on SIGTERM the handler installed
        before ours runs, then the process exits with 143.
        """
        session = self._wandb_session
        try:
            with session.running(self._wandb_save_interrupt, "continue training with --checkpoint {} --resume 1"):
                self._wandb_start()
                return self._wandb_next().train()
        finally:
            self._wandb_unwrap()

    def _wandb_start(self) -> None:
        """Start the session with the agent's writer, model and optimizer; observers that copied the writer get
        the mirrored one too."""
        writer = getattr(self, "writer", None)
        if writer is None:
            return
        options = self._wandb_options
        self._wandb_best_reward = getattr(self, "last_mean_rewards", None)
        has_model = getattr(self, "model", None) is not None and getattr(self, "optimizer", None) is not None
        mirrored = self._wandb_session.start(
            writer, self._wandb_experiment_dir(), name=generated_run_name(options.config, options.task),
            epoch=int(getattr(self, "epoch_num", 0)), frame=int(getattr(self, "frame", 0)),
            max_epochs=getattr(self, "max_epochs", None), model=getattr(self, "model", None),
            optimizer=self.optimizer if has_model else None, scaler=getattr(self, "scaler", None),
            device=getattr(self, "ppo_device", "cpu"), epoch_source=lambda: getattr(self, "epoch_num", 0))
        self._wandb_rewire(writer, mirrored)
        self.writer = mirrored

    def _wandb_unwrap(self) -> None:
        """Give the agent (and its observers) its own writer back."""
        writer = getattr(self, "writer", None)
        if isinstance(writer, WandbWriter):
            self._wandb_rewire(writer, writer.wrapped)
            self.writer = writer.wrapped

    def update_epoch(self) -> int:
        """Start a new epoch: send the previous epoch's row (with its model statistics) first, so that what the
        agent's own ``update_epoch`` does (a video it writes) belongs to the new epoch."""
        session = self._wandb_session
        session.end_epoch()
        epoch = self._wandb_next().update_epoch()
        if session.started:
            session.begin_epoch(epoch)
            self._wandb_note_frame_restart()
        return epoch

    def _wandb_note_frame_restart(self) -> None:
        """Say once when the agent counts frames from 0 again after a restore, as ASE/TokenHSI's ``train()`` does."""
        restored, self._wandb_restored_frame = self._wandb_restored_frame, None
        frame = int(getattr(self, "frame", 0))
        if restored is not None and frame < restored:
            say("the agent counts frames from {} again after resuming (its checkpoint was at frame {}; ASE's and "
                "TokenHSI's train() set self.frame = 0) while epochs go on from {}: rows keep the frames it writes "
                "to TensorBoard, so plot this run against epoch".format(frame, restored, self.epoch_num))

    def save(self, fn: str) -> None:
        """Save as rl_games does, then hand the file to the session's checkpoint logger (a dry run writes nothing)."""
        if self._wandb_options.dry_run:
            print("hsi_wandb: dry run, checkpoint {} not written".format(os.path.basename(checkpoint_path(fn))))
            return
        unshare(fn + ".pth")
        unshare(fn)
        self._wandb_next().save(fn)
        if self._wandb_session.started:
            path = checkpoint_path(fn)
            rolling = os.path.basename(path) == "{}.pth".format(getattr(self, "config", {}).get("name"))
            self._wandb_session.checkpoint(path, rolling=rolling, **self._wandb_checkpoint_metadata())

    def _wandb_checkpoint_metadata(self) -> Dict[str, Any]:
        """Epoch, frame, mean reward, and why it saved: interrupt, best, save_frequency or save.

        ``final`` is not guessed from ``max_epochs`` (ASE/TokenHSI train one epoch past it): the checkpoint logger
        gives it to the last save point when training ends normally."""
        epoch, frame = int(getattr(self, "epoch_num", 0)), int(getattr(self, "frame", 0))
        save_freq = getattr(self, "save_freq", 0) or 0
        best_reward = getattr(self, "last_mean_rewards", None)
        if self._wandb_save_reason:
            reason = self._wandb_save_reason
        elif None not in (best_reward, self._wandb_best_reward) and best_reward > self._wandb_best_reward:
            reason = "best"
        elif save_freq > 0 and epoch % save_freq == 0:
            reason = "save_frequency"
        else:
            reason = "save"
        self._wandb_best_reward = best_reward
        metadata: Dict[str, Any] = {"epoch": epoch, "frame": frame, "reason": reason}
        rewards = getattr(self, "game_rewards", None)
        if rewards is not None and getattr(rewards, "current_size", 0) > 0:
            metadata["mean_reward"] = float(numpy.asarray(rewards.get_mean()).reshape(-1)[0])
        return metadata

    def get_full_state_weights(self) -> Dict[str, Any]:
        """rl_games' checkpoint state plus the W&B run that trained it (:meth:`TrainingSession.state`)."""
        state = self._wandb_next().get_full_state_weights()
        state.update(self._wandb_session.state(int(getattr(self, "frame", 0))))
        return state

    def _wandb_save_interrupt(self) -> Optional[str]:
        """Save ``<name>_interrupt.pth`` where rl_games keeps checkpoints, so training can resume from it; returns
        the file written, if any.

        It is labelled with the last epoch whose update finished: rl_games counts an epoch from its start, so an
        interruption before the epoch wrote its scalars holds the weights (and frames) of the epoch before, and a
        resume from it trains the interrupted epoch again under its own number. Before the first epoch finished
        there is nothing to keep: no checkpoint."""
        writer = self._wandb_session.writer
        if writer is None:
            return None
        folder = getattr(self, "nn_dir", None) or getattr(self, "network_path", None) or self._wandb_experiment_dir()
        name = str(getattr(self, "config", {}).get("name", "model"))
        fn = os.path.join(folder, name + "_interrupt")
        started = int(getattr(self, "epoch_num", 0))
        finished = started if writer.pending else started - 1
        if finished < 1:
            return None
        self._wandb_save_reason = "interrupt"
        self.epoch_num = finished
        try:
            self.save(fn)
        except Exception as exc:
            say("could not save the interrupt checkpoint: {}".format(exc))
            return None
        finally:
            self._wandb_save_reason = None
            self.epoch_num = started
        path = checkpoint_path(fn)
        return path if os.path.isfile(path) else None

    def _wandb_rewire(self, old: Any, new: Any) -> None:
        """Point the observers that copied ``self.writer`` at init time to ``new``, however they are composed: an
        observer holding others (anything with ``after_init``) in a list or tuple, as rl_games' ``MultiObserver`` and
        IsaacGymEnvs' (``.observers``) do, is searched too."""
        pending = [getattr(self, "algo_observer", None), getattr(self, "self_play_manager", None)]
        seen = set()
        while pending:
            holder = pending.pop()
            if holder is None or id(holder) in seen or holder is self:
                continue
            seen.add(id(holder))
            if getattr(holder, "writer", None) is old:
                holder.writer = new
            for value in list(getattr(holder, "__dict__", {}).values()):
                if isinstance(value, (list, tuple)):
                    pending.extend(item for item in value if callable(getattr(item, "after_init", None)))

    def _wandb_experiment_dir(self) -> str:
        """Where rl_games writes this experiment (its run record and offline W&B run go there too): its experiment
        folder, else the writer's own folder (rl-games 1.1.4's SAC writes to ``runs/<name>_<time>`` and has none)."""
        writer = getattr(self, "writer", None)
        for path in (getattr(self, "experiment_dir", None), getattr(self, "network_path", None),
                     getattr(writer, "logdir", None), getattr(writer, "log_dir", None)):
            if isinstance(path, str) and path:
                return path
        return os.getcwd()


WandbMixin._wandb_owner = WandbMixin


def attach(agent: Any, options: WandbOptions) -> Any:
    """Give an already built agent the mixin (its class becomes ``Wandb<Class>``) with ``options``."""
    mix_into(agent, WandbMixin)._wandb_attach(options)
    return agent


def apply_to_runner(runner: Any, train_cfg: Mapping[str, Any], source: str = "<config>", **kwargs: Any) -> WandbSettings:
    """Mirror every algorithm and player registered in an rl_games ``Runner`` to W&B; call after registering yours.

    Agents mirror their training; players that evaluate (TokenHSI's ``run_eval``) log their results to an eval run.
    Validates the config now (ConfigError names file, key and allowed values) and returns the resolved settings.
    Keyword arguments are those of :func:`make_options` (``extra_config``, ``task``, ``overrides`` or ``settings``,
    ``files``, ``dry_run``, ``scratch``).
    """
    options = make_options(train_cfg, source, **kwargs)
    attach_to_builders(runner, attach, attach_player, options)
    prepare_start(options.settings)
    return options.settings
