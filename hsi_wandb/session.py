"""A training run on W&B that any trainer drives: start, one row per epoch, checkpoints, end.

The package docstring (and the README) shows a plain PyTorch loop driving one.
"""
import os
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from .artifacts import CheckpointLogger
from .config import WandbSettings
from .evaluation import CHECKPOINT_KEY, trained_run_id
from .interrupts import Terminated, exit_code_of, sigterm_as_interrupt
from .lifecycle import NullRun, load_run_record, save_run_record, say, start_run
from .model_stats import GradNormTracker, gpu_memory, histogram_data
from .run_folder import claim_run_folder, holder
from .sinks import JsonlBackup, ProgressBar, RowFanout
from .videos import VideoWatcher
from .writer import PlainTags, WandbWriter

EPOCH_STEPS = 2
"""W&B steps the epoch in progress at a save may still take (its row, its histograms): a run resumed from the
checkpoint elsewhere starts after them."""


class TrainingSession:
    """One training run on W&B (global rank 0 only; every other rank, or W&B off, logs nothing to it).

    :meth:`start` opens the run (the checkpoint's, after :meth:`restore`) in the experiment folder it claims, and
    returns the writer to train with: the trainer's SummaryWriter, mirrored, so every scalar also reaches W&B one row
    per epoch, with a JSONL backup, a progress bar, videos and, given the optimizer, gradient and parameter norms.
    :meth:`begin_epoch` sends the previous epoch's row; :meth:`checkpoint` logs a saved file as a version of a
    ``model`` artifact; :meth:`end` sends the rest and finishes the run. :meth:`running` wraps the training loop:
    it ends the run however the loop ends, saves an interrupt checkpoint on Ctrl-C or SIGTERM, and exits as the
    interruption asks.
    """

    def __init__(self, settings: WandbSettings, config: Optional[Mapping[str, Any]] = None,
                 files: Sequence[str] = (), code: Optional[Tuple[str, str]] = None, scratch: bool = False,
                 tags: Any = PlainTags):
        """``config`` is logged as the run's config, ``files`` attached to it; ``code`` (a folder and what it is)
        is snapshot with ``wandb.save_code``; ``scratch``: the run's folder is deleted afterwards (nothing to sync);
        ``tags``: the trainer's tag schema (see :class:`~hsi_wandb.writer.PlainTags`)."""
        self.settings = settings
        self.tags = tags
        self.config = dict(config or {})
        self.files = list(files)
        self.code = code
        self.scratch = scratch
        self.run: Any = NullRun()
        self.writer: Optional[WandbWriter] = None
        self.run_dir: Optional[str] = None
        self._sinks: Optional[RowFanout] = None
        self._checkpoints: Optional[CheckpointLogger] = None
        self._grad_norms: Optional[GradNormTracker] = None
        self._model: Any = None
        self._device: Any = "cpu"
        self._claim: Any = None
        self._resumed: Dict[str, Any] = {}

    def restore(self, state: Mapping[str, Any]) -> None:
        """Continue, at :meth:`start`, the W&B run that trained the checkpoint ``state`` (what :meth:`state` put in
        it): its run, its steps and its clock."""
        trained = state.get(CHECKPOINT_KEY) or {}
        self._resumed = dict({key: trained.get(key) for key in ("name", "group", "last_step", "wall_time")},
                             run_id=trained_run_id(state))

    def start(self, writer: Any, experiment_dir: str, name: Optional[str] = None, epoch: int = 0, frame: int = 0,
              max_epochs: Optional[int] = None, model: Any = None, optimizer: Any = None, scaler: Any = None,
              device: Any = "cpu", epoch_source: Optional[Callable[[], int]] = None) -> Any:
        """Open the run and return ``writer`` mirrored (``writer`` itself when it is None: a rank that writes no
        TensorBoard logs nothing to W&B either).

        ``experiment_dir`` holds the run record and the offline run; ``name`` when the config gives none; ``epoch``
        and ``frame`` are where training starts (after a restore); ``optimizer`` (with ``scaler``, a GradScaler)
        adds gradient and parameter norms and ``model`` histograms; ``epoch_source`` numbers rows of a trainer that
        never calls :meth:`begin_epoch`.
        """
        if writer is None:
            return None
        section = self.settings.wandb
        run_dir = self._claim_folder(experiment_dir)
        previous = self._previous_run(run_dir)
        name = previous.get("name") or section.name or name
        run = start_run(self.settings, run_dir, self.config, name=name, job_type="train",
                        group=previous.get("group") or name, previous=previous or None)
        self.run = run
        save_run_record(run_dir, run)
        if previous and run.run_id:
            self._say_resumed(previous, run_dir, epoch, frame)
        run.attach_files(self.files, code=self.code if section.save_code else None)
        sinks: List[Any] = [JsonlBackup(os.path.join(run_dir, "metrics.jsonl"))]
        if run.mirrors_scalars:
            sinks.append(run)
        if section.videos and not isinstance(run, NullRun):
            sinks.append(VideoWatcher(run, section.videos, experiment_dir))
        if section.progress:
            sinks.append(ProgressBar(max_epochs, epoch))
        self._sinks = RowFanout(sinks)
        self.writer = WandbWriter(writer, self._sinks, self._resumed.get("wall_time") or 0.0, epoch_source,
                                  self.tags)
        self._model, self._device = model, device
        if optimizer is not None:
            self._grad_norms = GradNormTracker(optimizer, scaler)
        if not isinstance(run, NullRun):
            self._checkpoints = CheckpointLogger(run, section.checkpoints)
        return self.writer

    def _claim_folder(self, experiment_dir: str) -> str:
        """Claim the folder this run's own files go to: ``experiment_dir``, or a subfolder of its own when another
        live run already writes there (both started in the same second); say so then."""
        self.run_dir, self._claim, shared = claim_run_folder(experiment_dir)
        if shared:
            say("another live run (process {}) writes to {}: this run's W&B run, metrics.jsonl and wandb_run.json go "
                "to {}; its checkpoints and TensorBoard files still share the folder (give runs started together "
                "distinct experiment names)".format(holder(experiment_dir), experiment_dir, self.run_dir))
        return self.run_dir

    def _previous_run(self, run_dir: str) -> Dict[str, Any]:
        """The run to continue after :meth:`restore` of a checkpoint of a W&B run: its record in ``run_dir``, else
        what the checkpoint holds (a checkpoint copied out of its experiment)."""
        resumed = self._resumed
        if not resumed.get("run_id"):
            return {}
        record = load_run_record(run_dir)
        if record.get("run_id") == resumed["run_id"]:
            return record
        return {key: value for key, value in resumed.items() if key != "wall_time" and value is not None}

    def _say_resumed(self, previous: Mapping[str, Any], run_dir: str, epoch: int, frame: int) -> None:
        """Say which run resumes at which frame, and what becomes of the rows it already has."""
        last = previous.get("last_frame")
        message = "resuming W&B run {} at frame {} (epoch {})".format(previous["run_id"], frame, epoch)
        if self.scratch:
            say("dry run: " + message + " in a scratch folder, offline, deleted afterwards: the run and its experiment "
                "folder are left untouched")
            return
        if "sync_dirs" not in previous:
            message += (" in {}, a new experiment folder (the checkpoint is not in the run's own experiment folder); "
                        "its steps continue after step {} of the checkpoint".format(run_dir, previous.get("last_step")))
        if last is not None and frame <= last:
            message += ("; it already has rows up to frame {}: the rows from frame {} on are logged again after "
                        "them and W&B keeps both (plot against frame; nothing is dropped)".format(last, frame))
        say(message)

    @property
    def started(self) -> bool:
        """True between :meth:`start` (on a rank that writes) and :meth:`end`."""
        return self.writer is not None

    def begin_epoch(self, epoch: int) -> None:
        """Send the previous epoch's row (see :meth:`end_epoch`) and collect the row of ``epoch``."""
        if self.writer is not None:
            self.end_epoch()
            self.writer.begin_epoch(epoch)

    def end_epoch(self) -> None:
        """Send the epoch's row with its gradient and parameter norms and GPU memory, then (every
        ``histogram_freq`` epochs, with a model) the histograms at its frame."""
        writer = self.writer
        if writer is None:
            return
        if self._grad_norms is None or not writer.pending:
            writer.flush_row()
            return
        writer.add_row_values(self._grad_norms.epoch_values())
        writer.add_row_values(gpu_memory(self._device))
        frame, epoch = writer.row_frame, writer.row_epoch
        writer.flush_row()
        section = self.settings.wandb
        if self._model is not None and section.histograms != "none" and epoch % section.histogram_freq == 0:
            self.run.log_histograms(frame, epoch, histogram_data(self._model, section.histograms))

    def row_frame(self, frame: int) -> int:
        """The frame the current epoch's row sits at: the frame its scalars were written at, or ``frame`` (the
        trainer's count) when none is pending."""
        writer = self.writer
        return writer.row_frame if writer is not None and writer.pending else int(frame)

    def checkpoint(self, path: str, **metadata: Any) -> None:
        """Log the checkpoint file ``path`` (saved already) as a version of the run's ``model`` artifact, with
        ``metadata`` (``epoch`` and ``frame`` at least; ``reason`` is ``save`` unless given, ``row_frame`` the
        current row's); the logger snapshots it and uploads in the background."""
        if self._checkpoints is None:
            return
        metadata.setdefault("reason", "save")
        metadata.setdefault("row_frame", self.row_frame(metadata.get("frame", 0)))
        self._checkpoints.add(path, metadata)

    def state(self, frame: int) -> Dict[str, Any]:
        """What a checkpoint saved now should hold (``{CHECKPOINT_KEY: ...}``, empty without a run): the run that
        trained it, the frame of this epoch's row, its last step and wall time, so resuming continues that run, its
        steps and its clock, and an evaluation of it, wherever the file is copied, joins its group at its epoch's
        row."""
        run, writer = self.run, self.writer
        trained: Dict[str, Any] = {}
        if run.run_id:
            trained.update(run.identity(), row_frame=self.row_frame(frame))
        if run.last_step is not None and writer is not None:
            trained["last_step"] = run.last_step + EPOCH_STEPS
        if writer is not None:
            trained["wall_time"] = writer.wall_time
        return {CHECKPOINT_KEY: trained} if trained else {}

    def end(self, exit_code: int = 0, final: bool = True) -> Any:
        """Send the last row, log the held checkpoint (the last save point is ``final`` when ``final`` and
        ``exit_code`` is 0), finish the run and release the folder; returns the trainer's own writer."""
        writer = self.writer
        if writer is not None:
            flush = getattr(writer, "flush", None)
            if flush is not None:
                flush()
            self.end_epoch()
            self.writer = None
        if self._grad_norms is not None:
            self._grad_norms.close()
            self._grad_norms = None
        if self._sinks is not None:
            self._sinks.close()
            self._sinks = None
        if self._checkpoints is not None:
            self._checkpoints.close(final=final and exit_code == 0)
            self._checkpoints = None
        run, self.run = self.run, NullRun()
        run.finish(exit_code, sync_hint=not self.scratch)
        if not isinstance(run, NullRun):
            save_run_record(self.run_dir, run)
        if self._claim is not None:
            self._claim.release()
            self._claim = None
        return writer.wrapped if writer is not None else None

    @contextmanager
    def running(self, save_interrupt: Optional[Callable[[], Optional[str]]] = None,
                resume_hint: str = "continue training from {}") -> Iterator["TrainingSession"]:
        """Train inside this block: the run is ended however it ends (exit code 0, or that of the exception, which
        propagates). Ctrl-C or SIGTERM (cluster preemption) first calls ``save_interrupt``, which saves a
        checkpoint to resume from and returns its path (or None), named then by ``resume_hint``; on SIGTERM the
        handler installed before ours runs after the run is finished, then the process exits with 143."""
        with sigterm_as_interrupt():
            try:
                yield self
            except BaseException as exc:
                saved = save_interrupt() if save_interrupt is not None and isinstance(exc, KeyboardInterrupt) else None
                self.end(exit_code_of(exc), final=False)
                if saved:
                    say("interrupted; " + resume_hint.format(saved))
                if isinstance(exc, Terminated):
                    exc.hand_on()
                raise
        self.end(0, final=True)
