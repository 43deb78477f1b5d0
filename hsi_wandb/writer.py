"""A SummaryWriter mirror: every call reaches the wrapped writer unchanged; scalars also reach W&B, one row per epoch."""
import math
import time
from collections import Counter
from typing import Any, Callable, Dict, NamedTuple, Optional, Tuple

from .sinks import RowFanout
from .warn_once import WarnOnce

FRAME, EPOCH, TIME = "frame", "epoch", "time"
"""The x-axes a trainer writes scalars against: environment frames, epochs and seconds."""


class Mapped(NamedTuple):
    """A W&B key and the axis its TensorBoard tag used; per-axis duplicates share one key."""

    key: str
    axis: str


class PlainTags:
    """A tag schema: each TensorBoard tag is its W&B key, written against the frame. A schema maps a tag
    (``map_tag``) and names further keys a key's value is also logged as (``also_logged_as``); rl_games' is
    ``hsi_wandb.adapter.tags``."""

    @staticmethod
    def map_tag(tag: str) -> Mapped:
        """``tag`` itself, on the frame axis."""
        return Mapped(tag, FRAME)

    @staticmethod
    def also_logged_as(key: str) -> Tuple[str, ...]:
        """No further keys."""
        return ()


_RESERVED = frozenset(("", "frame", "epoch", "wall_time"))


def safe_key(key: str) -> str:
    """``key``, or ``tb/<key>`` for names W&B drops, overwrites or chokes on (empty, the row's axes, ``_*``, ``\\``)."""
    if key not in _RESERVED and not key.startswith("_") and "\\" not in key:
        return key
    return "tb/" + key.replace("\\", "\u2216")


def _as_float(value: Any) -> float:
    """A scalar as a Python float (0-d tensors and numpy scalars included)."""
    if hasattr(value, "item"):
        value = value.item()
    return float(value)


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


class WandbWriter:
    """Wraps a SummaryWriter-like object (tensorboardX, torch, rl_games' IntervalSummaryWriter) without subclassing it.

    Rows go to ``sink.log_row(row)`` (a :class:`RowFanout`, or one sink that the writer puts in one, so a sink that
    raises is reported once and never reaches training); each row carries ``frame`` (the step most of the epoch's scalars
    were written at), ``epoch`` and ``wall_time`` (seconds since the mirror started).
    Call :meth:`begin_epoch` at each epoch start; without it a new row starts whenever the frame changes, and takes
    its epoch from ``epoch_source`` when given (an agent that has no epoch hook, such as rl_games' SAC), else counts.
    ``tags`` is the tag schema (:class:`PlainTags`, or rl_games' ``hsi_wandb.adapter.tags``).
    """

    def __init__(self, writer: Any, sink: Any, wall_time_offset: float = 0.0,
                 epoch_source: Optional[Callable[[], int]] = None, tags: Any = PlainTags):
        self._writer = writer
        self._tags = tags
        self._sink = sink if isinstance(sink, RowFanout) else RowFanout([sink])
        self._epoch_source = epoch_source
        self._t0 = time.time() - wall_time_offset
        self._values: Dict[str, float] = {}
        self._frame_votes: Counter = Counter()
        self._epoch: Optional[int] = None
        self._rows = 0
        self._last_frame = 0
        self._explicit = False
        self._once = WarnOnce()

    @property
    def wall_time(self) -> float:
        """Seconds since the mirror started, plus the offset it was given (the ``wall_time`` of the next row)."""
        return time.time() - self._t0

    @property
    def wrapped(self) -> Any:
        """The writer every call is delegated to."""
        return self._writer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._writer, name)

    def add_scalar(self, tag: str, scalar_value: Any, global_step: Any = None, *args: Any, **kwargs: Any) -> Any:
        """Write to the wrapped writer first, exactly as called, then buffer the value for W&B."""
        result = self._writer.add_scalar(tag, scalar_value, global_step, *args, **kwargs)
        try:
            self._record(tag, _as_float(scalar_value), global_step)
        except Exception as exc:  # the mirror must never break training
            self._warn_once("could not mirror scalar {!r}: {}".format(tag, exc))
        return result

    @property
    def pending(self) -> bool:
        """True when scalars of the current epoch wait to be sent."""
        return bool(self._values)

    @property
    def row_frame(self) -> int:
        """The frame of the row being collected (the last row's while nothing is pending)."""
        return self._row_frame()

    @property
    def row_epoch(self) -> int:
        """The epoch of the row being collected."""
        return self._row_epoch()

    def add_row_values(self, values: Dict[str, float]) -> None:
        """Add values for W&B and the backup only (e.g. gradient norms), leaving TensorBoard untouched."""
        self._values.update(values)

    def begin_epoch(self, epoch: int) -> None:
        """Send the previous epoch's row and start collecting the row of ``epoch``."""
        self._explicit = True
        self.flush_row()
        self._epoch = int(epoch)

    def flush_row(self) -> None:
        """Send the pending row, if any, to the sink."""
        if not self._values:
            return
        self._last_frame = self._row_frame()
        row: Dict[str, Any] = {"frame": self._last_frame, "epoch": self._row_epoch(),
                               "wall_time": self.wall_time}
        row.update(self._row_values())
        self._values = {}
        self._frame_votes.clear()
        self._rows += 1
        self._sink.log_row(row)

    def close(self) -> Any:
        """Send the last row, then close the wrapped writer."""
        self.flush_row()
        return self._writer.close()

    def _record(self, tag: str, value: float, global_step: Any) -> None:
        if self._tags.map_tag(tag).axis == FRAME and global_step is not None:
            frame = int(_as_float(global_step))
            if not self._explicit and self._frame_votes and frame not in self._frame_votes:
                self.flush_row()
            self._frame_votes[frame] += 1
        if not self._values and not self._explicit and self._epoch_source is not None:
            self._epoch = int(self._epoch_source())
        self._values[tag] = value
        if not math.isfinite(value):
            self._once.warn("non-finite", "{!r} is {} at step {}; mirrored as is (W&B shows NaN / Infinity), further "
                            "non-finite values are not reported".format(tag, value, global_step))

    def _row_values(self) -> Dict[str, float]:
        """One key per tag family; a member that disagrees with the family's value is kept under its own tag.

        Tags that are their own key go first, so a later family member can never overwrite them; a key's further
        names (``rewards/0`` beside ``rewards/mean``) never replace a value written under that name itself.
        """
        row: Dict[str, float] = {}
        for tag, value in sorted(self._values.items(), key=lambda item: self._tags.map_tag(item[0]).key != item[0]):
            key = self._tags.map_tag(tag).key
            if key not in row:
                row[key] = value
            elif not _same(row[key], value):
                row[tag] = value
        for key, value in list(row.items()):
            for alias in self._tags.also_logged_as(key):
                row.setdefault(alias, value)
        return {self._safe_key(key): value for key, value in row.items()}

    def _safe_key(self, key: str) -> str:
        safe = safe_key(key)
        if safe != key:
            self._once.warn("renamed", "TensorBoard tag {!r} is logged to W&B as {!r} (W&B reserves or cannot store "
                            "the name); further renames are not reported".format(key, safe))
        return safe

    def _row_frame(self) -> int:
        if not self._frame_votes:
            return self._last_frame
        best = max(self._frame_votes.values())
        return max(f for f, n in self._frame_votes.items() if n == best)

    def _row_epoch(self) -> int:
        return self._epoch if self._epoch is not None else self._rows + 1

    def _warn_once(self, message: str) -> None:
        self._once.warn("mirror", message + " (further mirror errors are not reported)")
