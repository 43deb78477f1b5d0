"""What the built-in runner shows on the console: its own lines, the epoch lines and errors; the libraries' chatter
(rl_games' parameter lists and save notices, gym's banner, W&B's header and summary) only with ``--verbose``."""
import contextlib
import io
import os
import sys
from typing import Any, Iterator, TextIO

QUIET_LIBRARIES = ("rl_games",)
"""Packages whose prints to stdout are dropped: what they print is for their own debugging, not a researcher's."""
_PASS_THROUGH = ("wandb", __name__)
"""Frames skipped to find who printed: W&B's console capture wraps ``write``, and our own."""


class QuietStdout(io.TextIOBase):
    """A stdout that drops what :data:`QUIET_LIBRARIES` print and passes everything else on unchanged."""

    def __init__(self, stream: TextIO):
        self.stream = stream

    def write(self, text: str) -> int:
        """Write ``text`` unless a quiet library printed it."""
        if not _printed_by_quiet_library():
            self.stream.write(text)
        return len(text)

    def flush(self) -> None:
        """Flush the stream."""
        self.stream.flush()

    def isatty(self) -> bool:
        """Whether the stream is a terminal."""
        return self.stream.isatty()

    def fileno(self) -> int:
        """The stream's file descriptor."""
        return self.stream.fileno()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def _printed_by_quiet_library() -> bool:
    frame = sys._getframe(2)
    while frame is not None and frame.f_globals.get("__name__", "").startswith(_PASS_THROUGH):
        frame = frame.f_back
    module = frame.f_globals.get("__name__", "") if frame is not None else ""
    return module.split(".")[0] in QUIET_LIBRARIES


@contextlib.contextmanager
def quiet_console(verbose: bool) -> Iterator[None]:
    """Unless ``verbose``: drop the quiet libraries' prints, import gym without its banner, and keep W&B to errors
    (``WANDB_SILENT``, unless set already; hsi_wandb says where the run is)."""
    if verbose:
        yield
        return
    with contextlib.redirect_stderr(io.StringIO()):
        import gym  # noqa: F401  (its deprecation banner is printed once, at import)
    previous = os.environ.get("WANDB_SILENT")
    if previous is None:
        os.environ["WANDB_SILENT"] = "true"
    try:
        with contextlib.redirect_stdout(QuietStdout(sys.stdout)):
            yield
    finally:
        if previous is None:
            os.environ.pop("WANDB_SILENT", None)
