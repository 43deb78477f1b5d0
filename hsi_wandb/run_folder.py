"""Where a run's own files go (its W&B run, ``metrics.jsonl``, ``wandb_run.json``): its experiment folder, unless a
live process already writes there.

Runners name experiment folders to the second (rl_games' ``<name>_%d-%H-%M-%S``, TokenHSI's and ASE's ``run.py``), so
two runs started together (a seed loop with ``&``, several sweep agents on one node) get the same folder. A run
claims its folder with an exclusive lock that the operating system drops when the process ends; a second live run
finds it held and keeps its own files in a subfolder of its own, so neither run's data is interleaved or lost.
"""
import os
from typing import Optional, Tuple

from .ranks import is_global_rank_zero

LOCK_FILE = ".hsi_wandb.lock"


class FolderClaim:
    """A live process's hold on a folder (an open, locked file); :meth:`release` or the process's end drops it."""

    def __init__(self, fd: int):
        self._fd: Optional[int] = fd

    def release(self) -> None:
        """Drop the hold."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _lock(folder: str) -> Tuple[bool, Optional[FolderClaim]]:
    """(held by another live process, our claim): no claim where locks are unavailable or the folder unwritable."""
    try:
        import fcntl
    except ImportError:
        return False, None
    try:
        os.makedirs(folder, exist_ok=True)
        fd = os.open(os.path.join(folder, LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        return False, None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return True, None
    except OSError:
        os.close(fd)
        return False, None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return False, FolderClaim(fd)


def holder(folder: str) -> str:
    """The process id the lock file of ``folder`` names, or ``?``."""
    try:
        with open(os.path.join(folder, LOCK_FILE)) as f:
            return f.read().strip() or "?"
    except OSError:
        return "?"


def claim_run_folder(experiment_dir: str) -> Tuple[str, Optional[FolderClaim], bool]:
    """(folder for this run's own files, its claim, whether another live run holds ``experiment_dir``).

    The folder is ``experiment_dir`` unless another live process holds it; then ``<experiment_dir>/run_<pid>``.
    Only the global rank 0 claims (the other ranks write none of the run's files).
    """
    if not is_global_rank_zero():
        return experiment_dir, None, False
    held, claim = _lock(experiment_dir)
    if not held:
        return experiment_dir, claim, False
    own = os.path.join(experiment_dir, "run_{}".format(os.getpid()))
    return own, _lock(own)[1], True
