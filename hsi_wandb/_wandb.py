"""The one place that imports ``wandb``: lazily, and with a single warning when it is missing."""
import importlib
import sys
from typing import Any, Optional, Tuple

from .warn_once import WarnOnce

_MISSING = WarnOnce()


def load_wandb() -> Optional[Any]:
    """Return the ``wandb`` module, or ``None`` (warning once) when it is not installed."""
    try:
        return importlib.import_module("wandb")
    except ImportError:
        _MISSING.warn("wandb", "the `wandb` package is not installed; training continues with TensorBoard only. "
                      "Install it with `pip install wandb` to mirror runs to W&B.")
        return None


ON_FIRST_INIT = ("wandb", "wandb.sdk.launch")
"""``wandb`` and what ``wandb.init`` imports the first time it runs (its launch-input check)."""


def preload() -> None:
    """Import ``ON_FIRST_INIT`` now, quietly (a missing or broken wandb is reported when the run starts).

    Called before a trainer builds its agent: W&B's pydantic models look their classes up with
    ``inspect.getmodule``, which walks every loaded module, and torch's compiler stack, loaded when the agent
    makes its optimizer, adds thousands. Imported before it, wandb costs 0.5-0.8 CPU-seconds less."""
    for name in ON_FIRST_INIT:
        try:
            importlib.import_module(name)
        except Exception:
            return


def live_run() -> Optional[Any]:
    """The W&B run live in this process (``wandb.run``); None without importing wandb when nothing imported it."""
    wandb = sys.modules.get("wandb")
    return getattr(wandb, "run", None) if wandb is not None else None


def record_reader() -> Optional[Tuple[Any, Any, Any]]:
    """W&B's Python reader of ``.wandb`` files (its datastore, record messages and protobuf's ``json_format``), in
    wandb releases before ``wandb leet``; None where the installed wandb has none."""
    try:
        return tuple(importlib.import_module(name) for name in (
            "wandb.sdk.internal.datastore", "wandb.proto.wandb_internal_pb2", "google.protobuf.json_format"))
    except ImportError:
        return None
