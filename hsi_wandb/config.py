"""The ``use_wandb`` flag and ``wandb:`` section of a training YAML: typed, validated, resolved against the environment.

Each key is declared once, in :data:`USE_WANDB` and the fields of :class:`WandbConfig` (type, default, allowed
values, help); validation, ``run.py``'s ``--wandb_*`` flags and the README's key table (:func:`key_table`) all come
from that declaration.
"""
import dataclasses
import inspect
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

MODES = ("online", "offline", "disabled")
CHECKPOINT_POLICIES = ("files", "last", "metadata", "none")
HISTOGRAMS = ("none", "parameters", "gradients", "all")
MAX_INIT_TIMEOUT = 3600
_ENV_MODE_ALIASES = {"run": "online", "dryrun": "offline"}
OWNED_INIT_KWARGS = ("project", "entity", "name", "group", "tags", "notes", "mode", "config", "dir", "id", "resume",
                     "job_type", "reinit")
"""``wandb.init`` arguments hsi_wandb sets itself (from the section's keys, or to continue a resumed run)."""


class ConfigError(ValueError):
    """A bad value in a training config: names the file, the key and what is allowed."""

    def __init__(self, source: str, key: str, problem: str):
        self.source, self.key, self.problem = source, key, problem
        super().__init__("{}: `{}` {}".format(source, key, problem))


_TYPE_WORDS = {str: "a string", type(None): "null", list: "a list of strings", int: "a whole number",
               float: "a number", bool: "true or false", dict: "a mapping"}


@dataclass(frozen=True)
class Key:
    """What one config key takes: its types, the values allowed (if a fixed set), a condition on its value (``test``,
    said by ``words``), a deeper check of a mapping's content, its help, and whether ``run.py`` has a flag for it."""

    types: Tuple[type, ...]
    help: str
    allowed: Tuple[Any, ...] = ()
    words: str = ""
    test: Optional[Callable[[Any], bool]] = None
    deep_check: Optional[Callable[[str, Any], None]] = None
    flag: bool = True

    def type_words(self) -> str:
        """What the key takes, in words: ``words``, else its types (``(int, float)`` is "a number", ``(int,)`` "a
        whole number")."""
        return self.words or " or ".join(_TYPE_WORDS[t] for t in self.types if not (t is int and float in self.types))

    def check(self, source: str, key: str, value: Any) -> Any:
        """``value`` if this key takes it (a sequence as a list), else ConfigError naming ``source`` and ``key``."""
        if (isinstance(value, bool) and bool not in self.types) or not isinstance(value, self.types):
            raise ConfigError(source, key, "must be {}, got {!r}".format(self.type_words(), value))
        if isinstance(value, list):
            bad = [item for item in value if not isinstance(item, str)]
            if bad:
                raise ConfigError(source, key, "must be {}, got item {!r}".format(self.type_words(), bad[0]))
            value = list(value)
        if self.allowed and value not in self.allowed:
            raise ConfigError(source, key, "is {!r}; allowed: {}".format(value, ", ".join(map(str, self.allowed))))
        if self.test is not None and not self.test(value):
            raise ConfigError(source, key, "must be {}, got {!r}".format(self.type_words(), value))
        if self.deep_check is not None:
            self.deep_check(source, value)
        return value


def _key(default: Any, types: Tuple[type, ...], help: str, **details: Any) -> Any:
    """A :class:`WandbConfig` field: its default and its :class:`Key`."""
    if isinstance(default, (list, dict)):
        return field(default_factory=type(default), metadata={"key": Key(types, help, **details)})
    return field(default=default, metadata={"key": Key(types, help, **details)})


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


def parse_wandb_section(section: Any, source: str) -> "WandbConfig":
    """Validate a ``wandb:`` mapping (any Mapping, lists as any sequence) and return it typed; raise ConfigError on
    the first bad key."""
    if section is None:
        return WandbConfig()
    if not isinstance(section, Mapping):
        raise ConfigError(source, "wandb", "must be a mapping of keys ({}), got {}".format(
            ", ".join(SECTION_KEYS), type(section).__name__))
    values = {}
    for key, value in plain_data(section).items():
        dotted = "wandb.{}".format(key)
        if key not in SECTION_KEYS:
            raise ConfigError(source, dotted, "is not a known key; allowed: {}".format(", ".join(SECTION_KEYS)))
        values[key] = SECTION_KEYS[key].check(source, dotted, value)
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


@dataclass
class WandbConfig:
    """The ``wandb:`` section of a training YAML: each field's :class:`Key` (``SECTION_KEYS``) says what it takes."""

    project: str = _key("hsi_wandb", (str,), "W&B project")
    entity: Optional[str] = _key(None, (str, type(None)), "W&B team or user; null: the API key's default entity")
    name: Optional[str] = _key(None, (str, type(None)),
                               "run name; null: generated from task, config name, learning rate and time")
    group: Optional[str] = _key(None, (str, type(None)), "run group, e.g. training and evaluation runs side by side")
    tags: List[str] = _key([], (list,), "run tags")
    notes: Optional[str] = _key(None, (str, type(None)), "a longer description of the run")
    mode: str = _key("online", (str,), "where the run goes",
                     allowed=MODES)
    checkpoints: str = _key("files", (str,), "checkpoint artifacts: every save point's file, the last one's "
                            "(metadata before), local references, or none (docs/checkpoints.md)",
                            allowed=CHECKPOINT_POLICIES)
    init_timeout: float = _key(30.0, (int, float), "seconds an online start may take before falling back to offline",
                               words="a number of seconds above 0 and at most {}".format(MAX_INIT_TIMEOUT),
                               test=lambda value: 0 < value <= MAX_INIT_TIMEOUT)
    progress: bool = _key(True, (bool,), "a progress bar on rank 0 when stderr is a terminal (`run.py --no_progress`)",
                          flag=False)
    histograms: str = _key("none", (str,), "weight / gradient histograms (expensive)", allowed=HISTOGRAMS)
    histogram_freq: int = _key(10, (int,), "epochs between two histogram logs", words="a whole number of at least 1",
                               test=lambda value: value >= 1)
    save_code: bool = _key(False, (bool,), "a snapshot (a `code` artifact) of the `.py` and `.yaml` files of the "
                           "repository holding the entry-point script")
    videos: Optional[str] = _key(None, (str, type(None)), "a folder or glob, relative to the experiment folder, whose "
                                 "new video files are logged (README: Rollout videos)",
                                 words="a folder or glob with video files, or null",
                                 test=lambda value: value is None or bool(value.strip()))
    init_kwargs: Dict[str, Any] = _key({}, (dict,), "more `wandb.init` arguments (`settings`, `anonymous`, "
                                       "`fork_from`, ...), checked against its signature",
                                       deep_check=_check_init_kwargs, flag=False)


SECTION_KEYS: Dict[str, Key] = {f.name: f.metadata["key"] for f in dataclasses.fields(WandbConfig)}
"""Each ``wandb:`` key and what it takes, in the order of the section."""
USE_WANDB = Key((bool, str), "whether to start a W&B run at all; auto: on when an API key is in the environment or "
                "./.env, or a mode is chosen by the environment or the command line", allowed=(True, False, "auto"))


def key_table() -> str:
    """The README's table of config keys, made from their declarations."""
    rows = ["| key | type | default | meaning |", "|---|---|---|---|",
            _table_row("use_wandb", USE_WANDB, "auto")]
    defaults = WandbConfig()
    rows += [_table_row("wandb." + name, key, getattr(defaults, name)) for name, key in SECTION_KEYS.items()]
    return "\n".join(rows)


def _table_row(name: str, key: Key, default: Any) -> str:
    kind = ", ".join("`{}`".format(value) for value in key.allowed) if key.allowed else key.type_words()
    return "| `{}` | {} | `{}` | {} |".format(name, kind, _yaml_words(default), key.help)


def _yaml_words(value: Any) -> str:
    """``value`` as a YAML file writes it (null, true, [], 30)."""
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, float):
        return "{:g}".format(value)
    if isinstance(value, (list, dict)):
        return "[]" if isinstance(value, list) else "{}"
    return str(value)


def parse_use_wandb(value: Any, source: str) -> Union[bool, str]:
    """Validate the top-level ``use_wandb`` flag (True, False or auto; absent means auto)."""
    if value is None:
        return "auto"
    if isinstance(value, str) and value.lower() in ("auto", "true", "false"):
        return {"auto": "auto", "true": True, "false": False}[value.lower()]
    if isinstance(value, bool):
        return value
    raise ConfigError(source, "use_wandb", "is {!r}; allowed: {}".format(value, ", ".join(map(str, USE_WANDB.allowed))))


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
        Key((str,), "", allowed=MODES + tuple(_ENV_MODE_ALIASES)).check("environment", "WANDB_MODE", mode)
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
