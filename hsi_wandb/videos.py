"""Video files a simulator writes during a run, picked up off the training thread and logged to W&B once each.

A :class:`VideoWatcher` is a row sink: each row it is handed marks the end of an epoch on the frame axis. A thread
looks for new video files every ``SCAN_INTERVAL`` seconds; a file is complete once its size and modification time
have not changed for ``SETTLE`` seconds, and it is logged as ``videos/<its folder's name>`` at the frame of the
first row sent after it was last written (the epoch during which it was finished).
"""
import bisect
import glob
import os
import threading
from stat import S_ISREG
import time
from typing import Any, Dict, List, Mapping, Optional, Tuple

from .warn_once import WarnOnce

VIDEO_EXTENSIONS = (".mp4", ".gif", ".webm", ".ogg")
"""The file types ``wandb.Video`` takes from a path."""
SCAN_INTERVAL = 2.0
SETTLE = 1.0
CLOSE_WAIT = 30.0
"""At the end of a run, how long files still being written are waited for."""
ROW_MEMORY = 60.0
"""Seconds of sent rows kept for files that appear with an older modification time (copied in, say)."""


def video_key(path: str) -> str:
    """``videos/<name of the folder holding the file>``: one W&B media panel per folder, one step per file."""
    return "videos/" + os.path.basename(os.path.dirname(os.path.abspath(path)))


class VideoWatcher:
    """Logs each video file that appears under ``pattern`` (a folder or a glob, relative to ``root``) to ``run``.

    Files last modified before ``since`` (default: now) are old and never logged. ``watch=False`` starts no
    thread: files are picked up only by :meth:`close` (an evaluation, whose videos exist before its row).
    """

    def __init__(self, run: Any, pattern: str, root: str, since: Optional[float] = None, watch: bool = True):
        self._run = run
        self._pattern = os.path.join(root, os.path.expanduser(pattern))
        self._since = time.time() if since is None else since
        self._rows: List[Tuple[float, int, int]] = []
        self._rows_lock = threading.Lock()
        self._sightings: Dict[str, Tuple[Tuple[int, float], float]] = {}
        self._done: set = set()
        self._once = WarnOnce()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        if watch:
            self._thread = threading.Thread(target=self._watch, name="hsi_wandb-videos", daemon=True)
            self._thread.start()

    def log_row(self, row: Mapping[str, Any]) -> None:
        """Note that the row of an epoch was sent: files finished before now belong to it (no file access here)."""
        with self._rows_lock:
            self._rows.append((time.time(), int(row.get("frame", 0)), int(row.get("epoch", 0))))

    def close(self) -> None:
        """Stop watching; log every file still waiting (those being written are waited for up to CLOSE_WAIT s)."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        deadline = time.time() + CLOSE_WAIT
        while self._scan(final=True) and time.time() < deadline:
            time.sleep(SETTLE / 2)
        for path in sorted(self._sightings):
            self._warn("{} was still being written when the run ended; not logged".format(path))

    def _watch(self) -> None:
        while not self._stop.wait(SCAN_INTERVAL):
            try:
                self._scan(final=False)
            except Exception as exc:
                self._warn("could not look for videos in {}: {}".format(self._pattern, exc))

    def _files(self) -> List[str]:
        if os.path.isdir(self._pattern):
            found = [os.path.join(d, f) for d, _, files in os.walk(self._pattern) for f in files]
        else:
            found = glob.glob(self._pattern, recursive=True)
        return sorted(f for f in found if f.lower().endswith(VIDEO_EXTENSIONS) and f not in self._done)

    def _scan(self, final: bool) -> bool:
        """Log the files that are complete and whose row was sent; True while some file is still being written."""
        now, ready = time.time(), []
        for path in self._files():
            try:
                stat = os.stat(path)
            except OSError:
                continue
            if not S_ISREG(stat.st_mode) or stat.st_mtime < self._since:
                self._done.add(path)
                continue
            state = (stat.st_size, stat.st_mtime)
            seen = self._sightings.get(path)
            if seen is not None and seen[0] == state and now - seen[1] >= SETTLE:
                ready.append((stat.st_mtime, path))
            elif seen is None or seen[0] != state:
                self._sightings[path] = (state, now)
        for finished, path in sorted(ready):
            row = self._row_after(finished, final)
            if row is None:
                continue
            del self._sightings[path]
            self._done.add(path)
            self._log(path, *row)
        self._forget_rows(min([seen[0][1] for seen in self._sightings.values()] + [now - ROW_MEMORY]))
        return bool(self._sightings)

    def _forget_rows(self, before: float) -> None:
        """Drop the rows no waiting file can belong to (the newest stays), so memory stays flat over long runs."""
        with self._rows_lock:
            keep = max(0, min(bisect.bisect_left(self._rows, (before,)), len(self._rows) - 1))
            del self._rows[:keep]

    def _row_after(self, finished: float, final: bool) -> Optional[Tuple[int, int]]:
        """(frame, epoch) of the first row sent after ``finished``; at the end, the last row when none was."""
        with self._rows_lock:
            rows = list(self._rows)
        index = bisect.bisect_left(rows, (finished,))
        if index < len(rows):
            return rows[index][1:]
        if final:
            return rows[-1][1:] if rows else (0, 0)
        return None

    def _log(self, path: str, frame: int, epoch: int) -> None:
        try:
            self._run.log_video(video_key(path), path, frame, epoch)
        except Exception as exc:
            self._warn("could not read video {} ({}: {})".format(path, type(exc).__name__, exc))

    def _warn(self, message: str) -> None:
        self._once.warn("video", "{}; training goes on (further video problems are not reported)".format(message))
