"""The ``use_wandb`` flag and ``wandb:`` section of a training YAML: typed, validated, resolved against the environment."""
import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Union

MODES = ("online", "offline", "disabled")
USE_WANDB_VALUES = (True, False, "auto")
CHECKPOINT_POLICIES = ("files", "metadata", "none")
_ENV_MODE_ALIASES = {"run": "online", "dryrun": "offline"}


class ConfigError(ValueError):
    """A bad value in a training config: names the file, the key and what is allowed."""

    def __init__(self, source: str, key: str, problem: str):
        self.source, self.key, self.problem = source, key, problem
        super().__init__("{}: `{}` {}".format(source, key, problem))


@dataclass
class WandbConfig:
    """The ``wandb:`` section of a training YAML, one documented field per key."""

    project: str = "hsi_wandb"
    """W&B project the run goes to."""
    entity: Optional[str] = None
    """W&B team or user; None means the default entity of the API key."""
    name: Optional[str] = None
    """Run name; None generates one from task, config name, learning rate and time."""
    group: Optional[str] = None
    """Run group, e.g. to put training and evaluation runs side by side."""
    tags: List[str] = field(default_factory=list)
    """Free-form run tags."""
    notes: Optional[str] = None
    """A longer description of the run."""
    mode: str = "online"
    """online | offline | disabled; WANDB_MODE in the environment overrides it."""
    checkpoints: str = "files"
    """files: upload checkpoints as artifacts; metadata: reference local files only; none: no artifacts."""
    init_timeout: float = 30.0
    """Seconds an online start may take before falling back to offline."""


_FIELD_TYPES = {
    "project": (str,),
    "entity": (str, type(None)),
    "name": (str, type(None)),
    "group": (str, type(None)),
    "tags": (list,),
    "notes": (str, type(None)),
    "mode": (str,),
    "checkpoints": (str,),
    "init_timeout": (int, float),
}
_TYPE_WORDS = {str: "a string", type(None): "null", list: "a list of strings", int: "a number", float: "a number"}


def _describe(types) -> str:
    words = []
    for t in types:
        if _TYPE_WORDS[t] not in words:
            words.append(_TYPE_WORDS[t])
    return " or ".join(words)


def _check_choice(source: str, key: str, value: Any, allowed) -> None:
    if value not in allowed:
        raise ConfigError(source, key, "is {!r}; allowed: {}".format(value, ", ".join(str(a) for a in allowed)))


def parse_wandb_section(section: Any, source: str) -> WandbConfig:
    """Validate a ``wandb:`` mapping and return it typed; raise ConfigError on the first bad key."""
    if section is None:
        return WandbConfig()
    if not isinstance(section, Mapping):
        raise ConfigError(source, "wandb", "must be a mapping of keys ({}), got {}".format(
            ", ".join(_FIELD_TYPES), type(section).__name__))
    values = {}
    for key, value in section.items():
        dotted = "wandb.{}".format(key)
        if key not in _FIELD_TYPES:
            raise ConfigError(source, dotted, "is not a known key; allowed: {}".format(", ".join(_FIELD_TYPES)))
        types = _FIELD_TYPES[key]
        if isinstance(value, bool) or not isinstance(value, types):
            raise ConfigError(source, dotted, "must be {}, got {!r}".format(_describe(types), value))
        values[key] = value
    if "tags" in values:
        bad = [t for t in values["tags"] if not isinstance(t, str)]
        if bad:
            raise ConfigError(source, "wandb.tags", "must be a list of strings, got item {!r}".format(bad[0]))
        values["tags"] = list(values["tags"])
    _check_choice(source, "wandb.mode", values.get("mode", "online"), MODES)
    _check_choice(source, "wandb.checkpoints", values.get("checkpoints", "files"), CHECKPOINT_POLICIES)
    if values.get("init_timeout", 1) <= 0:
        raise ConfigError(source, "wandb.init_timeout", "must be a positive number of seconds")
    return WandbConfig(**values)


def parse_use_wandb(value: Any, source: str) -> Union[bool, str]:
    """Validate the top-level ``use_wandb`` flag (True, False or auto; absent means auto)."""
    if value is None:
        return "auto"
    if isinstance(value, str) and value.lower() in ("auto", "true", "false"):
        return {"auto": "auto", "true": True, "false": False}[value.lower()]
    if isinstance(value, bool):
        return value
    raise ConfigError(source, "use_wandb", "is {!r}; allowed: True, False, auto".format(value))


def api_key_available(environ: Mapping[str, str], dotenv_path: str = ".env") -> bool:
    """True when a W&B API key is in the environment or in a ``.env`` file in the working directory."""
    if environ.get("WANDB_API_KEY"):
        return True
    if os.path.isfile(dotenv_path):
        from dotenv import dotenv_values

        return bool(dotenv_values(dotenv_path).get("WANDB_API_KEY"))
    return False


@dataclass
class WandbSettings:
    """Everything hsi_wandb needs to know to start a run: the resolved mode plus the typed section."""

    mode: str
    """online | offline | disabled after use_wandb, auto-detection and WANDB_MODE are applied."""
    wandb: WandbConfig
    source: str = "<config>"

    @property
    def enabled(self) -> bool:
        """True when a W&B run should be started at all."""
        return self.mode != "disabled"


def resolve_settings(train_cfg: Mapping[str, Any], source: str = "<config>",
                     environ: Optional[Mapping[str, str]] = None) -> WandbSettings:
    """Resolve a training config's W&B switches; precedence: WANDB_MODE, then use_wandb/mode in the file."""
    environ = os.environ if environ is None else environ
    if not isinstance(train_cfg, Mapping):
        raise ConfigError(source, "<top level>", "must be a mapping, got {}".format(type(train_cfg).__name__))
    use = parse_use_wandb(train_cfg.get("use_wandb"), source)
    section = parse_wandb_section(train_cfg.get("wandb"), source)
    env_mode = environ.get("WANDB_MODE")
    if env_mode:
        env_mode = _ENV_MODE_ALIASES.get(env_mode.lower(), env_mode.lower())
        _check_choice("environment", "WANDB_MODE", env_mode, MODES)
    if use is False:
        mode = "disabled"
    elif use == "auto" and not api_key_available(environ) and not env_mode:
        mode = "disabled"
    else:
        mode = env_mode or section.mode
    return WandbSettings(mode=mode, wandb=section, source=source)


def section_as_dict(cfg: WandbConfig) -> Dict[str, Any]:
    """The section as plain data, e.g. for the logged config."""
    return dataclasses.asdict(cfg)
