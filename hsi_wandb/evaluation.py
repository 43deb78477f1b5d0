"""Evaluation results on W&B: an ``eval`` run in the group of the run that trained the checkpoint, at its epoch.

Any evaluator that computes ``{experiment: {metric: value}}`` (TokenHSI's ``run_eval`` does) logs it with::

    from hsi_wandb import log_eval

    log_eval(results, checkpoint="output/exp/nn/Task.pth", train_cfg=cfg_train)
"""
import inspect
import os
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional

from ._wandb import live_run
from .config import WandbSettings, resolve_settings
from .lifecycle import NullRun, load_run_record, start_run
from .ranks import is_global_rank_zero
from .videos import VideoWatcher

CHECKPOINT_KEY = "wandb_run"
"""The checkpoint entry with the training run's identity (run_id, group, name, project, entity) and row_frame."""
_OLD_ID_KEY = "wandb_run_id"
_RECORD_SEARCH_DEPTH = 4
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


def load_checkpoint(path: str, map_location: Any = "cpu") -> Any:
    """A checkpoint as rl_games saved it: whole (torch 2.6 and newer load only tensors by default, and rl_games
    saves numpy values too), on every torch from 1.8 (which has no ``weights_only``) on."""
    import torch

    whole = {"weights_only": False} if "weights_only" in inspect.signature(torch.load).parameters else {}
    return torch.load(path, map_location=map_location, **whole)


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


def results_table(results: Results) -> List[List[Any]]:
    """The table ``eval/results``: a header (experiment, then every metric in first-seen order) and one line each."""
    columns: List[str] = []
    for metrics in results.values():
        columns += [key for key in metrics if key not in columns]
    lines = [[name] + [_cell(metrics.get(key)) for key in columns] for name, metrics in results.items()]
    return [["experiment"] + columns] + lines


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


def log_results(settings: WandbSettings, config: Mapping[str, Any], results: Any,
                checkpoint: Optional[str] = None, task: Optional[str] = None,
                videos_since: Optional[float] = None) -> Optional[str]:
    """Log evaluation ``results`` to a new eval run; returns its id (None when W&B is off on this process).

    With ``videos_since`` (a ``time.time()``), the files under ``wandb.videos`` written since then join the run.
    """
    results = check_results(results)
    if not settings.enabled or not is_global_rank_zero():
        return None
    origin = checkpoint_origin(checkpoint) if checkpoint else None
    trained_by = origin.trained_by if origin else {}
    eval_config = {"checkpoint": origin.path if origin else None, "task": task,
                   "epoch": origin.epoch if origin else None, "frame": origin.frame if origin else None,
                   "row_frame": origin.axis_frame if origin else None,
                   "trained_run_id": trained_by.get("run_id"), "trained_run_group": trained_by.get("group"),
                   "model_artifact": origin.model_artifact if origin else None}
    stem = os.path.splitext(os.path.basename(checkpoint))[0] if checkpoint else "results"
    name = "{}-eval-{}".format(trained_by.get("name") or stem, time.strftime("%Y%m%d-%H%M%S"))
    run = start_run(settings, run_folder(origin), dict(config, eval=eval_config), name=name, job_type="eval",
                    group=trained_by.get("group") or _live_training_group())
    if isinstance(run, NullRun):
        return None
    if origin and origin.model_artifact:
        run.use_artifact(origin.model_artifact)
    row = {"frame": origin.axis_frame, "epoch": origin.epoch} if origin else {}
    row.update(results_row(results))
    run.log_row(row)
    if settings.wandb.videos and videos_since is not None:
        watcher = VideoWatcher(run, settings.wandb.videos, run_folder(origin), since=videos_since, watch=False)
        watcher.log_row(row)
        watcher.close()
    header, *lines = results_table(results)
    run.log_table("eval/results", header, lines)
    run.finish(0)
    return run.run_id


def log_eval(results: Results, checkpoint: Optional[str] = None, train_cfg: Optional[Mapping[str, Any]] = None,
             source: str = "<config>", task: Optional[str] = None,
             extra_config: Optional[Mapping[str, Any]] = None, videos_since: Optional[float] = None) -> Optional[str]:
    """Log an evaluator's ``{experiment: {metric: value}}`` to W&B, grouped with the run that trained ``checkpoint``.

    ``train_cfg`` is the training YAML (its ``use_wandb`` and ``wandb:`` section decide where the run goes; it is
    logged as the run's config with ``extra_config``). ``videos_since``: the ``time.time()`` the evaluation started;
    the video files written under ``wandb.videos`` since then join the run. Global rank 0 only; returns the eval
    run's id or None.
    """
    settings = resolve_settings(train_cfg or {}, source)
    return log_results(settings, dict(train_cfg or {}, **dict(extra_config or {})), results, checkpoint, task,
                       videos_since)

