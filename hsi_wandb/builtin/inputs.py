"""The values the built-in runner reads from its flags and configs, checked before anything is built."""
import contextlib
import math
import os
from typing import Any, Callable, Dict, Iterator, List, Mapping, NamedTuple, Tuple

from ..yaml_numbers import number_in_text

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_TASK = "PointMassTraj"
CONFIG_STEMS = {"PointMassTraj": "point_mass_traj", "PointMassReach": "point_mass_reach",
                "PointMassMultiTask": "point_mass_multi_task"}
"""The built-in tasks and the stem of their shipped configs (known without importing the tasks, or gym)."""
MAX_SEED = 2 ** 32 - 1


class UsageError(Exception):
    """A bad command line or config file, reported in one line before anything is built."""


class CheckpointMismatch(UsageError):
    """A checkpoint whose weights do not fit the networks built for the task (found when it is loaded)."""


@contextlib.contextmanager
def fitting(checkpoint: str, task: str) -> Iterator[None]:
    """Turn ``load_state_dict``'s misfit error into CheckpointMismatch naming the checkpoint, task and first misfit."""
    try:
        yield
    except RuntimeError as exc:
        if "state_dict" not in str(exc):
            raise
        details = [line.strip() for line in str(exc).splitlines()[1:] if line.strip()] or [str(exc)]
        raise CheckpointMismatch("--checkpoint {} does not fit task {}: {}".format(
            checkpoint, task, details[0].rstrip(".")))


class Kind(NamedTuple):
    """What a value must be: ``accepts(value)`` and the words that say so."""

    words: str
    accepts: Callable[[Any], bool]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


COUNT = Kind("a whole number of at least 1", lambda v: _is_int(v) and v >= 1)
WHOLE = Kind("a whole number of at least 0", lambda v: _is_int(v) and v >= 0)
SEED = Kind("a whole number from 0 to {}".format(MAX_SEED), lambda v: _is_int(v) and 0 <= v <= MAX_SEED)
NUMBER = Kind("a number", _is_number)
FLOAT_TEXT = Kind("a number", lambda v: _is_number(v) or (isinstance(v, str) and number_in_text(v) is not None))
"""A number, or text like ``5e-4`` that the reader turns into one with float()."""
POSITIVE = Kind("a number above 0", lambda v: _is_number(v) and v > 0)
FLAG = Kind("true or false", lambda v: isinstance(v, bool))
MAPPING = Kind("a mapping", lambda v: isinstance(v, dict))
TEXT = Kind("a string", lambda v: isinstance(v, str))

ENV_KEYS: Dict[str, Kind] = {
    "env": MAPPING, "env.numEnvs": COUNT, "env.episodeLength": COUNT, "env.numAMPObsSteps": COUNT,
    "env.maxAccel": FLOAT_TEXT, "env.damping": FLOAT_TEXT, "env.motion_file": TEXT, "env.taskProbs": MAPPING,
    "sim": MAPPING, "sim.dt": POSITIVE,
}
TRAIN_KEYS: Dict[str, Kind] = {
    "params": MAPPING, "params.seed": SEED, "params.algo": MAPPING, "params.algo.name": TEXT,
    "params.model": MAPPING, "params.model.name": TEXT, "params.network": MAPPING, "params.network.name": TEXT,
    "params.config": MAPPING,
    "params.config.name": TEXT, "params.config.gamma": NUMBER, "params.config.tau": NUMBER,
    "params.config.learning_rate": FLOAT_TEXT, "params.config.kl_threshold": NUMBER,
    "params.config.score_to_win": NUMBER, "params.config.grad_norm": NUMBER, "params.config.entropy_coef": NUMBER,
    "params.config.e_clip": NUMBER, "params.config.critic_coef": NUMBER, "params.config.bounds_loss_coef": NUMBER,
    "params.config.horizon_length": COUNT, "params.config.minibatch_size": COUNT,
    "params.config.mini_epochs": COUNT, "params.config.save_frequency": WHOLE,
    "params.config.save_best_after": WHOLE, "params.config.normalize_input": FLAG,
    "params.config.normalize_value": FLAG, "params.config.normalize_advantage": FLAG,
    "params.config.amp_batch_size": COUNT, "params.config.amp_minibatch_size": COUNT,
    "params.config.amp_obs_demo_buffer_size": COUNT, "params.config.amp_replay_buffer_size": COUNT,
    "params.config.amp_replay_keep_prob": FLOAT_TEXT, "params.config.disc_coef": FLOAT_TEXT,
    "params.config.disc_logit_reg": FLOAT_TEXT, "params.config.disc_grad_penalty": FLOAT_TEXT,
    "params.config.disc_reward_scale": FLOAT_TEXT, "params.config.disc_weight_decay": FLOAT_TEXT,
    "params.config.task_reward_w": FLOAT_TEXT, "params.config.disc_reward_w": FLOAT_TEXT,
    "params.config.capture_video": FLAG, "params.config.capture_video_freq": COUNT,
    "params.config.capture_video_len": COUNT,
}
"""The keys the runner, rl_games and the AMP agent read, by kind; REQUIRED lists those they cannot do without."""
REQUIRED = ("env", "env.numEnvs", "env.episodeLength", "sim", "sim.dt", "params", "params.algo", "params.algo.name",
            "params.model", "params.model.name", "params.network", "params.network.name", "params.config",
            "params.config.horizon_length", "params.config.minibatch_size")
FLAGS: Dict[str, Kind] = {"num_envs": COUNT, "seed": SEED, "horizon_length": COUNT, "minibatch_size": COUNT,
                          "max_iterations": COUNT, "num_trials": COUNT, "num_repeats": COUNT,
                          "capture_video_freq": COUNT, "capture_video_len": COUNT}
MISSING = object()


def default_config_paths(task: str) -> Tuple[str, str]:
    """(cfg/env/<task>.yaml, cfg/train/<task>_amp.yaml) for a built-in task, under the project root."""
    stem = CONFIG_STEMS[task]
    return (os.path.join(PROJECT_ROOT, "cfg", "env", stem + ".yaml"),
            os.path.join(PROJECT_ROOT, "cfg", "train", stem + "_amp.yaml"))


def resolve_path(path: str) -> str:
    """Find a config-relative file: as given, else relative to the project root."""
    if os.path.isabs(path) or os.path.exists(path):
        return path
    return os.path.join(PROJECT_ROOT, path)


BUILTIN_RL_GAMES = "1.1.4"
"""The rl-games release the built-in AMP agent and Runner wiring are written for (ASE's and TokenHSI's pin)."""


def check_rl_games() -> None:
    """The installed rl-games is the one the built-in runner is written for; otherwise say how to get it."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("rl-games")
    except PackageNotFoundError:
        found = "none"
    if found != BUILTIN_RL_GAMES:
        raise UsageError("the built-in runner needs rl-games {} (what ASE and TokenHSI pin), this environment has {}: "
                         "install it in an environment of its own with pip install -e \".[builtin]\" (your own "
                         "entry point, through apply_to_runner, works with rl-games 1.6 as it is)".format(
                             BUILTIN_RL_GAMES, found))


def check_flags(args: Any) -> None:
    """Each numeric flag given is in range, and ``--rl_device`` names a device this torch has."""
    for name, kind in FLAGS.items():
        value = getattr(args, name)
        if value is not None and not kind.accepts(value):
            raise UsageError("--{} {}: must be {}".format(name, value, kind.words))
    if args.rl_device is not None:
        check_device(args.rl_device)


def check_device(text: str) -> None:
    """``cpu``, ``cuda`` or ``cuda:N`` with N below the number of GPUs torch sees."""
    import torch

    allowed = "allowed: cpu, cuda, cuda:N"
    try:
        device = torch.device(text)
    except (RuntimeError, ValueError):
        raise UsageError("--rl_device {}: not a torch device; {}".format(text, allowed))
    if device.type not in ("cpu", "cuda"):
        raise UsageError("--rl_device {}: not supported by the built-in runner; {}".format(text, allowed))
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError("--rl_device {}: this torch has no usable CUDA device; use --rl_device cpu".format(text))
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise UsageError("--rl_device {}: torch sees {} GPU(s); allowed: cuda:0 to cuda:{}".format(
            text, torch.cuda.device_count(), torch.cuda.device_count() - 1))


def lookup(cfg: Any, path: str) -> Any:
    """The value at dotted ``path``, or MISSING."""
    node = cfg
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            return MISSING
        node = node[key]
    return node


def source_of(path: str, sources: Mapping[str, str], default: str) -> str:
    """Who set ``path``: the longest recorded prefix (an override, a preset, a flag), else the file."""
    keys = path.split(".")
    for depth in range(len(keys), 0, -1):
        prefix = ".".join(keys[:depth])
        if prefix in sources:
            return sources[prefix]
    return default


def check_config(cfg: Mapping[str, Any], kinds: Mapping[str, Kind], file_source: str,
                 sources: Mapping[str, str]) -> None:
    """Every key of ``kinds`` present in ``cfg`` has its kind; the required ones are present."""
    for path, kind in kinds.items():
        value = lookup(cfg, path)
        source = source_of(path, sources, file_source)
        if value is MISSING:
            parent = path.rpartition(".")[0]
            if path in REQUIRED and (not parent or isinstance(lookup(cfg, parent), dict)):
                raise UsageError("{}: missing `{}` ({})".format(source, path, kind.words))
            continue
        if not kind.accepts(value):
            raise UsageError("{}: `{}` must be {}, got {!r}{}".format(source, path, kind.words, value,
                                                                     _number_hint(value)))


def _number_hint(value: Any) -> str:
    if isinstance(value, str) and number_in_text(value) is not None:
        return " (YAML 1.1 reads {} as text; write {!r})".format(value, number_in_text(value))
    return ""


def check_motion_file(path: str, source: str) -> None:
    """A motion file the AMP task can read: an ``.npz`` with the arrays ``vel`` and ``dt``."""
    import numpy as np

    resolved = resolve_path(path)
    if not os.path.isfile(resolved):
        raise UsageError("{}: motion file {} not found".format(source, path))
    try:
        data = np.load(resolved, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        data = None
    files = set(getattr(data, "files", ()))
    if hasattr(data, "close"):
        data.close()
    if not {"vel", "dt"} <= files:
        raise UsageError("{}: {} is not a motion file: expected an .npz with the arrays vel and dt".format(
            source, path))


def check_batch(values: Mapping[str, int], sources: Mapping[str, str], blame: str) -> None:
    """PPO's batch, ``num_envs x horizon_length``, splits into whole minibatches; else suggest a ``blame`` that fits."""
    num_envs, horizon, minibatch = values["num_envs"], values["horizon_length"], values["minibatch_size"]
    batch = num_envs * horizon
    if batch % minibatch == 0:
        return
    if blame == "num_envs":
        fit = _next_fitting(num_envs, horizon, minibatch)
    elif blame == "horizon_length":
        fit = _next_fitting(horizon, num_envs, minibatch)
    else:
        fit = max(d for d in _divisors(batch) if d <= minibatch)
    raise UsageError("{}: the batch, num_envs x horizon_length = {} x {} = {}, is not a multiple of minibatch_size "
                     "{}; e.g. --{} {} fits".format(sources[blame], num_envs, horizon, batch, minibatch, blame, fit))


def _next_fitting(value: int, other: int, minibatch: int) -> int:
    """The first value from ``value`` up whose product with ``other`` is a multiple of ``minibatch``."""
    step = minibatch // math.gcd(minibatch, other)
    return -(-value // step) * step


def _divisors(n: int) -> List[int]:
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    return small + [n // d for d in small]
