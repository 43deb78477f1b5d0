"""Evaluation results on W&B: one ``eval`` run in the group of the run that trained the checkpoints, a row at each
checkpoint's epoch, so success rate is a curve against training progress.

Any evaluator that computes ``{experiment: {metric: value}}`` (TokenHSI's ``run_eval`` does) logs it with::

    from hsi_wandb import log_eval

    log_eval(results, checkpoint="output/exp/nn/Task.pth", train_cfg=cfg_train)
    log_eval([(checkpoint, results) for checkpoint, results in evaluated], train_cfg=cfg_train)   # a curve
"""
import glob
import hashlib
import inspect
import json
import os
import re
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from ._wandb import live_run
from .config import WandbSettings, resolve_settings
from .interrupts import exit_code_of
from .lifecycle import NullRun, load_run_record, say, start_run
from .ranks import is_global_rank_zero
from .videos import VideoWatcher

CHECKPOINT_KEY = "wandb_run"
"""The checkpoint entry with the training run's identity (run_id, group, name, project, entity) and row_frame."""
_OLD_ID_KEY = "wandb_run_id"
_RECORD_SEARCH_DEPTH = 4
_GLOB_MAGIC = re.compile(r"[*?[]")
CHECKPOINT_FILES = "*.pth"
"""The files of a folder given as checkpoints."""
PROGRESS_FILE = "wandb_eval_{}.json"
"""Beside the training run's record: the eval run and the checkpoints it has logged, while an evaluation runs."""
Results = Mapping[str, Mapping[str, Any]]


def trained_run_id(state: Mapping[str, Any]) -> Optional[str]:
    """The id of the W&B run that trained a checkpoint's ``state``, if it was trained with hsi_wandb."""
    return (state.get(CHECKPOINT_KEY) or {}).get("run_id") or state.get(_OLD_ID_KEY)


@dataclass
class CheckpointOrigin:
    """Where a checkpoint comes from: its epoch, its frame and the W&B run that trained it."""

    path: str
    epoch: int = 0
    frame: int = 0
    """Frames trained when it was saved (what rl_games stores)."""
    row_frame: Optional[int] = None
    """The frame of its epoch's row on the training run's axis; None for checkpoints saved without hsi_wandb."""
    trained_by: Dict[str, Any] = field(default_factory=dict)
    experiment_dir: Optional[str] = None
    """The folder holding the training run's record, when the checkpoint still sits below it."""

    @property
    def axis_frame(self) -> int:
        """Where rows about this checkpoint go on the frame axis: its epoch's row, else its frame."""
        return self.frame if self.row_frame is None else self.row_frame

    @property
    def model_artifact(self) -> Optional[str]:
        """The model artifact version the training run logged for this checkpoint, as ``name:alias``."""
        run_id = self.trained_by.get("run_id")
        return "model-{}:epoch-{}".format(run_id, self.epoch) if run_id else None

    @property
    def entry(self) -> Dict[str, Any]:
        """What the eval run's config records of it: path, epoch, frame, row frame and model artifact version."""
        return {"path": self.path, "epoch": self.epoch, "frame": self.frame, "row_frame": self.axis_frame,
                "model_artifact": self.model_artifact}

    @property
    def key(self) -> Tuple[str, int, int]:
        """The file and the save point in it: a rolling ``<name>.pth`` saved again later is another checkpoint."""
        return self.path, self.epoch, self.frame


def _record_dir(folder: str, run_id: Optional[str]) -> Optional[str]:
    """The nearest folder at or above ``folder`` whose run record is ``run_id``'s (any record when it is None)."""
    for _ in range(_RECORD_SEARCH_DEPTH):
        record_id = load_run_record(folder).get("run_id")
        if record_id and run_id in (None, record_id):
            return folder
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    return None


_last_loaded: Dict[Tuple[Any, ...], Any] = {}


def load_checkpoint(path: str, map_location: Any = "cpu") -> Any:
    """A checkpoint as rl_games saved it: whole (torch 2.6 and newer load only tensors by default, and rl_games
    saves numpy values too), on every torch from 1.8 (which has no ``weights_only``) on.

    The last one loaded is kept until :func:`forget_loaded` (an eval run's end), as long as its file is unchanged:
    the evaluation that reads its epoch and frame and the player that restores it read the file once. Read it, do
    not change it."""
    import torch

    status = os.stat(path)
    key = (os.path.abspath(path), status.st_mtime_ns, status.st_size, str(map_location))
    if key not in _last_loaded:
        whole = {"weights_only": False} if "weights_only" in inspect.signature(torch.load).parameters else {}
        state = torch.load(path, map_location=map_location, **whole)
        forget_loaded()
        _last_loaded[key] = state
    return _last_loaded[key]


def forget_loaded() -> None:
    """Drop the checkpoint :func:`load_checkpoint` keeps."""
    _last_loaded.clear()


def checkpoint_origin(path: str) -> CheckpointOrigin:
    """Read a checkpoint's epoch, frame and training run: from the file itself, the run record above it as fallback."""
    state = load_checkpoint(path)
    state = state if isinstance(state, Mapping) else {}
    trained_by = dict(state.get(CHECKPOINT_KEY) or {})
    row_frame = trained_by.pop("row_frame", None)
    run_id = trained_run_id(state)
    experiment_dir = _record_dir(os.path.dirname(os.path.abspath(path)), run_id)
    if experiment_dir:
        record = load_run_record(experiment_dir)
        for key in ("run_id", "group", "name", "project", "entity"):
            trained_by.setdefault(key, record.get(key))
    return CheckpointOrigin(os.path.abspath(path), int(state.get("epoch", 0) or 0), int(state.get("frame", 0) or 0),
                            None if row_frame is None else int(row_frame), trained_by, experiment_dir)


class NoCheckpoints(ValueError):
    """A folder or pattern given as checkpoints that names none."""


def find_checkpoints(spec: str) -> List[str]:
    """The files ``spec`` names: a folder's ``*.pth``, a glob pattern's matches (sorted), else ``spec`` itself.

    NoCheckpoints when a folder holds no ``*.pth`` or a pattern matches no file."""
    if os.path.isdir(spec):
        found = sorted(glob.glob(os.path.join(spec, CHECKPOINT_FILES)))
        if not found:
            raise NoCheckpoints("{}: no checkpoint ({}) in this folder".format(spec, CHECKPOINT_FILES))
        return found
    if _GLOB_MAGIC.search(spec):
        found = sorted(p for p in glob.glob(spec) if os.path.isfile(p))
        if not found:
            raise NoCheckpoints("{}: the pattern matches no file".format(spec))
        return found
    return [spec]


def in_epoch_order(paths: Sequence[str]) -> Tuple[List[CheckpointOrigin], List[str]]:
    """The checkpoints in epoch order, one per save point, and a line for each file left out: one that is not a
    checkpoint, or a second file of a save point (ASE's rolling ``<name>.pth`` beside ``<name>_<epoch>.pth``: the
    longer name, which names the save point, is kept)."""
    origins, notes = [], []
    for path in paths:
        try:
            origins.append(checkpoint_origin(path))
        except Exception as exc:
            notes.append("skipped {}: not a checkpoint ({}: {})".format(path, type(exc).__name__, _first_line(exc)))
    kept: Dict[Tuple[Any, int, int], CheckpointOrigin] = {}
    for origin in sorted(origins, key=lambda o: (o.epoch, o.frame, -len(os.path.basename(o.path)), o.path)):
        point = (origin.trained_by.get("run_id"), origin.epoch, origin.frame)
        if (origin.epoch or origin.frame) and point in kept:
            notes.append("skipped {}: the same save point (epoch {}) as {}".format(origin.path, origin.epoch,
                                                                                  kept[point].path))
            continue
        kept[point if origin.epoch or origin.frame else (origin.path, 0, 0)] = origin
    return list(kept.values()), notes


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0]


def _number(value: Any) -> Optional[float]:
    """``value`` as an int or float when it is a number (numpy and 0-d torch scalars included), else None."""
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        value = value.item()
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return value
    return None


def check_results(results: Any) -> Dict[str, Dict[str, Any]]:
    """``results`` as ``{experiment: {metric: value}}``; ValueError naming what is wrong otherwise."""
    if not isinstance(results, Mapping) or not results:
        raise ValueError("evaluation results must be a non-empty mapping of experiment name -> metrics, got {!r}"
                         .format(type(results).__name__))
    for name, metrics in results.items():
        if not isinstance(metrics, Mapping):
            raise ValueError("evaluation results: experiment {!r} must map metric names to values, got {!r}"
                             .format(name, metrics))
    return {str(name): dict(metrics) for name, metrics in results.items()}


def results_row(results: Results) -> Dict[str, Any]:
    """``eval/{experiment}/{metric}`` for every numeric metric."""
    row = {}
    for name, metrics in results.items():
        for key, value in metrics.items():
            number = _number(value)
            if number is not None:
                row["eval/{}/{}".format(name, key)] = number
    return row


def results_table(evaluated: Sequence[Tuple[Optional[Mapping[str, Any]], Results]]) -> List[List[Any]]:
    """The table ``eval/results`` of (checkpoint entry, results) pairs: a header (checkpoint, epoch, frame,
    experiment, then every metric in first-seen order) and a line per checkpoint and experiment."""
    columns: List[str] = []
    for _, results in evaluated:
        for metrics in results.values():
            columns += [key for key in metrics if key not in columns]
    lines = []
    for entry, results in evaluated:
        where = [os.path.basename(entry["path"]), entry["epoch"], entry["row_frame"]] if entry else [None] * 3
        lines += [where + [name] + [_cell(metrics.get(key)) for key in columns] for name, metrics in results.items()]
    return [["checkpoint", "epoch", "frame", "experiment"] + columns] + lines


def _cell(value: Any) -> Any:
    number = _number(value)
    return number if number is not None else (None if value is None else str(value))


def run_folder(origin: Optional[CheckpointOrigin]) -> str:
    """Where an evaluation of the checkpoint writes and looks for its videos: the training run's experiment folder;
    else rl_games' ``<experiment>/nn/`` parent; else the checkpoint's folder."""
    if origin is None:
        return os.getcwd()
    if origin.experiment_dir:
        return origin.experiment_dir
    folder = os.path.dirname(origin.path)
    return os.path.dirname(folder) if os.path.basename(folder) == "nn" else folder


def _live_training_group() -> Optional[str]:
    """The group of the W&B run training in this process, if any: an evaluation of no checkpoint joins it."""
    live = live_run()
    return (getattr(live, "group", None) or getattr(live, "name", None)) if live is not None else None


class EvalRun:
    """One eval run over checkpoints of a training run: a row per checkpoint at its epoch's row on the training
    run's frame axis, and a table ``eval/results`` with a line per checkpoint and experiment.

    The run starts with the first results (``log``) and ends with :meth:`close`, or the ``with`` block. Given a
    ``target`` (the folder, pattern or file evaluated), it keeps its progress in ``wandb_eval_<key>.json`` beside
    the training run: started again after an interruption (Ctrl-C, preemption) with the same target and config,
    it continues the same eval run and :attr:`pending` leaves out the checkpoints it has logged. A run that ends
    normally removes that file; the next evaluation is a new eval run. Global rank 0 only; nothing when W&B is off.
    """

    def __init__(self, settings: WandbSettings, config: Mapping[str, Any],
                 origins: Sequence[Optional[CheckpointOrigin]], task: Optional[str] = None,
                 target: Optional[str] = None):
        self._settings = settings
        self._config = dict(config)
        self._task = task
        self._origins = list(origins)
        self._first = next((o for o in self._origins if o is not None), None)
        self._active = settings.enabled and is_global_rank_zero()
        self._run: Any = None
        self.run_id: Optional[str] = None
        """The eval run's id, once it has started."""
        self._progress: Optional[str] = None
        self._fingerprint = _digest({key: value for key, value in self._config.items() if key != "git"})
        self._previous: Dict[str, Any] = {}
        self._done: List[Dict[str, Any]] = []
        self._skipped: List[List[Any]] = []
        if self._active and target is not None and self._first is not None:
            self._progress = os.path.join(run_folder(self._first), PROGRESS_FILE.format(
                _digest([os.path.abspath(target), task])[:12]))
            self._resume(target)

    def _resume(self, target: str) -> None:
        """Take up the progress an interrupted evaluation of ``target`` with this config left, if any."""
        try:
            with open(str(self._progress)) as f:
                state = json.load(f)
        except (OSError, ValueError):
            return
        if state.get("fingerprint") != self._fingerprint:
            say("an interrupted evaluation of {} with another config left {}; this one starts a new eval run".format(
                target, self._progress))
            return
        self._previous, self._done, self._skipped = state["run"], state["done"], state["skipped"]
        say("continuing eval run {} of {}: {} checkpoint(s) already evaluated are skipped".format(
            self._previous.get("run_id"), target, len(self._done)))

    @property
    def pending(self) -> List[Optional[CheckpointOrigin]]:
        """The checkpoints still to evaluate, in the order given."""
        finished = {tuple(done["key"]) for done in self._done if done["key"]} | {tuple(key) for key in self._skipped}
        return [o for o in self._origins if o is None or o.key not in finished]

    def __enter__(self) -> "EvalRun":
        return self

    def __exit__(self, kind: Any, exc: Any, traceback: Any) -> None:
        forget_loaded()
        self.close(0 if exc is None else exit_code_of(exc))

    def log(self, origin: Optional[CheckpointOrigin], results: Any, videos_since: Optional[float] = None) -> None:
        """Log one checkpoint's ``{experiment: {metric: value}}`` (ValueError naming what is wrong otherwise).

        With ``videos_since`` (a ``time.time()``), the files under ``wandb.videos`` written since then join its row.
        """
        results = check_results(results)
        if not self._active:
            return
        if self._run is None:
            self._first = origin or self._first  # the first checkpoint evaluated, not one the player skipped
            self._start()
        if isinstance(self._run, NullRun):
            return
        if origin is not None and origin.model_artifact:
            self._run.use_artifact(origin.model_artifact)
        row = {"frame": origin.axis_frame, "epoch": origin.epoch} if origin is not None else {}
        row.update(results_row(results))
        self._run.log_row(row)
        if self._settings.wandb.videos and videos_since is not None:
            watcher = VideoWatcher(self._run, self._settings.wandb.videos, run_folder(origin), since=videos_since,
                                   watch=False)
            watcher.log_row(row)
            watcher.close()
        self._done.append({"key": list(origin.key) if origin else None, "entry": origin.entry if origin else None,
                           "results": {name: {key: _cell(value) for key, value in metrics.items()}
                                       for name, metrics in results.items()}})
        self._save_progress()

    def skip(self, origin: CheckpointOrigin) -> None:
        """Leave ``origin`` out of this evaluation (and of the one that continues it)."""
        self._skipped.append(list(origin.key))
        self._save_progress()

    def _start(self) -> None:
        first = self._first
        trained_by = first.trained_by if first is not None else {}
        stem = os.path.splitext(os.path.basename(first.path))[0] if first is not None else "results"
        name = self._previous.get("name") or "{}-eval-{}".format(trained_by.get("name") or stem,
                                                                  time.strftime("%Y%m%d-%H%M%S"))
        planned = [o.entry for o in self._origins if o is not None]
        self._run = start_run(self._settings, run_folder(first), dict(self._config, eval=self._eval_config(planned)),
                              name=name, job_type="eval", group=trained_by.get("group") or _live_training_group(),
                              previous=self._previous or None)
        self.run_id = self._run.run_id

    def _eval_config(self, checkpoints: List[Dict[str, Any]]) -> Dict[str, Any]:
        trained_by = self._first.trained_by if self._first is not None else {}
        return {"task": self._task, "trained_run_id": trained_by.get("run_id"),
                "trained_run_group": trained_by.get("group"), "checkpoints": checkpoints}

    def _save_progress(self) -> None:
        """Write the progress file whole (a new file, then renamed), so an interruption never leaves half of it; a
        disk that refuses it costs only the continuation (one warning), never the evaluation."""
        if self._progress is None or self._run is None or isinstance(self._run, NullRun):
            return
        state = {"fingerprint": self._fingerprint, "run": self._run.describe(), "done": self._done,
                 "skipped": self._skipped}
        partial = self._progress + ".partial"
        try:
            with open(partial, "w") as f:
                json.dump(state, f, indent=1)
            os.replace(partial, self._progress)
        except OSError as exc:
            warnings.warn("hsi_wandb: could not keep the evaluation's progress in {} ({}); the evaluation goes on, "
                          "but if it is interrupted, running it again starts a new eval run".format(
                              self._progress, exc), RuntimeWarning)
            self._progress = None

    def close(self, exit_code: int = 0) -> None:
        """Log the table of every checkpoint evaluated so far and finish the run with ``exit_code``; a run that
        ended normally forgets its progress. An evaluation continued after every checkpoint was logged starts
        the run again only to record this."""
        if not self._active:
            return
        if self._run is None and self._previous and exit_code == 0:
            self._start()
        run = self._run
        if run is not None and not isinstance(run, NullRun):
            entries = [done["entry"] for done in self._done if done["entry"] is not None]
            if [e["path"] for e in entries] != [o.path for o in self._origins if o is not None]:
                run.set_config({"eval": self._eval_config(entries)})
            header, *lines = results_table([(done["entry"], done["results"]) for done in self._done])
            run.log_table("eval/results", header, lines)
            run.finish(exit_code)
            if exit_code != 0:
                self._save_progress()
            elif self._progress is not None and os.path.exists(self._progress):
                os.remove(self._progress)
        self._active, self._run = False, None


def _digest(value: Any) -> str:
    return hashlib.sha1(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


Evaluated = Sequence[Tuple[Optional[str], Results]]
"""(checkpoint, results) pairs: one point of the curve each."""


def log_results(settings: WandbSettings, config: Mapping[str, Any], evaluated: Evaluated, task: Optional[str] = None,
                videos_since: Optional[float] = None) -> Optional[str]:
    """Log (checkpoint, results) pairs to a new eval run, a row per checkpoint in epoch order; returns its id (None
    when W&B is off on this process). Every pair is checked before anything is logged.

    With ``videos_since`` (a ``time.time()``), the files under ``wandb.videos`` written since then join the run.
    """
    checked = [(checkpoint, check_results(results)) for checkpoint, results in evaluated]
    if not settings.enabled or not is_global_rank_zero():
        return None
    points = [(checkpoint_origin(checkpoint) if checkpoint else None, results) for checkpoint, results in checked]
    points.sort(key=lambda point: (point[0].epoch, point[0].frame) if point[0] is not None else (-1, -1))
    with EvalRun(settings, config, [origin for origin, _ in points], task) as evaluation:
        for origin, results in points:
            evaluation.log(origin, results, videos_since)
        return evaluation.run_id


def _pairs(results: Union[Results, Evaluated], checkpoint: Optional[str]) -> Evaluated:
    """``results`` of ``checkpoint``, or the (checkpoint, results) pairs given; ValueError naming what is wrong."""
    if isinstance(results, Mapping):
        return [(checkpoint, results)]
    if checkpoint is not None:
        raise ValueError("log_eval: with (checkpoint, results) pairs, give no checkpoint= (got {!r})".format(
            checkpoint))
    pairs = list(results) if isinstance(results, (list, tuple)) else None
    if not pairs or not all(isinstance(p, (list, tuple)) and len(p) == 2 and isinstance(p[0], (str, type(None)))
                            for p in pairs):
        raise ValueError("log_eval: results must be {{experiment: {{metric: value}}}} or a non-empty sequence of "
                         "(checkpoint path, results) pairs, got {!r}".format(type(results).__name__))
    return pairs


def log_eval(results: Union[Results, Evaluated], checkpoint: Optional[str] = None,
             train_cfg: Optional[Mapping[str, Any]] = None, source: str = "<config>", task: Optional[str] = None,
             extra_config: Optional[Mapping[str, Any]] = None, videos_since: Optional[float] = None) -> Optional[str]:
    """Log an evaluator's ``{experiment: {metric: value}}`` to W&B, grouped with the run that trained ``checkpoint``;
    or a sequence of ``(checkpoint, results)`` pairs to one eval run, a row at each checkpoint's epoch (a curve).

    ``train_cfg`` is the training YAML (its ``use_wandb`` and ``wandb:`` section decide where the run goes; it is
    logged as the run's config with ``extra_config``). ``videos_since``: the ``time.time()`` the evaluation started;
    the video files written under ``wandb.videos`` since then join the run. Global rank 0 only; returns the eval
    run's id or None.
    """
    pairs = _pairs(results, checkpoint)
    settings = resolve_settings(train_cfg or {}, source)
    return log_results(settings, dict(train_cfg or {}, **dict(extra_config or {})), pairs, task, videos_since)
