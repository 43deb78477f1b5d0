"""What a run was made from: the git commit of the code and which source files a code snapshot holds."""
import os
import subprocess
from typing import Any, Dict

_SKIP_DIRS = frozenset(("wandb", "output", "outputs", "runs", "node_modules", "__pycache__", "build", "dist"))


def git_state(path: str = ".") -> Dict[str, Any]:
    """``{"commit": sha, "dirty": bool}`` of the repository holding ``path``; empty outside a repository."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=path, capture_output=True, text=True,
                                timeout=10)
        if commit.returncode != 0:
            return {}
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=path,
                                capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return {}
    return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}


def is_snapshot_file(path: str, root: str) -> bool:
    """True for the project's own ``.py`` and ``.yaml`` files: not in hidden, virtualenv or output folders."""
    if not path.endswith((".py", ".yaml", ".yml")):
        return False
    parts = os.path.relpath(os.path.abspath(path), os.path.abspath(root)).split(os.sep)[:-1]
    return not any(p.startswith(".") or p in _SKIP_DIRS or p.startswith("venv") or p == os.pardir for p in parts)
