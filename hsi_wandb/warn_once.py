"""Problems reported once per kind: a fault that repeats every epoch is one warning, not thousands."""
import warnings
from typing import Hashable, Set


class WarnOnce:
    """Remembers which kinds of problem were reported; :meth:`warn` reports each kind the first time only."""

    def __init__(self) -> None:
        self._reported: Set[Hashable] = set()

    def warn(self, kind: Hashable, message: str) -> bool:
        """Warn ``hsi_wandb: <message>`` (a RuntimeWarning) unless ``kind`` was reported; True when it warned."""
        if kind in self._reported:
            return False
        self._reported.add(kind)
        warnings.warn("hsi_wandb: " + message, RuntimeWarning, stacklevel=3)
        return True
