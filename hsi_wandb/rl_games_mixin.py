"""rl_games adapter: a mixin that mirrors an agent's writer and checkpoints to W&B, and a one-call Runner hook.

Example (an ASE/TokenHSI ``run.py``)::

    from hsi_wandb.rl_games_mixin import apply_to_runner

    runner = build_alg_runner(algo_observer)
    apply_to_runner(runner, cfg_train, source=args.cfg_train, extra_config={"env": cfg})
    runner.load(cfg_train)
    runner.run(vargs)
"""
import os
from typing import Any, Dict, List, Mapping, Optional

import numpy

from .artifacts import CheckpointLogger, checkpoint_path, unshare
from .config import WandbSettings
from .evaluation import CHECKPOINT_KEY, trained_run_id
from .interrupts import Terminated, exit_code_of, sigterm_as_interrupt
from .lifecycle import NullRun, load_run_record, prepare_start, save_run_record, say, start_run
from .mixing import Mixin, mix_into
from .model_stats import GradNormTracker, gpu_memory, histogram_data
from .rl_games_options import WandbOptions, configure, default_options, make_options
from .rl_games_player import attach_player
from .rl_games_runner import attach_to_builders
from .run_folder import claim_run_folder, holder
from .run_names import generated_run_name
from .sinks import JsonlBackup, ProgressBar, RowFanout
from .videos import VideoWatcher
from .writer import WandbWriter

__all__ = ["WandbMixin", "WandbOptions", "apply_to_runner", "attach", "configure", "make_options"]

_EPOCH_STEPS = 2
"""W&B steps the epoch in progress at a save may still take (its row, its histograms): a run resumed from the
checkpoint elsewhere starts after them."""


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
        """Hold ``options`` and the state of a run not started yet (``train()`` starts it)."""
        self._wandb_options = options
        self._wandb_run: Any = NullRun()
        self._wandb_writer: Optional[WandbWriter] = None
        self._wandb_sinks: Optional[RowFanout] = None
        self._wandb_checkpoints: Optional[CheckpointLogger] = None
        self._wandb_grad_norms: Optional[GradNormTracker] = None
        self._wandb_resumed: Dict[str, Any] = {}
        self._wandb_restored_frame: Optional[int] = None
        self._wandb_save_reason: Optional[str] = None
        self._wandb_best_reward: Any = None
        self._wandb_dir: Optional[str] = None
        self._wandb_claim: Any = None

    def set_full_state_weights(self, weights: Dict[str, Any], *args: Any, **kwargs: Any) -> None:
        """Restore as rl_games does and remember which W&B run the checkpoint belongs to, its step and clock."""
        self._wandb_next().set_full_state_weights(weights, *args, **kwargs)
        trained = weights.get(CHECKPOINT_KEY) or {}
        self._wandb_restored_frame = int(weights.get("frame", 0) or 0)
        self._wandb_resumed = dict({key: trained.get(key) for key in ("name", "group", "last_step", "wall_time")},
                                   run_id=trained_run_id(weights))

    def train(self) -> Any:
        """Train with the W&B run open; it is finished however training ends.

        Ctrl-C or SIGTERM (cluster preemption) first saves an interrupt checkpoint, logged with reason
        ``interrupt``; the run is then finished and the interruption propagates: on SIGTERM the handler installed
        before ours runs, then the process exits with 143.
        """
        with sigterm_as_interrupt():
            try:
                self._wandb_start()
                result = self._wandb_next().train()
            except BaseException as exc:
                saved = self._wandb_save_interrupt() if isinstance(exc, KeyboardInterrupt) else None
                self._wandb_end(exit_code_of(exc), final=False)
                if saved:
                    say("interrupted; continue training with --checkpoint {} --resume 1".format(saved))
                if isinstance(exc, Terminated):
                    exc.hand_on()
                raise
        self._wandb_end(0, final=True)
        return result

    def _wandb_start(self) -> None:
        """Open the W&B run (the checkpoint's when resuming) and wrap the writer; a rank without one logs nothing."""
        if getattr(self, "writer", None) is None:
            return
        options = self._wandb_options
        section = options.settings.wandb
        self._wandb_best_reward = getattr(self, "last_mean_rewards", None)
        experiment_dir = self._wandb_experiment_dir()
        run_dir = self._wandb_claim_folder(experiment_dir)
        previous = self._wandb_previous_run(run_dir)
        name = previous.get("name") or section.name or generated_run_name(options.config, options.task)
        run = start_run(options.settings, run_dir, options.config, name=name, job_type="train",
                        group=previous.get("group") or name, previous=previous or None)
        self._wandb_run = run
        save_run_record(run_dir, run)
        if previous and run.run_id:
            self._wandb_say_resumed(previous, run_dir)
        run.attach_files(options.files, code=options.code if section.save_code else None)
        sinks: List[Any] = [JsonlBackup(os.path.join(run_dir, "metrics.jsonl"))]
        if run.mirrors_scalars:
            sinks.append(run)
        if section.videos and not isinstance(run, NullRun):
            sinks.append(VideoWatcher(run, section.videos, experiment_dir))
        if section.progress:
            sinks.append(ProgressBar(getattr(self, "max_epochs", None), int(getattr(self, "epoch_num", 0))))
        self._wandb_sinks = RowFanout(sinks)
        self._wandb_writer = WandbWriter(self.writer, self._wandb_sinks, self._wandb_resumed.get("wall_time") or 0.0,
                                         epoch_source=lambda: getattr(self, "epoch_num", 0))
        self._wandb_rewire(self.writer, self._wandb_writer)
        self.writer = self._wandb_writer
        if getattr(self, "model", None) is not None and getattr(self, "optimizer", None) is not None:
            self._wandb_grad_norms = GradNormTracker(self.optimizer, getattr(self, "scaler", None))
        if not isinstance(run, NullRun):
            self._wandb_checkpoints = CheckpointLogger(run, section.checkpoints)

    def _wandb_claim_folder(self, experiment_dir: str) -> str:
        """Claim the folder this run's own files go to: ``experiment_dir``, or a subfolder of its own when another
        live run already writes there (both started in the same second); say so then."""
        self._wandb_dir, self._wandb_claim, shared = claim_run_folder(experiment_dir)
        if shared:
            say("another live run (process {}) writes to {}: this run's W&B run, metrics.jsonl and wandb_run.json go "
                "to {}; its checkpoints and TensorBoard files still share the folder (give runs started together "
                "distinct experiment names)".format(holder(experiment_dir), experiment_dir, self._wandb_dir))
        return self._wandb_dir

    def _wandb_previous_run(self, experiment_dir: str) -> Dict[str, Any]:
        """The run to continue when the agent was restored from a checkpoint of a W&B run: its record in
        ``experiment_dir``, else what the checkpoint holds (a checkpoint copied out of its experiment)."""
        resumed = self._wandb_resumed
        if not resumed.get("run_id"):
            return {}
        record = load_run_record(experiment_dir)
        if record.get("run_id") == resumed["run_id"]:
            return record
        return {key: value for key, value in resumed.items() if key != "wall_time" and value is not None}

    def _wandb_say_resumed(self, previous: Mapping[str, Any], experiment_dir: str) -> None:
        """Say which run resumes at which frame, and what becomes of the rows it already has."""
        frame, last = int(getattr(self, "frame", 0)), previous.get("last_frame")
        message = "resuming W&B run {} at frame {} (epoch {})".format(
            previous["run_id"], frame, getattr(self, "epoch_num", 0))
        if self._wandb_options.scratch:
            say("dry run: " + message + " in a scratch folder, offline, deleted afterwards: the run and its experiment "
                "folder are left untouched")
            return
        if "sync_dirs" not in previous:
            message += (" in {}, a new experiment folder (the checkpoint is not in the run's own experiment folder); "
                        "its steps continue after step {} of the checkpoint".format(
                            experiment_dir, previous.get("last_step")))
        if last is not None and frame <= last:
            message += ("; it already has rows up to frame {}: the rows from frame {} on are logged again after "
                        "them and W&B keeps both (plot against frame; nothing is dropped)".format(last, frame))
        say(message)

    def update_epoch(self) -> int:
        """Start a new epoch: close the previous epoch's row (with its model statistics) and send it."""
        if self._wandb_writer is not None:
            self._wandb_close_row()
        epoch = self._wandb_next().update_epoch()
        if self._wandb_writer is not None:
            self._wandb_writer.begin_epoch(epoch)
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

    def _wandb_close_row(self) -> None:
        """Send the epoch's row with norms and GPU memory, then (every ``histogram_freq``) histograms at its frame."""
        writer, epoch = self._wandb_writer, int(getattr(self, "epoch_num", 0))
        if writer is None:
            return
        if self._wandb_grad_norms is None or not writer.pending:
            writer.flush_row()
            return
        writer.add_row_values(self._wandb_grad_norms.epoch_values())
        writer.add_row_values(gpu_memory(getattr(self, "ppo_device", "cpu")))
        frame = writer.row_frame
        writer.flush_row()
        section = self._wandb_options.settings.wandb
        if section.histograms != "none" and epoch % section.histogram_freq == 0:
            self._wandb_run.log_histograms(frame, epoch, histogram_data(self.model, section.histograms))

    def save(self, fn: str) -> None:
        """Save as rl_games does, then hand the file to the checkpoint logger (a dry run writes nothing)."""
        if self._wandb_options.dry_run:
            print("hsi_wandb: dry run, checkpoint {} not written".format(os.path.basename(checkpoint_path(fn))))
            return
        unshare(fn + ".pth")
        unshare(fn)
        self._wandb_next().save(fn)
        if self._wandb_checkpoints is not None:
            path = checkpoint_path(fn)
            rolling = os.path.basename(path) == "{}.pth".format(getattr(self, "config", {}).get("name"))
            self._wandb_checkpoints.add(path, dict(self._wandb_checkpoint_metadata(), rolling=rolling))

    def _wandb_checkpoint_metadata(self) -> Dict[str, Any]:
        """Epoch, frame, row frame, mean reward, and why it saved: interrupt, best, save_frequency or save.

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
        metadata: Dict[str, Any] = {"epoch": epoch, "frame": frame, "row_frame": self._wandb_row_frame(),
                                    "reason": reason}
        rewards = getattr(self, "game_rewards", None)
        if rewards is not None and getattr(rewards, "current_size", 0) > 0:
            metadata["mean_reward"] = float(numpy.asarray(rewards.get_mean()).reshape(-1)[0])
        return metadata

    def get_full_state_weights(self) -> Dict[str, Any]:
        """rl_games' checkpoint state plus the W&B run that trained it (identity, the frame of this epoch's row, its
        last step and wall time), so resuming continues that run, its steps and its clock, and an evaluation of
        it, wherever the file is copied, joins its group at its epoch's row."""
        state = self._wandb_next().get_full_state_weights()
        run, writer = self._wandb_run, self._wandb_writer
        trained: Dict[str, Any] = {}
        if run.run_id:
            trained.update(run.identity(), row_frame=self._wandb_row_frame())
        if run.last_step is not None and writer is not None:
            trained["last_step"] = run.last_step + _EPOCH_STEPS
        if writer is not None:
            trained["wall_time"] = writer.wall_time
        if trained:
            state[CHECKPOINT_KEY] = trained
        return state

    def _wandb_save_interrupt(self) -> Optional[str]:
        """Save ``<name>_interrupt.pth`` where rl_games keeps checkpoints, so training can resume from it; returns
        the file written, if any.

        It is labelled with the last epoch whose update finished: rl_games counts an epoch from its start, so an
        interruption before the epoch wrote its scalars holds the weights (and frames) of the epoch before, and a
        resume from it trains the interrupted epoch again under its own number. Before the first epoch finished
        there is nothing to keep: no checkpoint."""
        writer = self._wandb_writer
        if getattr(self, "writer", None) is None or writer is None:
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

    def _wandb_end(self, exit_code: int, final: bool) -> None:
        """Send the last row, give the agent its own writer back, log the held checkpoint and finish the run."""
        flush = getattr(getattr(self, "writer", None), "flush", None)
        if flush is not None:
            flush()
        if self._wandb_writer is not None:
            self._wandb_close_row()
            self._wandb_rewire(self._wandb_writer, self._wandb_writer.wrapped)
            self.writer = self._wandb_writer.wrapped
            self._wandb_writer = None
        if self._wandb_grad_norms is not None:
            self._wandb_grad_norms.close()
            self._wandb_grad_norms = None
        if self._wandb_sinks is not None:
            self._wandb_sinks.close()
            self._wandb_sinks = None
        if self._wandb_checkpoints is not None:
            self._wandb_checkpoints.close(final=final and exit_code == 0)
            self._wandb_checkpoints = None
        run = self._wandb_run
        run.finish(exit_code, sync_hint=not self._wandb_options.scratch)
        if not isinstance(run, NullRun):
            save_run_record(self._wandb_dir or self._wandb_experiment_dir(), run)
        self._wandb_run = NullRun()
        if self._wandb_claim is not None:
            self._wandb_claim.release()
            self._wandb_claim = None

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

    def _wandb_row_frame(self) -> int:
        """The frame the current epoch's row sits at (rl_games writes an epoch's scalars before adding its frames)."""
        writer, frame = self._wandb_writer, int(getattr(self, "frame", 0))
        return writer.row_frame if writer is not None and writer.pending else frame


WandbMixin._wandb_owner = WandbMixin


def attach(agent: Any, options: WandbOptions) -> Any:
    """Give an already built agent the mixin (its class becomes ``Wandb<Class>``) with ``options``."""
    mix_into(agent, WandbMixin)._wandb_attach(options)
    return agent


def apply_to_runner(runner: Any, train_cfg: Mapping[str, Any], source: str = "<config>", **kwargs: Any) -> WandbSettings:
    """Mirror every algorithm and player registered in an rl_games ``Runner`` to W&B; call after registering yours.

    Agents mirror their training; players that evaluate (TokenHSI's ``run_eval``) log their results to an eval run.
    Validates the config now (ConfigError names file, key and allowed values) and returns the resolved settings.
    Keyword arguments are those of :func:`make_options` (``extra_config``, ``task``, ``overrides``, ``files``,
    ``dry_run``, ``scratch``).
    """
    options = make_options(train_cfg, source, **kwargs)
    attach_to_builders(runner, attach, attach_player, options)
    prepare_start(options.settings)
    return options.settings
