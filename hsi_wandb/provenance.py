"""What a run was made from: the code root (the repository holding the entry point), its git commit and which source
files a code snapshot holds."""
import os
import subprocess
import sys
from typing import Any, Dict, Optional, Tuple

_SKIP_DIRS = frozenset(("wandb", "output", "outputs", "runs", "node_modules", "__pycache__", "build", "dist"))
_START_DIR = os.getcwd()
"""The working directory when hsi_wandb was imported: a relative script path is relative to it, even after the
program changes directory (hydra's ``chdir``)."""


def _git(path: str, *args: str) -> Optional[str]:
    """The output of ``git <args>`` run in ``path``; None outside a repository or without git."""
    try:
        proc = subprocess.run(["git"] + list(args), cwd=path, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def git_state(path: str = ".") -> Dict[str, Any]:
    """``{"commit": sha, "dirty": bool}`` of the repository holding ``path``; empty outside a repository."""
    commit = _git(path, "rev-parse", "HEAD")
    if commit is None:
        return {}
    status = _git(path, "status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status)}


def entry_point() -> Optional[str]:
    """The script this process was started with, absolute; None in an interactive session, a notebook or
    ``python -c``."""
    script = getattr(sys.modules.get("__main__"), "__file__", None)
    if not script:
        return None
    script = os.path.join(_START_DIR, script)
    return script if os.path.isfile(script) else None


def code_root() -> Tuple[str, str]:
    """(folder, what it is) that the code snapshot and the git commit come from: the top of the git repository
    holding the entry-point script, else the script's folder, so that they do not depend on the directory training
    was started from; the working directory where there is no script."""
    script = entry_point()
    if script is None:
        return os.getcwd(), "the working directory (no entry-point script: an interactive session, a notebook or " \
                            "python -c)"
    folder = os.path.dirname(script)
    top = _git(folder, "rev-parse", "--show-toplevel")
    if top:
        return top, "the git repository holding the entry point {}".format(script)
    return folder, "the folder of the entry point {} (not in a git repository)".format(script)


def is_snapshot_file(path: str, root: str) -> bool:
    """True for the project's own ``.py`` and ``.yaml`` files: not in hidden, virtualenv or output folders."""
    if not path.endswith((".py", ".yaml", ".yml")):
        return False
    parts = os.path.relpath(os.path.abspath(path), os.path.abspath(root)).split(os.sep)[:-1]
    return not any(p.startswith(".") or p in _SKIP_DIRS or p.startswith("venv") or p == os.pardir for p in parts)
