"""Where a mirrored row goes besides W&B: a local JSONL backup, a progress bar, and the fan-out to all of them."""
import json
import math
import os
import shutil
import sys
import warnings
from typing import Any, Iterable, Mapping, Optional


class RowFanout:
    """Sends each row to several sinks; one failing sink is reported once and never stops the others."""

    def __init__(self, sinks: Iterable[Any]):
        self._sinks = list(sinks)
        self._broken = set()

    def log_row(self, row: Mapping[str, Any]) -> None:
        """Hand ``row`` to every sink that has not failed."""
        for i, sink in enumerate(self._sinks):
            if i in self._broken:
                continue
            try:
                sink.log_row(row)
            except Exception as exc:
                self._broken.add(i)
                warnings.warn("hsi_wandb: {} failed ({}); it gets no more rows".format(type(sink).__name__, exc),
                              RuntimeWarning)

    def close(self) -> None:
        """Close every sink that can be closed."""
        for sink in self._sinks:
            close = getattr(sink, "close", None)
            if close is not None:
                close()


class JsonlBackup:
    """Appends every row to ``metrics.jsonl`` (one JSON object a line), so nothing depends on the network."""

    def __init__(self, path: str):
        self.path = path
        self._file: Optional[Any] = None

    def log_row(self, row: Mapping[str, Any]) -> None:
        """Append ``row`` and flush, so a killed process keeps every finished epoch."""
        if self._file is None:
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            self._file = open(self.path, "a")
        self._file.write(json.dumps(row) + "\n")
        self._file.flush()

    def close(self) -> None:
        """Close the file."""
        if self._file is not None:
            self._file.close()
            self._file = None


_BAR_FIELDS = (("rew", "rewards/mean"), ("fps", "performance/total_fps"), ("fps", "performance/step_fps"),
               ("a_loss", "losses/a_loss"), ("c_loss", "losses/c_loss"), ("disc", "losses/disc_loss"),
               ("lr", "info/last_lr"), ("grad_norm", "info/grad_norm"))


_BAR_ROOM = 50
"""Columns a bar line needs besides its postfix: percentage, counts, times and rate, and 10 for the bar itself."""


class ProgressBar:
    """A tqdm bar over epochs: the row's frame (the x-axis value on W&B and TensorBoard), fps, mean reward, the main
    losses, learning rate and gradient norm (before clipping), as many as leave the bar room; silent off a terminal.
    With another ``unit`` (an evaluation's checkpoints) it counts :meth:`advance`."""

    def __init__(self, total_epochs: Optional[int], initial_epoch: int = 0, stream: Any = None, unit: str = "epoch"):
        from tqdm import tqdm

        self._stream = stream or sys.stderr
        self._bar = tqdm(total=total_epochs, initial=initial_epoch, unit=unit, file=self._stream,
                         disable=not self._stream.isatty(), dynamic_ncols=True)

    @property
    def enabled(self) -> bool:
        """False when the bar prints nothing (output is not a terminal)."""
        return not self._bar.disable

    def log_row(self, row: Mapping[str, Any]) -> None:
        """Advance to the row's epoch and show its main numbers."""
        shown = {"frame": str(int(row.get("frame", 0)))}
        room = self._columns() - _BAR_ROOM
        for label, key in _BAR_FIELDS:
            value = row.get(key)
            if label not in shown and isinstance(value, float) and math.isfinite(value):
                text = "{:.4g}".format(value)
                if len(", ".join("{}={}".format(k, v) for k, v in shown.items())) + len(label) + len(text) + 3 > room:
                    break
                shown[label] = text
        self._bar.set_postfix(shown, refresh=False)
        self._bar.update(max(0, int(row.get("epoch", self._bar.n)) - self._bar.n))

    def advance(self, **shown: Any) -> None:
        """Count one more unit done, showing ``shown``."""
        self._bar.set_postfix(shown, refresh=False)
        self._bar.update(1)

    def _columns(self) -> int:
        try:
            return os.get_terminal_size(self._stream.fileno()).columns
        except (AttributeError, OSError, ValueError):
            return shutil.get_terminal_size().columns

    def close(self) -> None:
        """Close the bar."""
        self._bar.close()
