"""SIGTERM (a cluster's preemption) as an interruption of training, handled like Ctrl-C, and the exit code of each end.

W&B records the exit code of a run; a process killed by SIGTERM would end without one and leave no checkpoint.
"""
import signal
import threading
from contextlib import contextmanager
from typing import Any, Iterator


class Terminated(KeyboardInterrupt):
    """SIGTERM turned into an interruption of training, so it is handled like Ctrl-C."""

    exit_code = 128 + signal.SIGTERM


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated("SIGTERM")


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Inside the block SIGTERM raises :class:`Terminated` (main thread only: Python sets handlers nowhere else)."""
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def exit_code_of(exc: BaseException) -> int:
    """The exit code of training ended by ``exc``: SystemExit's own, 143 on SIGTERM, 130 on Ctrl-C, else 1."""
    if isinstance(exc, SystemExit):
        return exc.code if isinstance(exc.code, int) else 1
    if isinstance(exc, Terminated):
        return Terminated.exit_code
    return 130 if isinstance(exc, KeyboardInterrupt) else 1
