"""The one place that imports ``wandb``: lazily, and with a single warning when it is missing."""
import importlib
import warnings
from typing import Any, Optional

_MISSING_WARNED = False


def load_wandb() -> Optional[Any]:
    """Return the ``wandb`` module, or ``None`` (warning once) when it is not installed."""
    global _MISSING_WARNED
    try:
        return importlib.import_module("wandb")
    except ImportError:
        if not _MISSING_WARNED:
            _MISSING_WARNED = True
            warnings.warn(
                "hsi_wandb: the `wandb` package is not installed; training continues with "
                "TensorBoard only. Install it with `pip install wandb` to mirror runs to W&B.",
                RuntimeWarning,
                stacklevel=2,
            )
        return None
