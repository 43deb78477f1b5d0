"""Checkpoints as W&B ``model`` artifacts, logged off the training thread from an instant snapshot of each save."""
import contextlib
import itertools
import os
import shutil
import warnings
from typing import Any, Dict, List, Optional, Tuple

from .worker import Worker

REASONS = ("interrupt", "final", "best", "save_frequency", "save")
"""Why a trainer saved (rl_games' agents save at the best reward and every ``save_frequency`` epochs), in the order
that names a save point where several saves coincide."""


def unshare(path: str) -> None:
    """Unlink ``path`` if it has other hard links (a snapshot, also one of an earlier run segment), so the coming
    save writes a new file instead of rewriting the snapshot's bytes in place."""
    with contextlib.suppress(OSError):
        if os.stat(path).st_nlink > 1:
            os.unlink(path)


class SavePoint:
    """The saves rl_games made at one (epoch, frame): the same weights under one or more file names."""

    def __init__(self, metadata: Dict[str, Any]):
        self.metadata = metadata
        self.files: List[str] = []
        self.sources: List[str] = []
        self.paths: List[str] = []
        self.reasons: List[str] = []
        self.rolling: List[bool] = []

    @property
    def key(self) -> Tuple[Any, Any]:
        """Saves with the same epoch and frame hold the same weights."""
        return self.metadata.get("epoch"), self.metadata.get("frame")

    def add(self, source: str, path: str, reason: str, rolling: bool) -> None:
        """One more file written at this save point (``path``: its snapshot, or the file itself; ``rolling``: a
        name the trainer rewrites at later saves)."""
        self.files.append(os.path.basename(source))
        self.sources.append(source)
        self.paths.append(path)
        self.reasons.append(reason)
        self.rolling.append(rolling)

    def chosen(self, final: bool) -> int:
        """The file logged: at the end of training the rolling one (what a user loads to continue); before, one
        the trainer keeps (``<name>_<epoch>.pth``, ``last_<name>_ep_<N>...``), so that its snapshot costs no disk."""
        preferred = [i for i, rolling in enumerate(self.rolling) if rolling == final]
        return preferred[0] if preferred else 0

    def aliases(self, final: bool) -> List[str]:
        """``latest``, ``epoch-N``, ``best`` on a best-reward save, ``final`` on the last checkpoint."""
        aliases = ["latest", "epoch-{}".format(self.metadata["epoch"])]
        return aliases + (["best"] if "best" in self.reasons else []) + (["final"] if final else [])

    def logged_metadata(self, final: bool) -> Dict[str, Any]:
        """Metadata of the version: the save point's, the file logged, every file rl_games wrote."""
        index = self.chosen(final)
        reason = "final" if final and "interrupt" not in self.reasons else min(self.reasons, key=REASONS.index)
        metadata = dict(self.metadata, reason=reason, file=self.files[index], files=list(self.files),
                        size_bytes=os.path.getsize(self.paths[index]))
        return dict(metadata, final=True) if final else metadata


class CheckpointLogger:
    """Logs every save point as one version of one artifact, aliases ``latest``, ``epoch-N``, ``best``, ``final``.

    A save is snapshotted at once (a hard link; a copy where links are impossible) inside the run folder, so
    the bytes logged are those of that save even when the same path is overwritten later, and an offline run
    stays self-contained. Saves at the same epoch and frame (ASE's ``<name>.pth`` and ``<name>_<epoch>.pth``)
    are one save point, logged once. The newest save point is held back until the next one or the end of
    training, so that the last one is logged with ``final`` when training ends normally.
    """

    def __init__(self, run: Any, policy: str = "files", name: Optional[str] = None):
        self._run = run
        self._policy = policy
        self._name = name or "model-{}".format(run.run_id)
        self._enabled = policy != "none" and run.run_id is not None
        self._dir = os.path.join(run.sync_dir, "checkpoints") if self._enabled else ""
        self._seq = itertools.count()
        self._held: Optional[SavePoint] = None
        self._logger = Worker("hsi_wandb-checkpoints", self._log)

    def add(self, path: str, metadata: Dict[str, Any]) -> None:
        """Record a checkpoint rl_games has just written; ``metadata`` holds epoch, frame, reason (one of
        ``REASONS``; default ``save``), and ``rolling`` for a file name the trainer rewrites at later saves."""
        if not (self._enabled and os.path.isfile(path)):
            return
        problem = _metadata_problem(metadata)
        if problem:
            warnings.warn("hsi_wandb: checkpoint {} is not logged to W&B: its metadata {}; the file itself is "
                          "saved".format(path, problem), RuntimeWarning)
            return
        self._guarded("snapshot {}".format(path), self._add, path, metadata)

    def _guarded(self, what: str, fn: Any, *args: Any) -> None:
        """Checkpoint logging must never stop training: a disk that fails (OSError) ends it, with one warning; any
        other error costs that checkpoint only."""
        try:
            fn(*args)
        except OSError as exc:
            self._enabled = False
            warnings.warn("hsi_wandb: could not {} ({}); the checkpoint itself is saved, no more checkpoints are "
                          "logged to W&B".format(what, exc), RuntimeWarning)
        except Exception as exc:
            warnings.warn("hsi_wandb: could not {} ({}: {}); the checkpoint itself is saved, the others are still "
                          "logged".format(what, type(exc).__name__, exc), RuntimeWarning)

    def _add(self, path: str, metadata: Dict[str, Any]) -> None:
        metadata = dict(metadata)
        reason = metadata.pop("reason", "save")
        rolling = bool(metadata.pop("rolling", False))
        stored = self._snapshot(path) if self._policy in ("files", "last") else path
        point = SavePoint(metadata)
        if self._held is not None and self._held.key == point.key:
            point = self._held
        elif self._held is not None:
            self._submit(self._held, final=False)
        self._held = point
        point.add(path, stored, reason, rolling)

    def close(self, final: bool) -> None:
        """Log the held save point (``final`` when training ended normally) and wait for pending logging."""
        if self._held is not None:
            self._guarded("log checkpoint {}".format(self._held.files[-1]), self._submit, self._held,
                          final and self._enabled, False)
            self._held = None
        from . import lifecycle

        if not self._logger.close(lifecycle.CALL_TIMEOUT):
            warnings.warn("hsi_wandb: W&B did not finish logging the checkpoints in {:g} s; they are saved on "
                          "disk, the run is finished without the rest".format(lifecycle.CALL_TIMEOUT), RuntimeWarning)

    def _snapshot(self, path: str) -> str:
        os.makedirs(self._dir, exist_ok=True)
        target = os.path.join(self._dir, "{:05d}-{}".format(next(self._seq), os.path.basename(path)))
        try:
            os.link(path, target)
        except OSError:
            shutil.copyfile(path, target)
        return target

    def _submit(self, point: SavePoint, final: bool, release: bool = True) -> None:
        """Queue a save point for logging, its other snapshots removed (all of them when only its metadata is
        logged); ``release``: the last save point, whose snapshot needs no dropping from the page cache."""
        index = point.chosen(final)
        metadata = point.logged_metadata(final)
        reference = self._policy == "metadata" or (self._policy == "last" and release)
        if self._policy in ("files", "last"):
            for other in point.paths[:index] + point.paths[index + 1:] + (point.paths[index:index + 1] * reference):
                with contextlib.suppress(OSError):
                    os.unlink(other)
        path = point.sources[index] if reference else point.paths[index]
        self._logger.submit((path, metadata, point.aliases(final), reference, release and not reference))

    def _log(self, item: Tuple[str, Dict[str, Any], List[str], bool, bool]) -> None:
        path, metadata, aliases, reference, release = item
        self._run.log_checkpoint(self._name, path, metadata, aliases, reference=reference)
        if release:
            _release_page_cache(path)


def _metadata_problem(metadata: Any) -> Optional[str]:
    """What is wrong with a checkpoint's metadata (a mapping with whole-number ``epoch`` and ``frame``, a known
    ``reason``), or None."""
    if not isinstance(metadata, dict):
        return "is {!r}, not a mapping".format(type(metadata).__name__)
    for key in ("epoch", "frame"):
        if not isinstance(metadata.get(key), int) or isinstance(metadata.get(key), bool):
            return "lacks a whole-number {!r} (got {!r})".format(key, metadata.get(key))
    if metadata.get("reason", "save") not in REASONS:
        return "has reason {!r}; allowed: {}".format(metadata["reason"], ", ".join(REASONS))
    return None


def _release_page_cache(path: str) -> None:
    """Write a logged snapshot to disk and drop it from the page cache, where the OS allows it.

    A snapshot keeps the bytes of a save, so the next save to that path is a new file: without this, every
    save needs fresh page-cache memory instead of reusing the pages of the one before, which made torch.save
    of 100-500 MB checkpoints 30-100 % slower (``benchmarks/benchmark.py``, section 3).
    """
    if not (hasattr(os, "posix_fadvise") and hasattr(os, "fdatasync")):
        return
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fdatasync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
    except OSError:
        pass
