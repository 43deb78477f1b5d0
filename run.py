"""Train or evaluate a built-in IsaacGym-style task with the AMP agent, mirrored to W&B (TokenHSI-style command line).

    python run.py                                   # the embedded default task and configs
    python run.py --task PointMassReach --max_iterations 40
    python run.py --test --eval --task PointMassReach --checkpoint output/<exp>/nn/PointMassReach.pth
    python run.py --test --eval --task PointMassReach --checkpoint output/<exp>/nn/    # every checkpoint: a curve
    python run.py --preset fast_debug params.config.learning_rate=1e-4 --wandb_tags sweep a
"""
import argparse
import os
import shutil
import sys
import tempfile
import time
import warnings
from typing import Any, Dict, List, NoReturn, Optional, Tuple

import yaml

from hsi_wandb import ConfigError, load_run_record, resolve_settings
from hsi_wandb.builtin.console import quiet_console
from hsi_wandb.builtin.inputs import (CONFIG_STEMS, DEFAULT_TASK, ENV_KEYS, PROJECT_ROOT, TRAIN_KEYS, UsageError,
                                      check_batch, check_config, check_flags, check_motion_file, check_rl_games,
                                      default_config_paths, lookup, source_of)
from hsi_wandb.builtin.rollout_video import encoder_missing
from hsi_wandb.config import SECTION_KEYS, Key, WandbSettings, parse_use_wandb, parse_wandb_section
from hsi_wandb.evaluation import NoCheckpoints, find_checkpoints
from hsi_wandb.yaml_numbers import number_in_text
from hsi_wandb.adapter import apply_to_runner

DEFAULT_PRESETS = os.path.join(PROJECT_ROOT, "cfg", "presets.yaml")
BATCH_FLAGS = ("minibatch_size", "num_envs", "horizon_length")
VIDEO_FLAGS = ("capture_video", "capture_video_freq", "capture_video_len")
WANDB_CHECKS = {"use_wandb": parse_use_wandb, "wandb": parse_wandb_section}
WANDB_FLAGS = {key: declared for key, declared in SECTION_KEYS.items() if declared.flag}
"""The ``wandb:`` keys with a ``--wandb_<key>`` flag: each but the mapping and progress (``--no_progress``)."""
"""The top-level W&B keys of a training config and their checks."""


class OneLineParser(argparse.ArgumentParser):
    """Bad flags are one line, as every other bad input is (the usage is in ``--help``)."""

    def error(self, message: str) -> NoReturn:
        """Print ``run.py: error: <message>`` and exit 2."""
        self.exit(2, "{}: error: {} (see --help)\n".format(self.prog, message))


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """The flags ASE/TokenHSI users type, with the same meanings; trailing overrides may sit between flags."""
    p = OneLineParser(prog="run.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", default=DEFAULT_TASK, help="built-in task name (default: %(default)s)")
    p.add_argument("--cfg_env", help="env config YAML (default: cfg/env/<task>.yaml)")
    p.add_argument("--cfg_train", help="training config YAML (default: cfg/train/<task>_amp.yaml)")
    p.add_argument("--motion_file", help="demonstration clips (.npz) for the AMP discriminator")
    p.add_argument("--checkpoint", help="checkpoint to evaluate (with --test also a folder or glob pattern of "
                                        "checkpoints, each evaluated in epoch order into one eval run), or to "
                                        "continue training from with --resume 1")
    p.add_argument("--resume", type=int, default=0, choices=(0, 1), help="1: continue training from --checkpoint")
    p.add_argument("--test", action="store_true", help="run the policy instead of training")
    p.add_argument("--eval", action="store_true", help="with --test: measure success rates and log them")
    p.add_argument("--eval_task", help="task to evaluate on (default: --task)")
    p.add_argument("--num_trials", type=int,
                   help="evaluation trials per experiment (default: params.evaluation, else the number of envs)")
    p.add_argument("--num_repeats", type=int, help="evaluation experiments (default: params.evaluation, else 1)")
    p.add_argument("--num_envs", type=int, help="number of parallel environments")
    p.add_argument("--headless", action="store_true", help="accepted for compatibility; there is no viewer")
    p.add_argument("--seed", type=int, help="random seed")
    p.add_argument("--max_iterations", type=int, help="training epochs")
    p.add_argument("--horizon_length", type=int, help="rollout length per epoch")
    p.add_argument("--minibatch_size", type=int, help="PPO minibatch size")
    p.add_argument("--output_path", default="output", help="where experiments are written (default: %(default)s)")
    p.add_argument("--rl_device", help="torch device (default: cuda:0 if available, else cpu)")
    p.add_argument("--capture_video", action="store_true", default=None,
                   help="record .mp4 rollouts of four envs (the video extra): while training every "
                        "--capture_video_freq epochs into <experiment>/videos/train, with --test --eval once into "
                        "videos/eval; on W&B as videos/train and videos/eval")
    p.add_argument("--capture_video_freq", type=int, help="epochs between two training videos (default: 20)")
    p.add_argument("--capture_video_len", type=int, help="steps in a video (default: 100)")
    w = p.add_argument_group("W&B (override the wandb: section; precedence: flags, WANDB_* environment, file)")
    on_off = w.add_mutually_exclusive_group()
    on_off.add_argument("--use_wandb", dest="use_wandb", action="store_true", default=None, help="turn W&B on")
    on_off.add_argument("--no_wandb", dest="use_wandb", action="store_false", help="turn W&B off")
    for key, declared in WANDB_FLAGS.items():
        w.add_argument("--wandb_" + key, **flag_kind(key, declared))
    w.add_argument("--no_progress", action="store_true", help="no progress bar")
    p.add_argument("--verbose", action="store_true",
                   help="also show what rl_games, gym and W&B print (parameter lists, banners, W&B's run summary)")
    p.add_argument("--preset", help="a named experiment from --presets_file (overrides, group, tags, notes)")
    p.add_argument("--presets_file", default=DEFAULT_PRESETS, help="presets YAML (default: cfg/presets.yaml)")
    p.add_argument("--dry_run", action="store_true",
                   help="check both configs, start the W&B run, train one epoch, write no checkpoint")
    p.add_argument("overrides", nargs="*", metavar="key.path=value",
                   help="override any training-config value, typed by YAML rules (params.config.gamma=0.98)")
    p.set_defaults(overrides_after_tags=[])
    argv = sys.argv[1:] if argv is None else list(argv)
    args, later = p.parse_known_args(argv)
    unknown = [arg for arg in later if arg.startswith("-")]
    if unknown:
        p.error("unrecognized arguments: {}".format(" ".join(unknown)))
    args.overrides = in_command_line_order(argv, args.overrides + args.overrides_after_tags + later)
    del args.overrides_after_tags
    return args


def in_command_line_order(argv: List[str], words: List[str]) -> List[str]:
    """``words`` sorted by where they stand in ``argv`` (``--wandb_tags=a=1`` has no place: it goes last)."""
    taken: set = set()
    positions = []
    for word in words:
        position = next((i for i, arg in enumerate(argv) if arg == word and i not in taken), len(argv))
        taken.add(position)
        positions.append(position)
    return [word for _, _, word in sorted(zip(positions, range(len(words)), words))]


class TagsAction(argparse.Action):
    """``--wandb_tags``: the words up to the first ``key.path=value``; that one and any after it are overrides."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: Optional[str] = None) -> None:
        cut = next((i for i, value in enumerate(values) if "=" in value), len(values))
        namespace.wandb_tags = (namespace.wandb_tags or []) + list(values[:cut])
        namespace.overrides_after_tags = namespace.overrides_after_tags + list(values[cut:])


def flag_kind(key: str, declared: Key) -> Dict[str, Any]:
    """How ``--wandb_<key>`` reads its value and what its help says, from what the key takes."""
    kind: Dict[str, Any] = dict(help="wandb.{}: {}".format(key, declared.help), metavar=key.upper())
    if list in declared.types:
        kind.update(nargs="*", metavar="TAG", action=TagsAction,
                    help=kind["help"] + " (repeatable); the tags end at the next flag or at the first key.path=value")
    elif declared.allowed:
        kind.update(choices=declared.allowed, metavar=None)
    elif bool in declared.types:
        kind.update(type=yaml_bool, metavar="{true,false}")
    elif int in declared.types:
        kind.update(type=float if float in declared.types else int)
    return kind


def yaml_bool(text: str) -> bool:
    """true or false, as YAML reads them (yes/no, on/off too)."""
    value = yaml.safe_load(text)
    if not isinstance(value, bool):
        raise argparse.ArgumentTypeError("{!r} is not true or false".format(text))
    return value


def wandb_overrides(args: argparse.Namespace) -> Dict[str, Any]:
    """The command-line values for the wandb: section (only those given)."""
    values = {key: getattr(args, "wandb_" + key) for key in WANDB_FLAGS}
    values = {k: v for k, v in values.items() if v is not None}
    if args.use_wandb is not None:
        values["use_wandb"] = args.use_wandb
    if args.no_progress:
        values["progress"] = False
    if args.dry_run and args.checkpoint and not args.test:
        values["mode"] = "offline"  # the resume's scratch folder is deleted: nothing goes online
    return values


def parse_value(text: str) -> Any:
    """A command-line value typed by YAML rules (numbers like 1e-4 included)."""
    value = yaml.safe_load(text) if text.strip() else ""
    if isinstance(value, str) and number_in_text(value) is not None:
        return number_in_text(value)
    return value


def set_path(cfg: Dict[str, Any], path: str, value: Any, source: str) -> None:
    """Set the dotted ``path`` of ``cfg`` to ``value``; every key on the path must exist already."""
    node, keys = cfg, path.split(".")
    for depth, key in enumerate(keys):
        if not isinstance(node, dict) or key not in node:
            known = ", ".join(sorted(map(str, node))) if isinstance(node, dict) else "none (not a mapping)"
            raise UsageError("{}: `{}` has no key `{}`; keys there: {}".format(
                source, ".".join(keys[:depth]) or "<top level>", key, known))
        if depth == len(keys) - 1:
            node[key] = value
        node = node[key]


def assign(cfg: Dict[str, Any], path: str, value: Any, source: str) -> None:
    """Set a dotted path for an override or preset; ``use_wandb``, ``wandb`` and a ``wandb.<key>`` are checked at
    once (a bad value is the override's or preset's, not the file's) and may be new."""
    section, _, key = path.partition(".")
    try:
        if path in WANDB_CHECKS:
            WANDB_CHECKS[path](value, source)
            cfg[path] = value
            return
        if section == "wandb" and key and isinstance(cfg.get("wandb") or {}, dict):
            parse_wandb_section({key: value}, source)
            cfg["wandb"] = dict(cfg.get("wandb") or {}, **{key: value})
            return
    except ConfigError as exc:
        raise UsageError(str(exc))
    set_path(cfg, path, value, source)


def apply_override(cfg: Dict[str, Any], assignment: str) -> str:
    """Apply one trailing ``key.path=value`` argument; returns the path."""
    path, sep, text = assignment.partition("=")
    if not sep or not path:
        raise UsageError("override {!r}: expected key.path=value".format(assignment))
    try:
        value = parse_value(text)
    except yaml.YAMLError as exc:
        raise UsageError("override {}: value is not valid YAML: {}".format(assignment, str(exc).replace("\n", " ")))
    assign(cfg, path, value, "override {}".format(assignment))
    return path


def apply_preset(cfg_train: Dict[str, Any], name: str, path: str) -> List[str]:
    """Apply a named preset: its overrides, and its group/tags/notes to the wandb: section; returns the paths set."""
    presets = read_yaml(path, "--presets_file").get("presets") or {}
    if not isinstance(presets, dict):
        raise UsageError("--presets_file {}: `presets` must be a mapping of names to presets".format(path))
    if name not in presets:
        raise UsageError("--preset {}: not in {}; choose one of {}".format(name, path, ", ".join(sorted(presets))))
    preset = presets[name] or {}
    source = "--preset {} ({})".format(name, path)
    if not isinstance(preset, dict):
        raise UsageError("{}: must be a mapping with overrides, group, tags, notes".format(source))
    unknown = set(preset) - {"overrides", "group", "tags", "notes"}
    if unknown:
        raise UsageError("--presets_file {}: preset {} has unknown keys {}; allowed: overrides, group, tags, "
                         "notes".format(path, name, ", ".join(sorted(map(str, unknown)))))
    overrides = preset.get("overrides") or {}
    if not isinstance(overrides, dict):
        raise UsageError("{}: `overrides` must be a mapping of key.path: value, got {}".format(
            source, type(overrides).__name__))
    assignments = [(str(key), value) for key, value in overrides.items()]
    assignments += [("wandb." + key, preset[key]) for key in ("group", "tags", "notes") if key in preset]
    for key, value in assignments:
        assign(cfg_train, key, value, source)
    return [key for key, _ in assignments]


def read_yaml(path: str, flag: str) -> Dict[str, Any]:
    """A YAML mapping from ``path``, or a UsageError naming the flag, the file and the problem."""
    if not os.path.isfile(path):
        raise UsageError("{} {}: file not found".format(flag, path))
    try:
        with open(path, "rb") as f:
            data = yaml.safe_load(f)
    except yaml.YAMLError as exc:
        raise UsageError("{} {}: malformed YAML: {}".format(flag, path, str(exc).replace("\n", " ")))
    except RecursionError:
        raise UsageError("{} {}: malformed YAML: nested too deeply".format(flag, path))
    if not isinstance(data, dict):
        raise UsageError("{} {}: expected a mapping at the top level".format(flag, path))
    return data


def load_configs(args: argparse.Namespace):
    """Check every input and return (cfg_env, cfg_train, wandb settings) before anything is built.

    The flags that set config values (--num_envs, --motion_file, --horizon_length, --minibatch_size) are
    applied here, so the configs returned (and logged) hold what the run uses.
    """
    for flag, task in (("--task", args.task), ("--eval_task", args.eval_task)):
        if task is not None and task not in CONFIG_STEMS:
            raise UsageError("{} {}: unknown task; choose one of {}".format(flag, task,
                                                                            ", ".join(sorted(CONFIG_STEMS))))
    check_flags(args)
    default_env, default_train = default_config_paths(args.task)
    args.cfg_env, args.cfg_train = args.cfg_env or default_env, args.cfg_train or default_train
    env_file, train_file = "--cfg_env {}".format(args.cfg_env), "--cfg_train {}".format(args.cfg_train)
    cfg_env = read_yaml(args.cfg_env, "--cfg_env")
    cfg_train = read_yaml(args.cfg_train, "--cfg_train")
    train_sources: Dict[str, str] = {}
    if args.preset:
        source = "--preset {} ({})".format(args.preset, args.presets_file)
        train_sources.update((path, source) for path in apply_preset(cfg_train, args.preset, args.presets_file))
    for assignment in args.overrides:
        train_sources[apply_override(cfg_train, assignment)] = "override {}".format(assignment)
    train_sources.update(apply_flags(args, cfg_train, "params.config", {key: key for key in VIDEO_FLAGS}))
    if lookup(cfg_train, "params.config.capture_video") is True:
        watch_own_videos(cfg_train)
    try:
        settings = resolve_settings(cfg_train, args.cfg_train, overrides=wandb_overrides(args))
    except ConfigError as exc:
        raise UsageError(str(exc))
    env_sources = apply_flags(args, cfg_env, "env", {"num_envs": "numEnvs", "motion_file": "motion_file"})
    train_sources.update(apply_flags(args, cfg_train, "params.config",
                                     {"horizon_length": "horizon_length", "minibatch_size": "minibatch_size"}))
    check_config(cfg_env, ENV_KEYS, env_file, env_sources)
    check_config(cfg_train, TRAIN_KEYS, train_file, train_sources)
    if cfg_env["env"].get("motion_file") is not None:
        check_motion_file(cfg_env["env"]["motion_file"], env_sources.get("env.motion_file", env_file))
    if not args.test:
        check_training_batch(cfg_env, cfg_train, dict(env_sources, **train_sources), env_file, train_file)
    if args.checkpoint:
        check_checkpoint(args)
    if args.test and not args.checkpoint:
        raise UsageError("--test needs --checkpoint")
    if args.checkpoint and not args.test and args.resume != 1:
        raise UsageError("--checkpoint {}: to continue training from it add --resume 1; to run it add --test".format(
            args.checkpoint))
    return cfg_env, cfg_train, settings


def check_checkpoint(args: argparse.Namespace) -> None:
    """``--checkpoint`` names a file; with --test also a folder or glob pattern of checkpoints, naming at least one."""
    try:
        found = find_checkpoints(args.checkpoint)
    except NoCheckpoints as exc:
        raise UsageError("--checkpoint {}".format(exc))
    if found == [args.checkpoint] and not os.path.isfile(args.checkpoint):
        raise UsageError("--checkpoint {}: file not found".format(args.checkpoint))
    if found != [args.checkpoint] and not args.test:
        raise UsageError("--checkpoint {}: training continues from one checkpoint file; a folder or pattern of "
                         "checkpoints is for --test --eval".format(args.checkpoint))


def watch_own_videos(cfg_train: Dict[str, Any]) -> None:
    """Recorded videos need the video extra; W&B picks them up from ``videos/`` unless ``wandb.videos`` says where."""
    missing = encoder_missing()
    if missing:
        raise UsageError(missing)
    section = cfg_train.get("wandb")
    if section is None or (isinstance(section, dict) and "videos" not in section):
        cfg_train["wandb"] = dict(section or {}, videos="videos")


def apply_flags(args: argparse.Namespace, cfg: Dict[str, Any], section: str, keys: Dict[str, str]) -> Dict[str, str]:
    """Set ``section.<key>`` from each flag given (when the section is a mapping); returns who set which path."""
    node = lookup(cfg, section)
    sources = {}
    for flag, key in keys.items():
        value = getattr(args, flag)
        if value is not None and isinstance(node, dict):
            node[key] = value
            sources["{}.{}".format(section, key)] = "--{} {}".format(flag, value)
    return sources


def check_training_batch(cfg_env: Dict[str, Any], cfg_train: Dict[str, Any], sources: Dict[str, str],
                         env_file: str, train_file: str) -> None:
    """The batch splits into whole minibatches; the message blames the value a flag, override or preset set."""
    config = cfg_train["params"]["config"]
    paths = {"num_envs": "env.numEnvs", "horizon_length": "params.config.horizon_length",
             "minibatch_size": "params.config.minibatch_size"}
    values = {"num_envs": cfg_env["env"]["numEnvs"], "horizon_length": config["horizon_length"],
              "minibatch_size": config["minibatch_size"]}
    files = {"num_envs": env_file, "horizon_length": train_file, "minibatch_size": train_file}
    named = {name: source_of(path, sources, "{}: `{}`".format(files[name], path)) for name, path in paths.items()}
    blame = next((name for name in BATCH_FLAGS if not named[name].startswith(files[name] + ":")), "minibatch_size")
    check_batch(values, named, blame)


def resume_location(checkpoint: str, output_path: str) -> Tuple[str, Optional[str]]:
    """(train dir, experiment name) a resume writes to: the checkpoint's experiment when it is in one
    (``<experiment>/nn/``), else a new experiment under ``output_path``."""
    nn_dir = os.path.dirname(os.path.abspath(checkpoint))
    if os.path.basename(nn_dir) != "nn":
        return output_path, None
    experiment_dir = os.path.dirname(nn_dir)
    return os.path.dirname(experiment_dir), os.path.basename(experiment_dir)


def rl_config_for(args: argparse.Namespace, task: str, cfg_env: Dict[str, Any], cfg_train: Dict[str, Any],
                  resume_from: Optional[str], train_dir: Optional[str] = None) -> Dict[str, Any]:
    """The rl_games config with the remaining flags (device, seed, epochs) applied; ``train_dir`` overrides where
    it writes."""
    from hsi_wandb.builtin.registry import build_rl_config

    train_dir, experiment = train_dir or args.output_path, None
    if resume_from and not args.dry_run:
        train_dir, experiment = resume_location(resume_from, args.output_path)
    max_epochs = 1 if args.dry_run else args.max_iterations
    return build_rl_config(task, cfg_env, cfg_train, rl_device=args.rl_device, seed=args.seed,
                           max_epochs=max_epochs, checkpoint=resume_from, train_dir=train_dir,
                           experiment_name=experiment)


class RewardReport:
    """An rl_games algo observer that counts finished epochs and remembers the mean episode reward of the first and
    the last epoch that had finished episodes, with their epoch numbers."""

    def __init__(self):
        self.algo: Any = None
        self.epochs = 0
        self.first: Optional[Tuple[int, float]] = None
        self.last: Optional[Tuple[int, float]] = None

    def before_init(self, base_name: str, config: Dict[str, Any], experiment_name: str) -> None:
        """Nothing to prepare."""

    def after_init(self, algo: Any) -> None:
        """Keep the agent to read its reward meter."""
        self.algo = algo

    def process_infos(self, infos: Any, done_indices: Any) -> None:
        """Rewards are read from the agent's own meter."""

    def after_steps(self) -> None:
        """Nothing per step."""

    def after_clear_stats(self) -> None:
        """Nothing to clear."""

    def after_print_stats(self, frame: int, epoch_num: int, total_time: float) -> None:
        """Count the epoch and record its mean episode reward."""
        self.epochs += 1
        meter = self.algo.game_rewards
        if meter.current_size > 0:
            self.last = (epoch_num, float(meter.get_mean()[0]))
            if self.first is None:
                self.first = self.last

    def summary(self) -> str:
        """``mean episode reward: 11.827 at epoch 2 (the first with a finished episode) -> 16.774 at epoch 3``."""
        if self.first is None or self.last is None:
            return "mean episode reward: n/a (no episode finished in {} epoch(s))".format(self.epochs)
        first = "{:.3f} at epoch {}{}".format(self.first[1], self.first[0],
                                              " (the first with a finished episode)" if self.first[0] > 1 else "")
        return "mean episode reward: {} -> {:.3f} at epoch {}".format(first, self.last[1], self.last[0])


def train(args: argparse.Namespace, cfg_env: Dict[str, Any], cfg_train: Dict[str, Any],
          settings: WandbSettings) -> int:
    """Train the task with the AMP agent, every algorithm of the Runner mirrored to W&B."""
    if args.dry_run and args.checkpoint:
        with tempfile.TemporaryDirectory(prefix="dry_run-") as scratch:
            return train_once(args, cfg_env, cfg_train, settings, scratch)
    return train_once(args, cfg_env, cfg_train, settings)


def train_once(args: argparse.Namespace, cfg_env: Dict[str, Any], cfg_train: Dict[str, Any],
               settings: WandbSettings, scratch: Optional[str] = None) -> int:
    """Train once; ``scratch``: a dry run of a resume, written there (offline) so the resumed run is untouched."""
    from hsi_wandb.builtin.registry import build_runner, claim_experiment

    rl_config = rl_config_for(args, args.task, cfg_env, cfg_train, args.checkpoint, train_dir=scratch)
    report = RewardReport()
    started = time.time()
    experiment_dir, created = None, False
    try:
        experiment_dir, created = claim_experiment(rl_config)
        runner = build_runner(report)
        logged = dict(cfg_train, params=rl_config["params"])
        apply_to_runner(runner, logged, source=args.cfg_train, extra_config={"env": cfg_env, "args": vars(args)},
                        task=args.task, settings=settings, files=[args.cfg_train, args.cfg_env],
                        dry_run=args.dry_run, scratch=scratch is not None)
        runner.load(rl_config)
        runner.run({"train": True, "play": False, "checkpoint": args.checkpoint})
    except KeyboardInterrupt:
        if report.epochs or not created or experiment_dir is None:
            raise
        shutil.rmtree(experiment_dir, ignore_errors=True)
        raise KeyboardInterrupt("before the first epoch finished: nothing was trained; removed {}".format(
            experiment_dir))
    print("{} ({:.1f} s)".format(report.summary(), time.time() - started))
    if args.dry_run:
        record = load_run_record(report.algo.experiment_dir) if report.algo is not None else {}
        print("dry run: configs valid, one epoch trained, no checkpoint written{}; W&B run: {}".format(
            ", the run it resumes left untouched (a scratch folder, deleted)" if scratch else "",
            "{} ({}, {})".format(record["run_id"], record["mode"], "in the scratch folder" if scratch else
                                 record["sync_dir"]) if record else "none"))
    return 0


def evaluation_settings(args: argparse.Namespace, cfg_train: Dict[str, Any]) -> Dict[str, Any]:
    """``params.evaluation`` of the training YAML with the command-line flags over it."""
    settings = dict(cfg_train["params"].get("evaluation") or {})
    for key in ("num_trials", "num_repeats", "seed"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    return settings


def evaluate(args: argparse.Namespace, cfg_env: Dict[str, Any], cfg_train: Dict[str, Any],
             settings: WandbSettings) -> int:
    """Run a checkpoint's policy (each of a folder's or pattern's, in epoch order) with the built-in player; with
    --eval its results reach W&B as a user's player's do.

    The player is built through the same ``apply_to_runner`` hook as a TokenHSI player: one way to log an evaluation.
    """
    from hsi_wandb.builtin.registry import build_runner

    task = args.eval_task or args.task
    rl_config = rl_config_for(args, task, cfg_env, cfg_train, None)
    rl_config["params"]["config"].update(eval=args.eval, evaluation=evaluation_settings(args, cfg_train))
    runner = build_runner()
    apply_to_runner(runner, dict(cfg_train, params=rl_config["params"]), source=args.cfg_train,
                    extra_config={"env": cfg_env, "args": vars(args)}, task=task, settings=settings,
                    files=[args.cfg_train, args.cfg_env])
    runner.load(rl_config)
    runner.run({"train": False, "play": True, "checkpoint": args.checkpoint})
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """Parse, check every input, then train or evaluate; returns the process exit code."""
    warnings.filterwarnings("ignore", message=r"`torch\.cuda\.amp\.GradScaler", category=FutureWarning,
                            module=r"rl_games\.")  # rl-games 1.1.4's own call, nothing a user can change
    args = parse_args(argv)
    try:
        check_rl_games()
        cfg_env, cfg_train, settings = load_configs(args)
        with quiet_console(args.verbose):
            return (evaluate if args.test else train)(args, cfg_env, cfg_train, settings)
    except (UsageError, NoCheckpoints) as exc:
        print("run.py: error: {}".format(exc), file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        if str(exc):
            print("run.py: interrupted {}".format(exc), file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
