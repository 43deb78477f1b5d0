"""SIGTERM (a cluster's preemption) as an interruption of training, handled like Ctrl-C, and the exit code of each end.

W&B records the exit code of a run; a process killed by SIGTERM would end without one and leave no checkpoint. The
handler that was installed before (a SLURM requeue script's, submitit's, torchrun's elastic agent's) still runs,
after the interrupt checkpoint is saved and the run finished: :meth:`Terminated.hand_on`.
"""
import signal
import threading
from contextlib import contextmanager
from typing import Any, Iterator


class Terminated(KeyboardInterrupt):
    """SIGTERM turned into an interruption of training, so it is handled like Ctrl-C; it remembers the handler that
    was installed before ours."""

    exit_code = 128 + signal.SIGTERM

    def __init__(self, previous: Any = None, frame: Any = None):
        super().__init__("SIGTERM")
        self.previous = previous
        self.frame = frame

    def hand_on(self) -> None:
        """Run the previous SIGTERM handler, if it was a Python function, then exit with 143 (unless it exited)."""
        if callable(self.previous):
            self.previous(signal.SIGTERM, self.frame)
        raise SystemExit(self.exit_code) from self


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Inside the block SIGTERM raises :class:`Terminated` (main thread only: Python sets handlers nowhere else).

    Where SIGTERM is ignored (``SIG_IGN``), it stays ignored."""
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.getsignal(signal.SIGTERM)
        if previous == signal.SIG_IGN:
            previous = None
        else:
            def interrupt(signum: int, frame: Any, before: Any = previous) -> None:
                raise Terminated(before, frame)

            signal.signal(signal.SIGTERM, interrupt)
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
