"""rl_games adapter: the options an agent or player starts its W&B run with, and the config that run logs.

:func:`make_options` checks the W&B switches before training starts; :func:`configure` sets the options that agents
built from a ``WandbMixin`` subclass use, where no Runner hands them over.
"""
import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ..config import WandbSettings, resolve_settings
from ..yaml_numbers import with_numbers
from ..provenance import code_root, git_state


@dataclass
class WandbOptions:
    """What an agent needs to start its W&B run: resolved settings and the config to log."""

    settings: WandbSettings
    config: Dict[str, Any] = field(default_factory=dict)
    """Logged as the W&B run config: the training YAML plus ``extra_config``, with ``5e-4`` as a number."""
    task: Optional[str] = None
    """Task name, used in generated run names."""
    files: List[str] = field(default_factory=list)
    """Config files attached to the run."""
    dry_run: bool = False
    """Write no checkpoint (the runner trains one epoch)."""
    scratch: bool = False
    """The run is written to a folder deleted after training (``run.py --dry_run --resume 1``): nothing to sync."""
    code: Tuple[str, str] = field(default_factory=code_root)
    """The folder the code snapshot (``wandb.save_code``) and the git commit come from, and what it is."""


def make_options(train_cfg: Mapping[str, Any], source: str = "<config>",
                 extra_config: Optional[Mapping[str, Any]] = None, task: Optional[str] = None,
                 overrides: Optional[Mapping[str, Any]] = None, files: Optional[List[str]] = None,
                 dry_run: bool = False, scratch: bool = False,
                 settings: Optional[WandbSettings] = None) -> WandbOptions:
    """Validate the W&B switches (ConfigError before training) and bundle the run config with provenance.

    ``overrides`` are command-line values for the ``wandb:`` section (plus ``use_wandb``); ``settings``, when the
    entry point resolved them already (with its overrides), are used as they are.
    """
    settings = settings or resolve_settings(train_cfg, source, overrides=overrides)
    config = with_numbers(dict(train_cfg, **(extra_config or {})))
    config["wandb"] = dataclasses.asdict(settings.wandb)
    code = code_root()
    git = git_state(code[0])
    if git:
        config["git"] = git
    return WandbOptions(settings, config, task, list(files or ([source] if os.path.isfile(source) else [])),
                        dry_run, scratch, code)


_default_options: Optional[WandbOptions] = None


def configure(train_cfg: Mapping[str, Any], source: str = "<config>", **kwargs: Any) -> WandbOptions:
    """Set the options that agents built from a ``WandbMixin`` subclass use (arguments of :func:`make_options`)."""
    global _default_options
    _default_options = make_options(train_cfg, source, **kwargs)
    return _default_options


def default_options() -> WandbOptions:
    """The options :func:`configure` set, else those of an empty training config."""
    return _default_options or make_options({})
