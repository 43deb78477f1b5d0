"""Checkpoints as W&B ``model`` artifacts, logged off the training thread from an instant snapshot of each save."""
import itertools
import os
import queue
import shutil
import threading
import warnings
from typing import Any, Dict, Optional, Tuple

_STOP = object()


def checkpoint_path(fn: str) -> str:
    """The file rl_games' ``save(fn)`` writes: it always appends ``.pth``."""
    return fn + ".pth" if os.path.exists(fn + ".pth") or not os.path.exists(fn) else fn


class CheckpointLogger:
    """Logs every saved checkpoint as a version of one artifact, aliases ``latest``, ``epoch-N`` and ``final``.

    A save is snapshotted at once (a hard link; a copy where links are impossible) inside the run folder, so
    the bytes logged are those of that save even when the same path is overwritten later, and an offline run
    stays self-contained. The newest checkpoint is held back until the next save or the end of training,
    so that the last one is logged with ``final`` when training ends normally.
    """

    def __init__(self, run: Any, policy: str = "files", name: Optional[str] = None):
        self._run = run
        self._policy = policy
        self._name = name or "model-{}".format(run.run_id)
        self._enabled = policy != "none" and run.run_id is not None
        self._dir = os.path.join(run.sync_dir, "checkpoints") if self._enabled else ""
        self._seq = itertools.count()
        self._held: Optional[Tuple[str, Dict[str, Any]]] = None
        self._snapshots: Dict[str, str] = {}
        self._queue: "queue.Queue[Any]" = queue.Queue()
        self._thread: Optional[threading.Thread] = None

    def before_save(self, path: str) -> None:
        """Unlink ``path`` if it is a hard link to a snapshot, so the coming save writes a new file."""
        snapshot = self._snapshots.pop(os.path.abspath(path), None)
        if snapshot and os.path.exists(path) and os.path.samefile(path, snapshot):
            self._guarded("release {}".format(path), os.unlink, path)

    def add(self, path: str, metadata: Dict[str, Any]) -> None:
        """Record a checkpoint rl_games has just written; ``metadata`` holds at least epoch and frame."""
        if self._enabled and os.path.isfile(path):
            self._guarded("snapshot {}".format(path), self._add, path, metadata)

    def _guarded(self, what: str, fn: Any, *args: Any) -> None:
        """Checkpoint logging must never stop training: on an error, say so once and log no more checkpoints."""
        try:
            fn(*args)
        except OSError as exc:
            self._enabled = False
            warnings.warn("hsi_wandb: could not {} ({}); the checkpoint itself is saved, no more checkpoints are "
                          "logged to W&B".format(what, exc), RuntimeWarning)

    def _add(self, path: str, metadata: Dict[str, Any]) -> None:
        metadata = dict(metadata, file=os.path.basename(path), size_bytes=os.path.getsize(path))
        if self._policy == "files":
            path = self._snapshot(path)
        if self._held is not None:
            self._submit(self._held, final=False)
        self._held = (path, metadata)

    def close(self, final: bool) -> None:
        """Log the held checkpoint (``final`` when training ended normally) and wait for pending logging."""
        if self._held is not None:
            self._submit(self._held, final=final and self._enabled, release=False)
            self._held = None
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join()
            self._thread = None

    def _snapshot(self, path: str) -> str:
        os.makedirs(self._dir, exist_ok=True)
        target = os.path.join(self._dir, "{:05d}-{}".format(next(self._seq), os.path.basename(path)))
        try:
            os.link(path, target)
            self._snapshots[os.path.abspath(path)] = target
        except OSError:
            shutil.copyfile(path, target)
        return target

    def _submit(self, item: Tuple[str, Dict[str, Any]], final: bool, release: bool = True) -> None:
        """Queue a checkpoint for logging; ``release``: then drop its snapshot from the page cache (not needed for
        the last one, nothing is saved after it)."""
        path, metadata = item
        aliases = ["latest", "epoch-{}".format(metadata["epoch"])] + (["final"] if final else [])
        if final:
            metadata = dict(metadata, final=True)
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="hsi_wandb-checkpoints", daemon=True)
            self._thread.start()
        self._queue.put((path, metadata, aliases, release and self._policy == "files"))

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            path, metadata, aliases, release = item
            self._run.log_checkpoint(self._name, path, metadata, aliases, reference=self._policy == "metadata")
            if release:
                _release_page_cache(path)


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
