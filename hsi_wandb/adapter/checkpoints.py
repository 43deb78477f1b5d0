"""rl_games' checkpoint naming: ``save(fn)`` writes ``fn + ".pth"``."""
import os


def checkpoint_path(fn: str) -> str:
    """The file rl_games' ``save(fn)`` writes: it always appends ``.pth``."""
    return fn + ".pth" if os.path.exists(fn + ".pth") or not os.path.exists(fn) else fn
