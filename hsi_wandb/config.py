"""The ``use_wandb`` flag and ``wandb:`` section of a training YAML: typed, validated, resolved against the environment."""
import inspect
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

MODES = ("online", "offline", "disabled")
CHECKPOINT_POLICIES = ("files", "last", "metadata", "none")
HISTOGRAMS = ("none", "parameters", "gradients", "all")
MAX_INIT_TIMEOUT = 3600
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
    """files: every save point's file; last: the last one's, metadata before; metadata: local references; none."""
    init_timeout: float = 30.0
    """Seconds an online start may take before falling back to offline."""
    progress: bool = True
    """A tqdm progress bar on rank 0 when stderr is a terminal."""
    histograms: str = "none"
    """none | parameters | gradients | all: weight/gradient histograms, expensive, off by default."""
    histogram_freq: int = 10
    """Epochs between two histogram logs."""
    save_code: bool = False
    """Attach a snapshot of the project's .py and .yaml files to the run."""
    videos: Optional[str] = None
    """A folder or glob (relative to the experiment folder) whose new .mp4/.gif/.webm/.ogg files are logged as
    ``videos/<folder name>`` at the frame of the epoch they were finished in; None: no videos."""
    init_kwargs: Dict[str, Any] = field(default_factory=dict)
    """More ``wandb.init`` arguments (``settings`` as a mapping, ``anonymous``, ``fork_from``, ...)."""


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
    "progress": (bool,),
    "histograms": (str,),
    "histogram_freq": (int,),
    "save_code": (bool,),
    "videos": (str, type(None)),
    "init_kwargs": (dict,),
}
OWNED_INIT_KWARGS = ("project", "entity", "name", "group", "tags", "notes", "mode", "config", "dir", "id", "resume",
                     "job_type", "reinit")
"""``wandb.init`` arguments hsi_wandb sets itself (from the section's keys, or to continue a resumed run)."""
_TYPE_WORDS = {str: "a string", type(None): "null", list: "a list of strings", int: "a whole number",
               float: "a number", bool: "true or false", dict: "a mapping"}


def _describe(types) -> str:
    """``(int, float)`` is "a number", ``(int,)`` "a whole number"."""
    return " or ".join(_TYPE_WORDS[t] for t in types if not (t is int and float in types))


def _check_choice(source: str, key: str, value: Any, allowed) -> None:
    if value not in allowed:
        raise ConfigError(source, key, "is {!r}; allowed: {}".format(value, ", ".join(str(a) for a in allowed)))


def is_sequence(value: Any) -> bool:
    """A list-like value that is not text: a list, a tuple, an OmegaConf ``ListConfig``."""
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def plain_data(value: Any, leaf: Callable[[Any], Any] = lambda item: item) -> Any:
    """``value`` with every mapping as a dict and every sequence as a list: the containers a config system
    (OmegaConf's ``DictConfig`` and ``ListConfig``, hydra's configs) hands over, made plain; ``leaf`` maps the rest."""
    if isinstance(value, Mapping):
        return {key: plain_data(item, leaf) for key, item in value.items()}
    if is_sequence(value):
        return [plain_data(item, leaf) for item in value]
    return leaf(value)


def parse_wandb_section(section: Any, source: str) -> WandbConfig:
    """Validate a ``wandb:`` mapping (any Mapping, lists as any sequence) and return it typed; raise ConfigError on
    the first bad key."""
    if section is None:
        return WandbConfig()
    if not isinstance(section, Mapping):
        raise ConfigError(source, "wandb", "must be a mapping of keys ({}), got {}".format(
            ", ".join(_FIELD_TYPES), type(section).__name__))
    values = {}
    for key, value in plain_data(section).items():
        dotted = "wandb.{}".format(key)
        if key not in _FIELD_TYPES:
            raise ConfigError(source, dotted, "is not a known key; allowed: {}".format(", ".join(_FIELD_TYPES)))
        types = _FIELD_TYPES[key]
        if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
            raise ConfigError(source, dotted, "must be {}, got {!r}".format(_describe(types), value))
        values[key] = value
    if "tags" in values:
        bad = [t for t in values["tags"] if not isinstance(t, str)]
        if bad:
            raise ConfigError(source, "wandb.tags", "must be a list of strings, got item {!r}".format(bad[0]))
        values["tags"] = list(values["tags"])
    _check_choice(source, "wandb.mode", values.get("mode", "online"), MODES)
    _check_choice(source, "wandb.checkpoints", values.get("checkpoints", "files"), CHECKPOINT_POLICIES)
    _check_choice(source, "wandb.histograms", values.get("histograms", "none"), HISTOGRAMS)
    if not 0 < values.get("init_timeout", 1) <= MAX_INIT_TIMEOUT:
        raise ConfigError(source, "wandb.init_timeout", "must be a number of seconds above 0 and at most {}".format(
            MAX_INIT_TIMEOUT))
    if values.get("histogram_freq", 1) <= 0:
        raise ConfigError(source, "wandb.histogram_freq", "must be a positive number of epochs")
    if values.get("videos") is not None and not values["videos"].strip():
        raise ConfigError(source, "wandb.videos", "must be a folder or glob with video files, or null; got an "
                          "empty string")
    _check_init_kwargs(source, values.get("init_kwargs", {}))
    return WandbConfig(**values)


def _check_init_kwargs(source: str, kwargs: Mapping[str, Any]) -> None:
    """Refuse ``wandb.init_kwargs`` keys hsi_wandb owns, that ``wandb.init`` does not take, or a bad ``settings``."""
    for key in kwargs:
        if key in OWNED_INIT_KWARGS:
            raise ConfigError(source, "wandb.init_kwargs.{}".format(key), "is set by hsi_wandb (use the wandb: key "
                              "of that name where there is one); not allowed here: {}".format(
                                  ", ".join(OWNED_INIT_KWARGS)))
    if not isinstance(kwargs.get("settings", {}), Mapping):
        raise ConfigError(source, "wandb.init_kwargs.settings", "must be a mapping of wandb.Settings fields")
    from ._wandb import load_wandb

    wandb = load_wandb() if kwargs else None
    if wandb is None:
        return
    accepted = set(inspect.signature(wandb.init).parameters) - set(OWNED_INIT_KWARGS)
    for key in kwargs:
        if key not in accepted:
            raise ConfigError(source, "wandb.init_kwargs.{}".format(key), "is not an argument of wandb.init; "
                              "allowed: {}".format(", ".join(sorted(accepted))))
    _check_run_settings(source, wandb, kwargs.get("settings") or {})


def _check_run_settings(source: str, wandb: Any, settings: Mapping[str, Any]) -> None:
    """``wandb.init_kwargs.settings`` as ``wandb.Settings`` takes it: an unknown or mistyped field stops here, before
    training, not at ``wandb.init`` once training runs."""
    try:
        wandb.Settings(**settings)
    except Exception as exc:
        errors = getattr(exc, "errors", None)
        first = errors()[0] if callable(errors) and errors() else {}
        field = ".".join(str(part) for part in first.get("loc", ())) or "?"
        if first.get("type") == "extra_forbidden":
            problem = "is not a wandb.Settings field"
        else:
            problem = "is {!r}: {}".format(first.get("input"), first.get("msg") or exc)
        raise ConfigError(source, "wandb.init_kwargs.settings.{}".format(field), problem)


def parse_use_wandb(value: Any, source: str) -> Union[bool, str]:
    """Validate the top-level ``use_wandb`` flag (True, False or auto; absent means auto)."""
    if value is None:
        return "auto"
    if isinstance(value, str) and value.lower() in ("auto", "true", "false"):
        return {"auto": "auto", "true": True, "false": False}[value.lower()]
    if isinstance(value, bool):
        return value
    raise ConfigError(source, "use_wandb", "is {!r}; allowed: True, False, auto".format(value))


def dotenv_api_key(dotenv_path: str = ".env") -> Optional[str]:
    """The W&B API key from a ``.env`` file in the working directory, if any (read, never exported or printed)."""
    if not os.path.isfile(dotenv_path):
        return None
    from dotenv import dotenv_values

    return dotenv_values(dotenv_path).get("WANDB_API_KEY") or None


_ENV_VARIABLES = {"project": "WANDB_PROJECT", "entity": "WANDB_ENTITY", "name": "WANDB_NAME",
                  "group": "WANDB_RUN_GROUP", "tags": "WANDB_TAGS", "notes": "WANDB_NOTES", "mode": "WANDB_MODE"}


def _environment_values(environ: Mapping[str, str]) -> Dict[str, Any]:
    """The ``wandb:`` keys set through W&B's own environment variables."""
    values: Dict[str, Any] = {}
    for key, name in _ENV_VARIABLES.items():
        value = environ.get(name)
        if value:
            values[key] = value
    if "tags" in values:
        values["tags"] = [t.strip() for t in values["tags"].split(",") if t.strip()]
    if "mode" in values:
        mode = values["mode"].strip().lower()
        _check_choice("environment", "WANDB_MODE", mode, MODES + tuple(_ENV_MODE_ALIASES))
        values["mode"] = _ENV_MODE_ALIASES.get(mode, mode)
    return values


def _normalise_mode_variable(environ: Any) -> None:
    """Leave WANDB_MODE as W&B itself accepts it (it reads the variable too): lower case, and unset when empty."""
    value = environ.get("WANDB_MODE")
    if value is not None and not value.strip():
        del environ["WANDB_MODE"]
    elif value is not None:
        environ["WANDB_MODE"] = value.strip().lower()


@dataclass
class WandbSettings:
    """Everything hsi_wandb needs to know to start a run: the resolved mode plus the typed section."""

    mode: str
    """online | offline | disabled after use_wandb, auto-detection and every override are applied."""
    wandb: WandbConfig
    source: str = "<config>"
    api_key: Optional[str] = field(default=None, repr=False)
    """A key found only in ./.env, handed to wandb directly; never logged."""

    @property
    def enabled(self) -> bool:
        """True when a W&B run should be started at all."""
        return self.mode != "disabled"


def resolve_settings(train_cfg: Mapping[str, Any], source: str = "<config>",
                     environ: Optional[Mapping[str, str]] = None,
                     overrides: Optional[Mapping[str, Any]] = None) -> WandbSettings:
    """Resolve a training config's W&B switches.

    Precedence, highest first: ``overrides`` (the command line), ``WANDB_*`` environment variables
    (WANDB_MODE, WANDB_PROJECT, WANDB_ENTITY, WANDB_NAME, WANDB_RUN_GROUP, WANDB_TAGS, WANDB_NOTES),
    the config file, the defaults. ``use_wandb: auto`` turns W&B on when an API key is in the
    environment or ./.env, or when a mode was chosen explicitly by the environment or command line.
    An empty WANDB_MODE counts as unset; a valid one in ``os.environ`` is rewritten the way W&B accepts it.
    """
    environ = os.environ if environ is None else environ
    if not isinstance(train_cfg, Mapping):
        raise ConfigError(source, "<top level>", "must be a mapping, got {}".format(type(train_cfg).__name__))
    file_use = parse_use_wandb(train_cfg.get("use_wandb"), source)
    file_section = train_cfg.get("wandb")
    parse_wandb_section(file_section, source)
    cli = dict(overrides or {})
    use = parse_use_wandb(cli.pop("use_wandb"), "command line") if cli.get("use_wandb") is not None else file_use
    cli.pop("use_wandb", None)
    parse_wandb_section(cli, "command line")
    env_values = _environment_values(environ)
    merged = dict(file_section or {})
    merged.update(env_values)
    merged.update(cli)
    section = parse_wandb_section(merged, source)
    if environ is os.environ:
        _normalise_mode_variable(os.environ)
    key = environ.get("WANDB_API_KEY") or dotenv_api_key()
    if use is False or (use == "auto" and not key and "mode" not in env_values and "mode" not in cli):
        mode = "disabled"
    else:
        mode = section.mode
    return WandbSettings(mode=mode, wandb=section, source=source,
                         api_key=None if environ.get("WANDB_API_KEY") else key)
