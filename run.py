"""Train or evaluate a built-in IsaacGym-style task with the AMP agent, mirrored to W&B (TokenHSI-style command line).

    python run.py                                   # the embedded default task and configs
    python run.py --task PointMassReach --max_iterations 40
    python run.py --test --eval --task PointMassReach --checkpoint output/<exp>/nn/PointMassReach.pth
    python run.py --preset fast_debug params.config.learning_rate=1e-4 --wandb_tags sweep a
"""
import argparse
import json
import os
import re
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional, Tuple

import yaml

from hsi_wandb import ConfigError, WandbConfig, load_run_record, resolve_settings, start_run
from hsi_wandb.rl_games_mixin import apply_to_runner, generated_run_name

PROJECT_ROOT = os.path.dirname(os.path.abspath(__file__))
DEFAULT_PRESETS = os.path.join(PROJECT_ROOT, "cfg", "presets.yaml")
WANDB_KEYS = frozenset(WandbConfig.__dataclass_fields__)
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


class UsageError(Exception):
    """A bad command line or config file, reported in one line before anything is built."""


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """The flags ASE/TokenHSI users type, with the same meanings."""
    from hsi_wandb.builtin.registry import DEFAULT_TASK

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", default=DEFAULT_TASK, help="built-in task name (default: %(default)s)")
    p.add_argument("--cfg_env", help="env config YAML (default: cfg/env/<task>.yaml)")
    p.add_argument("--cfg_train", help="training config YAML (default: cfg/train/<task>_amp.yaml)")
    p.add_argument("--motion_file", help="demonstration clips (.npz) for the AMP discriminator")
    p.add_argument("--checkpoint", help="checkpoint to evaluate, or to continue training from with --resume 1")
    p.add_argument("--resume", type=int, default=0, choices=(0, 1), help="1: continue training from --checkpoint")
    p.add_argument("--test", action="store_true", help="run the policy instead of training")
    p.add_argument("--eval", action="store_true", help="with --test: measure success rates and log them")
    p.add_argument("--eval_task", help="task to evaluate on (default: --task)")
    p.add_argument("--num_trials", type=int, default=1024, help="evaluation trials per experiment")
    p.add_argument("--num_repeats", type=int, default=1, help="evaluation experiments (repeats)")
    p.add_argument("--num_envs", type=int, help="number of parallel environments")
    p.add_argument("--headless", action="store_true", help="accepted for compatibility; there is no viewer")
    p.add_argument("--seed", type=int, help="random seed")
    p.add_argument("--max_iterations", type=int, help="training epochs")
    p.add_argument("--horizon_length", type=int, help="rollout length per epoch")
    p.add_argument("--minibatch_size", type=int, help="PPO minibatch size")
    p.add_argument("--output_path", default="output", help="where experiments are written (default: %(default)s)")
    p.add_argument("--rl_device", help="torch device (default: cuda:0 if available, else cpu)")
    w = p.add_argument_group("W&B (override the wandb: section; precedence: flags, WANDB_* environment, file)")
    on_off = w.add_mutually_exclusive_group()
    on_off.add_argument("--use_wandb", dest="use_wandb", action="store_true", default=None, help="turn W&B on")
    on_off.add_argument("--no_wandb", dest="use_wandb", action="store_false", help="turn W&B off")
    for key in ("project", "entity", "name", "group", "notes"):
        w.add_argument("--wandb_" + key, metavar=key.upper(), help="wandb.{}".format(key))
    w.add_argument("--wandb_tags", nargs="*", metavar="TAG", help="wandb.tags")
    w.add_argument("--wandb_mode", choices=("online", "offline", "disabled"), help="wandb.mode")
    w.add_argument("--no_progress", action="store_true", help="no progress bar")
    p.add_argument("--preset", help="a named experiment from --presets_file (overrides, group, tags, notes)")
    p.add_argument("--presets_file", default=DEFAULT_PRESETS, help="presets YAML (default: cfg/presets.yaml)")
    p.add_argument("--dry_run", action="store_true",
                   help="check both configs, start the W&B run, train one epoch, write no checkpoint")
    p.add_argument("overrides", nargs="*", metavar="key.path=value",
                   help="override any training-config value, typed by YAML rules (params.config.gamma=0.98)")
    return p.parse_args(argv)


def wandb_overrides(args: argparse.Namespace) -> Dict[str, Any]:
    """The command-line values for the wandb: section (only those given)."""
    values = {key: getattr(args, "wandb_" + key) for key in ("project", "entity", "name", "group", "notes", "tags",
                                                               "mode")}
    values = {k: v for k, v in values.items() if v is not None}
    if args.use_wandb is not None:
        values["use_wandb"] = args.use_wandb
    if args.no_progress:
        values["progress"] = False
    return values


def parse_value(text: str) -> Any:
    """A command-line value typed by YAML rules (numbers like 1e-4 included)."""
    value = yaml.safe_load(text) if text.strip() else ""
    if isinstance(value, str) and _NUMBER.match(value):
        return float(value)
    return value


def set_path(cfg: Dict[str, Any], path: str, value: Any, where: str) -> None:
    """Set the dotted ``path`` of ``cfg`` to ``value``; every key on the path must exist already."""
    node, keys = cfg, path.split(".")
    for depth, key in enumerate(keys):
        if not isinstance(node, dict) or key not in node:
            known = ", ".join(sorted(map(str, node))) if isinstance(node, dict) else "none (not a mapping)"
            raise UsageError("{} {}: `{}` has no key `{}`; keys there: {}".format(
                where, path, ".".join(keys[:depth]) or "<top level>", key, known))
        if depth == len(keys) - 1:
            node[key] = value
        node = node[key]


def apply_override(cfg: Dict[str, Any], assignment: str) -> None:
    """Apply one trailing ``key.path=value`` argument; any ``wandb.<key>`` of the section may be added."""
    path, sep, text = assignment.partition("=")
    if not sep or not path:
        raise UsageError("override {!r}: expected key.path=value".format(assignment))
    try:
        value = parse_value(text)
    except yaml.YAMLError as exc:
        raise UsageError("override {}: value is not valid YAML: {}".format(assignment, str(exc).replace("\n", " ")))
    section, _, key = path.partition(".")
    if section == "wandb" and key in WANDB_KEYS and isinstance(cfg.get("wandb") or {}, dict):
        cfg["wandb"] = dict(cfg.get("wandb") or {}, **{key: value})
        return
    set_path(cfg, path, value, "override")


def apply_preset(cfg_train: Dict[str, Any], name: str, path: str) -> None:
    """Apply a named preset: its overrides, and its group/tags/notes to the wandb: section."""
    presets = read_yaml(path, "--presets_file").get("presets") or {}
    if name not in presets:
        raise UsageError("--preset {}: not in {}; choose one of {}".format(name, path, ", ".join(sorted(presets))))
    preset = presets[name] or {}
    unknown = set(preset) - {"overrides", "group", "tags", "notes"}
    if unknown:
        raise UsageError("--presets_file {}: preset {} has unknown keys {}; allowed: overrides, group, tags, "
                         "notes".format(path, name, ", ".join(sorted(unknown))))
    for key, value in (preset.get("overrides") or {}).items():
        set_path(cfg_train, key, value, "--preset {}:".format(name))
    if cfg_train.get("wandb") is None:
        cfg_train["wandb"] = {}
    if isinstance(cfg_train["wandb"], dict):
        cfg_train["wandb"].update({k: preset[k] for k in ("group", "tags", "notes") if k in preset})


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
    """Check every input and return (cfg_env, cfg_train, wandb settings) before anything is built."""
    from hsi_wandb.builtin.registry import default_config_paths
    from hsi_wandb.builtin.tasks import TASKS

    for flag, task in (("--task", args.task), ("--eval_task", args.eval_task)):
        if task is not None and task not in TASKS:
            raise UsageError("{} {}: unknown task; choose one of {}".format(flag, task, ", ".join(sorted(TASKS))))
    default_env, default_train = default_config_paths(args.task)
    args.cfg_env, args.cfg_train = args.cfg_env or default_env, args.cfg_train or default_train
    cfg_env = read_yaml(args.cfg_env, "--cfg_env")
    cfg_train = read_yaml(args.cfg_train, "--cfg_train")
    if args.preset:
        apply_preset(cfg_train, args.preset, args.presets_file)
    for assignment in args.overrides:
        apply_override(cfg_train, assignment)
    if not isinstance(cfg_env.get("env"), dict):
        raise UsageError("--cfg_env {}: missing the `env:` section".format(args.cfg_env))
    if not isinstance(cfg_train.get("params"), dict) or not isinstance(cfg_train["params"].get("config"), dict):
        raise UsageError("--cfg_train {}: missing the `params: config:` section".format(args.cfg_train))
    if args.checkpoint and not os.path.isfile(args.checkpoint):
        raise UsageError("--checkpoint {}: file not found".format(args.checkpoint))
    if args.test and not args.checkpoint:
        raise UsageError("--test needs --checkpoint")
    if args.checkpoint and not args.test and args.resume != 1:
        raise UsageError("--checkpoint {}: to continue training from it add --resume 1; to run it add --test".format(
            args.checkpoint))
    if args.motion_file:
        if not os.path.isfile(args.motion_file):
            raise UsageError("--motion_file {}: file not found".format(args.motion_file))
        cfg_env["env"]["motion_file"] = args.motion_file
    try:
        settings = resolve_settings(cfg_train, args.cfg_train, overrides=wandb_overrides(args))
    except ConfigError as exc:
        raise UsageError(str(exc))
    return cfg_env, cfg_train, settings


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
    """The rl_games config with the command-line overrides applied; ``train_dir`` overrides where it writes."""
    from hsi_wandb.builtin.registry import build_rl_config

    train_dir, experiment = train_dir or args.output_path, None
    if resume_from and not args.dry_run:
        train_dir, experiment = resume_location(resume_from, args.output_path)
    max_epochs = 1 if args.dry_run else args.max_iterations
    rl_config = build_rl_config(task, cfg_env, cfg_train, rl_device=args.rl_device, seed=args.seed,
                                num_envs=args.num_envs, max_epochs=max_epochs, checkpoint=resume_from,
                                train_dir=train_dir, experiment_name=experiment)
    config = rl_config["params"]["config"]
    for key in ("horizon_length", "minibatch_size"):
        if getattr(args, key) is not None:
            config[key] = getattr(args, key)
    return rl_config


class RewardReport:
    """An rl_games algo observer that remembers the mean episode reward of the first and the last epoch."""

    def __init__(self):
        self.algo: Any = None
        self.first: Optional[float] = None
        self.last: Optional[float] = None

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
        """Record the current mean episode reward."""
        meter = self.algo.game_rewards
        if meter.current_size > 0:
            self.last = float(meter.get_mean()[0])
            if self.first is None:
                self.first = self.last


def train(args: argparse.Namespace, cfg_env: Dict[str, Any], cfg_train: Dict[str, Any]) -> int:
    """Train the task with the AMP agent, every algorithm of the Runner mirrored to W&B."""
    if args.dry_run and args.checkpoint:
        with tempfile.TemporaryDirectory(prefix="dry_run-") as scratch:
            return train_once(args, cfg_env, cfg_train, scratch)
    return train_once(args, cfg_env, cfg_train)


def train_once(args: argparse.Namespace, cfg_env: Dict[str, Any], cfg_train: Dict[str, Any],
               scratch: Optional[str] = None) -> int:
    """Train once; ``scratch``: a dry run of a resume, written there (offline) so the resumed run is untouched."""
    from hsi_wandb.builtin.registry import build_runner

    rl_config = rl_config_for(args, args.task, cfg_env, cfg_train, args.checkpoint, train_dir=scratch)
    report = RewardReport()
    runner = build_runner(report)
    logged = dict(cfg_train, params=rl_config["params"])
    overrides = dict(wandb_overrides(args), **({"mode": "offline"} if scratch else {}))
    apply_to_runner(runner, logged, source=args.cfg_train, extra_config={"env": cfg_env, "args": vars(args)},
                    task=args.task, overrides=overrides, files=[args.cfg_train, args.cfg_env], dry_run=args.dry_run)
    runner.load(rl_config)
    started = time.time()
    runner.run({"train": True, "play": False, "checkpoint": args.checkpoint})
    print("mean episode reward: first epoch {} -> last epoch {} ({:.1f} s)".format(
        _fmt(report.first), _fmt(report.last), time.time() - started))
    if args.dry_run:
        record = load_run_record(report.algo.experiment_dir) if report.algo is not None else {}
        print("dry run: configs valid, one epoch trained, no checkpoint written{}; W&B run: {}".format(
            ", the run it resumes left untouched (a scratch folder, deleted)" if scratch else "",
            "{} ({}, {})".format(record["run_id"], record["mode"], record["sync_dir"]) if record else "none"))
    return 0


def _fmt(value: Optional[float]) -> str:
    return "n/a" if value is None else "{:.3f}".format(value)


def evaluate(args: argparse.Namespace, cfg_env: Dict[str, Any], cfg_train: Dict[str, Any], settings: Any) -> int:
    """Run a checkpoint's policy; with --eval, success metrics to W&B (grouped with its training run), a table, and a JSON file."""
    import torch

    from hsi_wandb.builtin.evaluation import evaluate as run_trials
    from hsi_wandb.builtin.registry import build_player

    task = args.eval_task or args.task
    rl_config = rl_config_for(args, task, cfg_env, cfg_train, None)
    player = build_player(rl_config, checkpoint=args.checkpoint)
    state = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
    epoch, frame = int(state.get("epoch", 0)), int(state.get("frame", 0))
    results = run_trials(player, args.num_trials, num_repeats=args.num_repeats, seed=args.seed or 0)
    for exp_name, metrics in results.items():
        print("eval {}: {}".format(exp_name, ", ".join("{}={}".format(k, v) for k, v in metrics.items())))
    if not args.eval:
        return 0

    experiment_dir = os.path.dirname(os.path.dirname(os.path.abspath(args.checkpoint)))
    trained_by = load_run_record(experiment_dir)
    name = "{}-eval-{}".format(trained_by.get("name") or generated_run_name(cfg_train, task), time.strftime("%H%M%S"))
    config = dict(cfg_train, env=cfg_env, eval={"checkpoint": os.path.abspath(args.checkpoint), "epoch": epoch,
                                                 "frame": frame, "task": task, "trained_run_id": trained_by.get("run_id"),
                                                 "num_trials": args.num_trials, "num_repeats": args.num_repeats})
    run = start_run(settings, experiment_dir, config, name=name, job_type="eval", group=trained_by.get("group"))
    row: Dict[str, Any] = {"frame": frame, "epoch": epoch}
    for exp_name, metrics in results.items():
        row.update({"eval/{}/{}".format(exp_name, key): value for key, value in metrics.items()})
    run.log_row(row)
    columns = ["experiment"] + list(next(iter(results.values())))
    run.log_table("eval/results", columns, [[exp] + list(m.values()) for exp, m in results.items()])
    run.finish(0)

    out_path = os.path.splitext(args.checkpoint)[0] + "_eval.json"
    with open(out_path, "w") as f:
        json.dump({"checkpoint": os.path.abspath(args.checkpoint), "epoch": epoch, "frame": frame, "task": task,
                   "results": results}, f, indent=1)
    print("evaluation written to {}".format(out_path))
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """Parse, check every input, then train or evaluate; returns the process exit code."""
    args = parse_args(argv)
    try:
        cfg_env, cfg_train, settings = load_configs(args)
    except UsageError as exc:
        print("run.py: error: {}".format(exc), file=sys.stderr)
        return 2
    if args.test:
        return evaluate(args, cfg_env, cfg_train, settings)
    try:
        return train(args, cfg_env, cfg_train)
    except KeyboardInterrupt:
        print("run.py: interrupted; resume with --checkpoint <experiment>/nn/<name>_interrupt.pth --resume 1",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
