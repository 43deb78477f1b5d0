"""What W&B logging costs training: hsi_wandb's mirror side by side with TensorBoard only and W&B's own ways.

    python benchmarks/benchmark.py            # the full benchmark, about 35 minutes on 2 CPU cores
    python benchmarks/benchmark.py --quick    # a smoke run of every section, about 4 minutes
    python benchmarks/benchmark.py --write benchmarks/README.md   # also put the tables into that page

Sections (each measurement runs in a fresh process, variants interleaved, medians quoted):
  1. epoch time of run.py's default task (PointMassTraj, AMP agent): (a) TensorBoard only, the agent without
     hsi_wandb, (a') hsi_wandb with W&B off, (b) the hsi_wandb mirror (offline), (c) the plain agent with
     wandb.init(sync_tensorboard=True), as IsaacGymEnvs does it; then one run of (b) and of (c) sampled with
     py-spy (when installed: pip install -e ".[benchmark]") for the share of time spent on W&B's side;
  2. cost of logging one epoch of 50 scalars: mirror row vs one wandb.log per scalar vs sync_tensorboard;
  3. latency checkpoint logging adds to save() (10 MB to 500 MB), how long finishing waits, and a check
     (read back with `wandb leet inspect --json`) that every checkpoint is in the run with the bytes saved;
  4. memory: peak RSS with and without the mirror, RSS after 1,000 and 10,000 logged epochs;
  5. start-up (process start to the first rollout step) and shut-down (last epoch to process exit);
  6. videos: epoch time with ``wandb.videos`` watching a folder, and with ``--capture_video`` recording the default
     task, against the mirror alone, on the epochs without a video and on those that record one;
  7. cost as the work grows: the gradient and parameter norms against network size (the default task's network to
     about 100 M parameters) as a share of the backward pass, and the mirror's cost against scalars per epoch.
Exits with status 1 if a checkpoint is missing from its run or holds other bytes than were saved.
"""
import argparse
import base64
import contextlib
import glob
import io
import json
import math
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from offline_run import OfflineRun  # noqa: E402  (the project's reader of offline runs)
from workers import BENCH_PROJECT, md5_hex  # noqa: E402
from hsi_wandb import videos  # noqa: E402

TRAIN_VARIANTS = (("plain", "disabled", "(a) TensorBoard only: the rl_games agent without hsi_wandb"),
                  ("tb", "disabled", "(a') hsi_wandb, W&B off (WANDB_MODE=disabled)"),
                  ("mirror", "offline", "(b) hsi_wandb mirror (offline)"),
                  ("sync_tb", "offline", "(c) plain agent + wandb.init(sync_tensorboard=True)"))
LOG_VARIANTS = (("tb", "disabled", "TensorBoard only (tensorboardX)"),
                ("mirror", "offline", "hsi_wandb mirror: one row per epoch"),
                ("per_scalar", "offline", "one wandb.log per scalar (step=frame)"),
                ("sync_tb", "offline", "sync_tensorboard (W&B reads event files)"))


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command line: sizes of each section; --quick shrinks all of them."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small sizes everywhere, to check the benchmark runs")
    p.add_argument("--repeats", type=int, help="training runs per variant, interleaved (default 5; quick 1)")
    p.add_argument("--epochs", type=int, help="training epochs per run (default 25; quick 6)")
    p.add_argument("--num_envs", type=int, help="environments (default: the task config's 2048)")
    p.add_argument("--seed", type=int, default=42, help="training seed, the same for every run (default 42)")
    p.add_argument("--log_epochs", type=int, help="epochs timed per logging variant (default 400; quick 200)")
    p.add_argument("--log_repeats", type=int, help="runs per logging variant, interleaved (default 2; quick 1)")
    p.add_argument("--memory_epochs", type=int, nargs="+", help="epoch counts to read RSS at (default 1000 5000 10000)")
    p.add_argument("--sizes_mb", type=int, nargs="+", help="checkpoint sizes in MB (default 10 100 500)")
    p.add_argument("--saves", type=int, help="saves per checkpoint size, to one path (default 5; quick 3)")
    p.add_argument("--save_gap", type=float, default=1.5, help="seconds between two saves (default 1.5)")
    p.add_argument("--video_epochs", type=int, help="training epochs per video run (default 40; quick 12)")
    p.add_argument("--video_repeats", type=int, help="runs per video variant, interleaved (default 3; quick 1)")
    p.add_argument("--networks", nargs="+", help="section 7's networks: mlp (the default task's) or "
                   "transformer:<width>x<layers> (default: mlp and about 1, 12, 50 and 100 M parameters; quick: "
                   "mlp and about 1 and 12 M)")
    p.add_argument("--norm_steps", type=int, help="optimizer steps timed per network (default 6; quick 3)")
    p.add_argument("--scalar_counts", type=int, nargs="+", help="scalars per epoch in section 7 (default 20 50 "
                   "100 200 500; quick 20 500)")
    p.add_argument("--sections", default="1234567", help="which sections to run, e.g. 13 (default: all)")
    p.add_argument("--keep", metavar="DIR", help="keep every run's files under DIR instead of a temporary folder")
    p.add_argument("--json", metavar="FILE", help="also write every measurement, unaggregated, to FILE")
    p.add_argument("--write", metavar="FILE", help="replace the results between the markers in FILE (a Markdown "
                   "page such as benchmarks/README.md) with this run's tables")
    args = p.parse_args(argv)
    if args.write:
        try:
            with open(args.write, encoding="utf-8") as f:
                with_results(f.read(), "")
        except (OSError, ValueError) as exc:
            p.error("--write {}: {}".format(args.write, exc))
    defaults = dict(repeats=(1, 5), epochs=(6, 25), log_epochs=(200, 400), log_repeats=(1, 2),
                    memory_epochs=([1000, 3000], [1000, 5000, 10000]), sizes_mb=([10, 100], [10, 100, 500]),
                    saves=(3, 5), video_epochs=(12, 40), video_repeats=(1, 3), norm_steps=(3, 6),
                    networks=(["mlp", "transformer:256x1", "transformer:512x4"],
                              ["mlp", "transformer:256x1", "transformer:512x4", "transformer:1024x4",
                               "transformer:1024x8"]),
                    scalar_counts=([20, 500], [20, 50, 100, 200, 500]))
    for key, (quick, full) in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, quick if args.quick else full)
    return args


# --- running workers --------------------------------------------------------------------------------------


class Scratch:
    """The folder every worker runs in (one sub-folder each), with W&B's own folders inside it."""

    def __init__(self, keep: Optional[str]):
        self.keep = keep
        self.root = os.path.abspath(keep) if keep else tempfile.mkdtemp(prefix="hsi_wandb_bench_")
        os.makedirs(self.root, exist_ok=True)
        self._count = 0

    def env(self, mode: str) -> Dict[str, str]:
        """The environment of a worker: no credentials, W&B in ``mode``, its folders here, the repo importable."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
        env.update(WANDB_MODE=mode, WANDB_SILENT="true", NETRC=os.path.join(self.root, "no.netrc"),
                   WANDB_CONFIG_DIR=os.path.join(self.root, "wandb-config"),
                   WANDB_CACHE_DIR=os.path.join(self.root, "wandb-cache"),
                   WANDB_DATA_DIR=os.path.join(self.root, "wandb-data"),
                   PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])))
        return env

    def run(self, kind: str, mode: str, **arguments: Any) -> Tuple[Dict[str, Any], float, float, str]:
        """Run one worker in a fresh folder; (its result, when it was started, when it exited, its folder)."""
        self._count += 1
        workdir = os.path.join(self.root, "{:03d}-{}-{}".format(self._count, kind, arguments.get("variant", "")))
        os.makedirs(workdir)
        out = os.path.join(workdir, "result.json")
        command = [sys.executable, os.path.join(HERE, "workers.py"), kind, json.dumps(arguments), out]
        with open(os.path.join(workdir, "worker.log"), "w") as log:
            started = time.time()
            code = subprocess.call(command, cwd=workdir, env=self.env(mode), stdout=log, stderr=subprocess.STDOUT)
            ended = time.time()
        if code != 0:
            with open(os.path.join(workdir, "worker.log")) as f:
                raise SystemExit("worker {} {} failed ({}):\n{}".format(kind, arguments, code, f.read()[-3000:]))
        with open(out) as f:
            return json.load(f), started, ended, workdir

    def discard(self, workdir: str) -> None:
        """Delete a worker's folder (checkpoints, runs) unless --keep asked to keep everything."""
        if not self.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    def close(self) -> None:
        """Delete the temporary folder unless --keep named it."""
        if not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)


def progress(message: str) -> None:
    """One progress line on stderr, so stdout holds only the tables."""
    print("... " + message, file=sys.stderr, flush=True)


# --- formatting -------------------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    """The median (NaN for no values, so a table never breaks)."""
    return statistics.median(values) if values else float("nan")


def spread(values: Sequence[float], fmt: str) -> str:
    """``min..max`` of a sample, each formatted with ``fmt``."""
    return "{}..{}".format(fmt.format(min(values)), fmt.format(max(values))) if values else "-"


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]], note: str = "") -> None:
    """Print a Markdown table with a title and an optional note under it."""
    print("\n### {}\n".format(title))
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |" for row in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    print("\n".join(lines))
    if note:
        print("\n" + note)
    sys.stdout.flush()


RESULTS_BEGIN, RESULTS_END = "<!-- benchmark results: begin -->", "<!-- benchmark results: end -->"


def with_results(page: str, results: str) -> str:
    """``page`` with the text between its results markers replaced by ``results``; ValueError without markers."""
    begin, end = page.find(RESULTS_BEGIN), page.find(RESULTS_END)
    if begin < 0 or end < begin:
        raise ValueError("no '{}' ... '{}' markers".format(RESULTS_BEGIN, RESULTS_END))
    return "{}\n\n{}\n\n{}".format(page[:begin + len(RESULTS_BEGIN)], results.strip(), page[end:])


class Tee(io.TextIOBase):
    """A text stream that writes through to ``stream`` and keeps a copy of everything written."""

    def __init__(self, stream: Any):
        self.stream, self.copy = stream, io.StringIO()

    def write(self, text: str) -> int:
        """Write to the stream and to the copy."""
        self.stream.write(text)
        return self.copy.write(text)

    def flush(self) -> None:
        """Flush the stream."""
        self.stream.flush()


def machine() -> List[Tuple[str, str]]:
    """What the figures were measured on: CPU, cores, memory, OS and the versions that matter."""
    from importlib import metadata

    import psutil

    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = []
    for package in ("torch", "wandb", "rl-games", "tensorboardX", "tensorboard"):
        try:
            versions.append("{} {}".format(package, metadata.version(package)))
        except metadata.PackageNotFoundError:
            versions.append("{} -".format(package))
    return [("CPU", "{} ({} logical cores)".format(cpu, os.cpu_count())),
            ("memory", "{:.1f} GiB".format(psutil.virtual_memory().total / 2 ** 30)),
            ("OS", platform.platform()), ("Python", platform.python_version()), ("packages", ", ".join(versions))]


def load_average() -> str:
    """The 1/5/15-minute load averages, to tell whether other processes competed for the CPU."""
    return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


# --- section 1 (and the data of 4 and 5): training --------------------------------------------------------


def run_training(scratch: Scratch, args: argparse.Namespace) -> Dict[str, List[Dict[str, Any]]]:
    """Train every variant ``repeats`` times, interleaved, each repeat starting one variant later (a, a', b, c;
    a', b, c, a; ...) so that no variant always runs after the same one; per variant, one dict per run."""
    runs: Dict[str, List[Dict[str, Any]]] = {v: [] for v, _, _ in TRAIN_VARIANTS}
    for repeat in range(args.repeats):
        shift = repeat % len(TRAIN_VARIANTS)
        for variant, mode, _ in TRAIN_VARIANTS[shift:] + TRAIN_VARIANTS[:shift]:
            progress("training {} ({}/{}), {} epochs".format(variant, repeat + 1, args.repeats, args.epochs))
            result, started, ended, workdir = scratch.run("train", mode, variant=variant, epochs=args.epochs,
                                                          num_envs=args.num_envs, seed=args.seed, output="output")
            result.update(startup_s=result["first_step"] - started, shutdown_s=ended - result["last_stats"])
            runs[variant].append(result)
            scratch.discard(workdir)
    return runs


QUIET = 0.05
"""An epoch is quiet when other programs used less than this share of one core during it."""


def quiet_epochs(run: Dict[str, Any]) -> List[float]:
    """The times of a run's epochs during which no other program in this machine competed for the CPU."""
    return [e for e, f in zip(run["epoch_s"], run["foreign_cpu_s"]) if f < QUIET * e]


def quantile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (linear interpolation; NaN for no values)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def ratio_interval(runs: Dict[str, List[Dict[str, Any]]], variant: str, resamples: int = 2000) -> Tuple[float, float]:
    """95 % bootstrap interval of (median quiet epoch of ``variant``) / (the same of (a)), resampling repeats.

    Each resample draws repeats with replacement and keeps every variant's run of a drawn repeat together,
    as they ran side by side. NaN with fewer than 3 repeats.
    """
    rng = random.Random(0)
    repeats = list(zip(runs[variant], runs["plain"]))
    if len(repeats) < 3:
        return float("nan"), float("nan")
    ratios = []
    for _ in range(resamples):
        drawn = [rng.choice(repeats) for _ in repeats]
        ratios.append(median([e for r, _ in drawn for e in quiet_epochs(r)])
                      / median([e for _, b in drawn for e in quiet_epochs(b)]))
    ratios = [r for r in ratios if not math.isnan(r)]
    return quantile(ratios, 0.025), quantile(ratios, 0.975)


def report_training(runs: Dict[str, List[Dict[str, Any]]], args: argparse.Namespace) -> Dict[str, Any]:
    """Section 1's wall-clock table; returns each variant's median-epoch ratio to (a), its 95 % interval and
    (a)'s median epoch in seconds."""
    pooled = {v: [e for r in runs[v] for e in quiet_epochs(r)] for v, _, _ in TRAIN_VARIANTS}
    result: Dict[str, Any] = {"ratio": {}, "interval": {}, "epoch_s": median(pooled["plain"])}
    rows = []
    for variant, _, label in TRAIN_VARIANTS:
        mid, low = median(pooled[variant]), quantile(pooled[variant], 0.25)
        result["ratio"][variant] = mid / median(pooled["plain"])
        result["interval"][variant] = ratio_interval(runs, variant)
        per_repeat = [median(quiet_epochs(r)) / median(quiet_epochs(b))
                      for r, b in zip(runs[variant], runs["plain"]) if quiet_epochs(r) and quiet_epochs(b)]
        foreign = median([f / e for r in runs[variant] for e, f in zip(r["epoch_s"], r["foreign_cpu_s"])])
        rows.append([label, "{}/{}".format(len(pooled[variant]), sum(len(r["epoch_s"]) for r in runs[variant])),
                     "{:.4f}".format(mid), "{:.3f}".format(result["ratio"][variant]),
                     "{:.3f}..{:.3f}".format(*result["interval"][variant]), spread(per_repeat, "{:.3f}"),
                     "{:.3f}".format(low / quantile(pooled["plain"], 0.25)), "{:.0f} %".format(100 * foreign)])
    table("1. Training overhead, wall clock: run.py's default task (PointMassTraj, AMP agent), {} epochs x {} "
          "runs per variant, seed {}".format(args.epochs, args.repeats, args.seed),
          ["variant", "epochs used", "median epoch (s)", "/ (a)", "95 % interval", "per-repeat / (a)",
           "25th percentile / (a)", "other programs' CPU"], rows,
          "Epoch time: between successive per-epoch stats writes (epoch 2 on), so it includes the epoch's logging and "
          "checkpoint saves. Runs interleaved a, a', b, c, then a', b, c, a, and so on, with the same seed. Epochs "
          "used: those during which other programs on this machine (anything but the training process and the W&B "
          "service it started) used under {:.0f} % of a core; 'other programs' CPU' is their median share of one core. "
          "'/ (a)': median epoch over (a)'s; '95 % interval': bootstrap over repeats; 'per-repeat': the range over "
          "repeats of median epoch / (a)'s median in the same repeat. On a shared virtual machine whole runs are "
          "faster or slower by more than the 1 % the target allows (see 'per-repeat'), so the interval, not the median "
          "alone, says what this table can resolve; the profiled share below measures the overhead "
          "itself.".format(100 * QUIET))
    return result


PROFILE_EPOCHS = 6
"""Profiled runs are this many times section 1's length: at 200 Hz a millisecond of W&B code per epoch is one sample
in five epochs, so 50 epochs resolve little more than a millisecond."""


def run_profiles(scratch: Scratch, args: argparse.Namespace) -> Dict[str, Dict[str, float]]:
    """One run each of (b) and (c), ``PROFILE_EPOCHS`` times section 1's epochs, sampled with py-spy; empty without
    py-spy."""
    if shutil.which("py-spy") is None:
        progress("py-spy is not installed (pip install -e \".[benchmark]\"): no profiled runs")
        return {}
    profiles = {}
    for variant, mode, _ in TRAIN_VARIANTS:
        if variant in ("mirror", "sync_tb"):
            progress("training {} once more, sampled with py-spy".format(variant))
            result, _, _, workdir = scratch.run("train", mode, variant=variant, epochs=PROFILE_EPOCHS * args.epochs,
                                                num_envs=args.num_envs, seed=args.seed, output="output", profile=True)
            profiles[variant] = dict(result["profile"], epoch_s=median(result["epoch_s"]))
            scratch.discard(workdir)
    return profiles


def logging_share(profile: Dict[str, float]) -> float:
    """The share of a profiled window's time spent on W&B's side (every CPU-second counted as one of training)."""
    spent = profile["main_logging_s"] + profile["threads_logging_s"] + profile["service_cpu_s"]
    return spent / profile["window_s"]


def report_profiles(profiles: Dict[str, Dict[str, float]], args: argparse.Namespace) -> None:
    """Section 1's second table: where (b)'s and (c)'s time on W&B's side goes."""
    labels = dict((v, label) for v, _, label in TRAIN_VARIANTS)
    rows = []
    for variant, p in profiles.items():
        epochs = p["window_s"] / p["epoch_s"]
        share = logging_share(p)
        rows.append([labels[variant], "{:.1f}".format(p["window_s"]),
                     "{:.2f}".format(1e3 * p["main_logging_s"] / epochs),
                     "{:.2f}".format(1e3 * p["threads_logging_s"] / epochs),
                     "{:.2f}".format(1e3 * p["service_cpu_s"] / epochs), "{:.2f} %".format(100 * share),
                     "{:.4f}".format(1 / (1 - share))])
    table("1b. Training overhead, measured: one more run each of (b) and (c), {} epochs, sampled by py-spy at "
          "200 Hz".format(PROFILE_EPOCHS * args.epochs),
          ["variant", "window (s)", "training thread in W&B code (ms/epoch)", "other threads in W&B code "
           "(ms/epoch)", "W&B service CPU (ms/epoch)", "share of the window", "epoch time / (a), implied"], rows,
          "Window: from the first epoch's stats to the last epoch's, after py-spy attached (it samples without pausing"
          " the process). Training thread in W&B code: samples whose innermost frame of hsi_wandb, wandb, rl_games, "
          "the model's torch.nn modules, TensorBoard, the optimizer, the agent's clip or torch.save is hsi_wandb's or "
          "wandb's, i.e. time in hsi_wandb and in W&B calls, not in the TensorBoard writes and saves it passes through"
          " (gradient-norm hooks, the row, W&B's console capture included; time it waits, for W&B or for the "
          "interpreter lock, is not counted where py-spy sees the thread idle, as it does on this machine kind). Other"
          " threads: the W&B client's, hsi_wandb's row sender and checkpoint thread, while not waiting. W&B service: "
          "CPU of wandb-core in the window (psutil). The share counts every CPU-second of the other threads and the "
          "service as a second lost to training (both cores are busy with training), so the implied ratio 1 / (1 - "
          "share) is an upper bound. (c)'s service reads the event files some seconds behind, so part of its work "
          "falls after the window; section 2 measures it whole. Epochs in the window: its length over the run's median"
          " epoch.")


# --- section 2: one epoch's logging -----------------------------------------------------------------------


def run_log_cost(scratch: Scratch, args: argparse.Namespace) -> Dict[str, List[Dict[str, Any]]]:
    """Each logging path, ``log_repeats`` times, interleaved; per variant, one dict per run."""
    runs: Dict[str, List[Dict[str, Any]]] = {v: [] for v, _, _ in LOG_VARIANTS}
    for repeat in range(args.log_repeats):
        for variant, mode, _ in LOG_VARIANTS:
            progress("logging {} ({}/{}), {} epochs".format(variant, repeat + 1, args.log_repeats, args.log_epochs))
            result, _, _, workdir = scratch.run("log_loop", mode, variant=variant, epochs=args.log_epochs, warmup=50,
                                                chunk=50, rss_at=[])
            runs[variant].append(result)
            scratch.discard(workdir)
    return runs


def report_log_cost(runs: Dict[str, List[Dict[str, Any]]], args: argparse.Namespace) -> Dict[str, float]:
    """Section 2's table; returns each path's W&B cost per epoch in microseconds (training thread beyond
    TensorBoard only, plus the W&B service's CPU)."""
    walls = {v: median([r["wall_us"] for r in runs[v]]) for v, _, _ in LOG_VARIANTS}
    rows, costs = [], {}
    for variant, _, label in LOG_VARIANTS:
        figures = [median([r[key] for r in runs[variant]]) for key in ("own_cpu_us", "service_cpu_us", "catch_up_s")]
        costs[variant] = walls[variant] - walls["tb"] + figures[1]
        rows.append([label, "{:.0f}".format(walls[variant]), "{:+.0f}".format(walls[variant] - walls["tb"]),
                     spread([r["wall_us"] for r in runs[variant]], "{:.0f}"), "{:.0f}".format(figures[0]),
                     "{:.0f}".format(figures[1]), "{:.1f}".format(figures[2])])
    table("2. Logging one epoch of 50 scalars (real tensorboardX writer, real offline run), {} epochs x {} runs"
          .format(args.log_epochs, args.log_repeats),
          ["path", "training thread (us/epoch)", "W&B part (minus TB only)", "per-run range",
           "process CPU (us/epoch)", "W&B service CPU (us/epoch)", "service busy after the loop (s)"], rows,
          "Training thread: median over chunks of 50 epochs of the wall time of the epoch's add_scalar calls "
          "(and the mirror's row). W&B service CPU: CPU of the wandb-core process per epoch, from the loop's start "
          "until it is idle again, less its idle CPU; it runs beside training, on the cores training would use.")
    return costs


# --- section 3: checkpoints -------------------------------------------------------------------------------


def verify_checkpoints(result: Dict[str, Any], workdir: str) -> Tuple[int, int, List[str]]:
    """Read the offline run back; (saves found with their bytes, saves made, problems)."""
    run = OfflineRun(os.path.join(workdir, result["sync_dir"]))
    logged = {}
    for artifact in run.artifacts:
        epoch = json.loads(artifact["metadata"])["epoch"]
        for entry in artifact["manifest"]["contents"]:
            logged[epoch] = (entry["digest"], os.path.join(workdir, entry["local_path"]))
    found, problems = 0, []
    for save in result["saves"]:
        expected = base64.b64encode(bytes.fromhex(save["md5"])).decode()
        if save["epoch"] not in logged:
            problems.append("epoch {}: no artifact".format(save["epoch"]))
            continue
        digest, local = logged[save["epoch"]]
        if digest != expected:
            problems.append("epoch {}: artifact digest {} != saved bytes {}".format(save["epoch"], digest, expected))
        elif not os.path.isfile(local) or md5_hex(local) != save["md5"]:
            problems.append("epoch {}: the run's file {} does not hold the saved bytes".format(save["epoch"], local))
        else:
            found += 1
    return found, len(result["saves"]), problems


CHECKPOINT_VARIANTS = (("none", "none (wandb.checkpoints: none): the baseline"),
                       ("design", "hsi_wandb: hard-link snapshot + background thread"),
                       ("direct", "direct: wandb.Artifact + run.log_artifact in save()"))


def run_checkpoints(scratch: Scratch, args: argparse.Namespace) -> Dict[str, Dict[str, Dict[str, Any]]]:
    """Per size, each way of logging checkpoints in its own run; what was logged is checked against the bytes saved."""
    results: Dict[str, Dict[str, Dict[str, Any]]] = {}
    for size in args.sizes_mb:
        for variant, _ in CHECKPOINT_VARIANTS:
            progress("checkpoints {}: {} saves of {} MB".format(variant, args.saves, size))
            result, _, _, workdir = scratch.run("checkpoints", "offline", variant=variant, size_mb=size,
                                                saves=args.saves, gap_s=args.save_gap)
            if variant != "none":
                result["verified"] = verify_checkpoints(result, workdir)
            results.setdefault(str(size), {})[variant] = result
            scratch.discard(workdir)
    return results


def report_checkpoints(results: Dict[str, Dict[str, Dict[str, Any]]], args: argparse.Namespace) -> Dict[str, Any]:
    """Section 3's table; returns what the design adds to save() per size (ms) and the check of every logged run."""
    rows, added, vs_none, problems, found, made = [], {}, {}, [], 0, 0
    for size, variants in results.items():
        baseline = median([s["save_s"] for s in variants["none"]["saves"]])
        for variant, label in CHECKPOINT_VARIANTS:
            saves = variants[variant]["saves"]
            save_s = median([s["save_s"] for s in saves])
            inside = [(s["save_s"] - s["torch_save_s"]) * 1e3 for s in saves]
            if variant == "design":
                added[size], vs_none[size] = (median(inside), max(inside)), (save_s - baseline) * 1e3
            torch_ms = [s["torch_save_s"] * 1e3 for s in saves]
            row = ["{} MB".format(size), label, "{:.1f} ({})".format(median(torch_ms), spread(torch_ms, "{:.0f}")),
                   "{:.1f}".format(save_s * 1e3), "{:+.1f}".format((save_s - baseline) * 1e3),
                   "{:.2f} / {:.2f}".format(median(inside), max(inside)),
                   "{:.2f}".format(variants[variant]["finish_s"])]
            if variant == "none":
                rows.append(row + ["-", "-"])
                continue
            ok, total, wrong = variants[variant]["verified"]
            found, made = found + ok, made + total
            problems += ["{} MB, {}: {}".format(size, variant, p) for p in wrong]
            rows.append(row + ["{}/{}".format(ok, total), "yes" if not wrong else "NO"])
    table("3. Checkpoint saves: {} saves per size to one path (each overwriting the last), {:g} s apart, one run "
          "per row".format(args.saves, args.save_gap),
          ["size", "artifact logging", "torch.save (ms): median (range)", "save() (ms)", "save() vs none (ms)",
           "added in save() beyond torch.save (ms): median / max", "finish waits (s)", "in the run",
           "digests = bytes saved"], rows,
          "save(): the adapter's save() around rl_games' own (torch_ext.save_checkpoint), median over the saves; "
          "'save() vs none' compares medians of different runs, so the spread of torch.save itself (in brackets) "
          "bounds what it can show; 'added in save()' is measured directly in each save. "
          "'finish waits': from the end of training to the run being finished (pending artifact logging plus "
          "run.finish). 'in the run': checkpoints read back with `wandb leet inspect --json` whose manifest digest "
          "and whose file in the run both match the MD5 of the bytes that save wrote."
          + "".join("\nPROBLEM: " + p for p in problems))
    return {"added_ms": added, "vs_none_ms": vs_none, "problems": problems, "found": found, "made": made}


# --- section 4: memory ------------------------------------------------------------------------------------


def run_memory(scratch: Scratch, args: argparse.Namespace) -> Dict[str, Any]:
    """Log ``max(memory_epochs)`` epochs through the mirror (real writer, real offline run), reading RSS on the way."""
    progress("memory: {} epochs through the mirror".format(max(args.memory_epochs)))
    result, _, _, workdir = scratch.run("log_loop", "offline", variant="mirror", epochs=max(args.memory_epochs),
                                        warmup=50, chunk=100, rss_at=args.memory_epochs)
    scratch.discard(workdir)
    return {int(epochs): rss for epochs, rss in result["rss_mb"].items()}


def report_memory(training: Optional[Dict[str, List[Dict[str, Any]]]], rss: Dict[int, List[float]],
                  args: argparse.Namespace) -> Dict[str, float]:
    """Section 4's tables; returns the mirror's RSS growth (MiB) from the first to the last epoch count."""
    if training:
        rows = [[label, "{:.0f}".format(median([r["peak_rss_mb"] for r in training[v]])),
                 "{:.0f}".format(median([r["service_rss_mb"] for r in training[v]]))]
                for v, _, label in TRAIN_VARIANTS]
        table("4. Memory of a training run (section 1's runs, medians)",
              ["variant", "peak RSS, training process (MiB)", "W&B service RSS at the end (MiB)"], rows)
    counts = sorted(rss)
    growth = rss[counts[-1]][0] - rss[counts[0]][0]
    table("4b. RSS while the mirror logs epochs of 50 scalars (WandbWriter over tensorboardX, offline run)",
          ["after N epochs", "training process (MiB)", "W&B service (MiB)"],
          [["{:,}".format(n), "{:.1f}".format(rss[n][0]), "{:.1f}".format(rss[n][1])] for n in counts],
          "Training process RSS from {:,} to {:,} epochs: {:+.1f} MiB.".format(counts[0], counts[-1], growth))
    return {"growth_mb": growth}


# --- section 5: start-up ----------------------------------------------------------------------------------


def report_startup(runs: Dict[str, List[Dict[str, Any]]]) -> None:
    """Section 5's table, from section 1's runs."""
    base_up = median([r["startup_s"] for r in runs["plain"]])
    base_down = median([r["shutdown_s"] for r in runs["plain"]])
    rows = []
    for variant, _, label in TRAIN_VARIANTS:
        up = [r["startup_s"] for r in runs[variant]]
        down = [r["shutdown_s"] for r in runs[variant]]
        rows.append([label, "{:.2f}".format(median(up)), "{:+.2f}".format(median(up) - base_up), spread(up, "{:.2f}"),
                     "{:.2f}".format(median(down)), "{:+.2f}".format(median(down) - base_down)])
    table("5. Start-up and shut-down (section 1's runs, medians)",
          ["variant", "start-up (s)", "vs (a)", "range", "shut-down (s)", "vs (a)"], rows,
          "Start-up: from starting the process to the first rollout step of the first epoch. Shut-down: from the "
          "last epoch's stats to the process exiting (final save, finishing the run).")


STARTUP_TARGET_S, SHARE_TARGET = 0.3, 0.005


def report_targets(wall: Optional[Dict[str, Any]], profiles: Optional[Dict[str, Dict[str, float]]],
                   costs: Optional[Dict[str, float]], saves: Optional[Dict[str, Any]],
                   memory: Optional[Dict[str, float]], video_ratios: Optional[Dict[str, float]] = None,
                   scaling: Optional[Dict[str, float]] = None,
                   training: Optional[Dict[str, List[Dict[str, Any]]]] = None) -> None:
    """The issue's targets, each with its figure and whether it is met."""
    rows = []
    if profiles and {"mirror", "sync_tb"} <= set(profiles):
        b, c = profiles["mirror"], profiles["sync_tb"]
        per_epoch = [1e3 * p["main_logging_s"] * p["epoch_s"] / p["window_s"] for p in (b, c)]
        rows.append(["(b) <= (c): training thread in W&B code per epoch (1b)",
                     "{:.2f} ms vs {:.2f} ms".format(*per_epoch), _met(per_epoch[0] <= per_epoch[1])])
        shares = [logging_share(b), logging_share(c)]
        rows.append(["(b) share of the training window <= {:.1f} % and <= (c)'s (1b)".format(100 * SHARE_TARGET),
                     "{:.2f} % vs {:.2f} %".format(100 * shares[0], 100 * shares[1]),
                     _met(shares[0] <= min(SHARE_TARGET, shares[1]))])
    if training:
        up = {v: median([r["startup_s"] for r in training[v]]) for v in ("plain", "mirror", "sync_tb")}
        down = {v: median([r["shutdown_s"] for r in training[v]]) for v in ("plain", "mirror", "sync_tb")}
        rows.append(["(b) start-up <= +{:.1f} s over (a) and <= (c)'s (5)".format(STARTUP_TARGET_S),
                     "{:+.2f} s vs {:+.2f} s".format(up["mirror"] - up["plain"], up["sync_tb"] - up["plain"]),
                     _met(up["mirror"] - up["plain"] <= STARTUP_TARGET_S and up["mirror"] <= up["sync_tb"])])
        rows.append(["(b) shut-down <= (c)'s (5)", "{:+.2f} s vs {:+.2f} s".format(
            down["mirror"] - down["plain"], down["sync_tb"] - down["plain"]), _met(down["mirror"] <= down["sync_tb"])])
    if profiles and "mirror" in profiles:
        implied = 1 / (1 - logging_share(profiles["mirror"]))
        rows.append(["(b)/(a) epoch time <= 1.01: W&B's share of (b)'s time, profiled (1b)", "{:.4f}".format(implied),
                     _met(implied <= 1.01)])
    if wall:
        ratio, (low, high) = wall["ratio"]["mirror"], wall["interval"]["mirror"]
        rows.append(["(b)/(a) epoch time <= 1.01: wall clock, median (95 % interval) (1)",
                     "{:.3f} ({:.3f}..{:.3f})".format(ratio, low, high), _resolved(high <= 1.01, low > 1.01)])
    if costs:
        rows.append(["(b) cheaper than (c): W&B cost of an epoch of 50 scalars, training thread + service (2)",
                     "{:.0f} us vs {:.0f} us".format(costs["mirror"], costs["sync_tb"]),
                     _met(costs["mirror"] < costs["sync_tb"])])
    if wall:
        difference = [wall["interval"][v] for v in ("mirror", "sync_tb")]
        rows.append(["(b) faster than (c): wall clock, median (95 % intervals) (1)",
                     "{:.3f} vs {:.3f} ({:.3f}..{:.3f} vs {:.3f}..{:.3f})".format(
                         wall["ratio"]["mirror"], wall["ratio"]["sync_tb"], *difference[0], *difference[1]),
                     _resolved(difference[0][1] < difference[1][0], difference[0][0] > difference[1][1])])
    if saves:
        worst = max(high for _, high in saves["added_ms"].values())
        rows.append(["save() gains <= 10 ms at every size (added in save(): median / max)", ", ".join(
            "{} MB: {:.2f} / {:.2f} ms".format(k, *v) for k, v in saves["added_ms"].items()), _met(worst <= 10)])
        rows.append(["  the same as save() vs none (medians; noise: see section 3)", ", ".join(
            "{} MB: {:+.1f} ms".format(k, v) for k, v in saves["vs_none_ms"].items()), "-"])
        rows.append(["every checkpoint in the run, bytes of its save", "{}/{}".format(saves["found"], saves["made"]),
                     _met(not saves["problems"] and saves["found"] == saves["made"])])
    if memory:
        rows.append(["RSS flat in the number of epochs (< 5 MiB growth)", "{:+.1f} MiB".format(memory["growth_mb"]),
                     _met(memory["growth_mb"] < 5)])
    if scaling:
        rows.append(["gradient/parameter norms <= {:.0f} % of the backward pass at every network size (7)".format(
            100 * NORM_SHARE), "at most {:.2f} % with the agent's clip seen; a clip not seen: {:.2f} % (torch < "
            "1.13's flat buffer: {:.2f} %); a trainer without a scaler, hooks: {:.2f} %".format(
                100 * scaling["tracker"], 100 * scaling["foreach"], 100 * scaling["flat"], 100 * scaling["hooks"]),
            _met(max(scaling["tracker"], scaling["foreach"], scaling["flat"]) <= NORM_SHARE)])
    if video_ratios:
        worst = max(video_ratios["watch"], video_ratios["capture"])
        rows.append(["epochs without a video unchanged by videos (within 2 % of (b), median) (6)",
                     "watch {:.3f}, capture {:.3f}".format(video_ratios["watch"], video_ratios["capture"]),
                     _met(worst <= 1.02)])
    table("Targets", ["target", "measured", "met"], rows)


def _resolved(met: bool, missed: bool) -> str:
    """A wall-clock verdict: met or missed when the interval says so, otherwise not resolvable here."""
    if met or missed:
        return "yes" if met else "NO"
    return "not resolved here (interval spans the target, or under 3 repeats)"


def _met(ok: bool) -> str:
    return "yes" if ok else "NO"


# --- section 6: videos ------------------------------------------------------------------------------------


VIDEO_FREQ, VIDEO_LEN, HORIZON = 10, 32, 16
VIDEO_VARIANTS = (("mirror", [], "(b) hsi_wandb mirror, no videos"),
                  ("watch", ["wandb.videos=videos"], "(b) + wandb.videos watching a folder"),
                  ("capture", ["--capture_video", "--capture_video_freq", str(VIDEO_FREQ), "--capture_video_len",
                               str(VIDEO_LEN)], "(b) + --capture_video: 4 envs recorded, encoded, logged"))


def run_videos(scratch: Scratch, args: argparse.Namespace) -> Dict[str, List[Dict[str, Any]]]:
    """Each video variant ``video_repeats`` times, interleaved; per variant, one dict per run."""
    runs: Dict[str, List[Dict[str, Any]]] = {v: [] for v, _, _ in VIDEO_VARIANTS}
    for repeat in range(args.video_repeats):
        for variant, video_args, _ in VIDEO_VARIANTS:
            progress("videos {} ({}/{}), {} epochs".format(variant, repeat + 1, args.video_repeats, args.video_epochs))
            result, _, _, workdir = scratch.run("train", "offline", variant=variant, epochs=args.video_epochs,
                                                num_envs=args.num_envs, seed=args.seed, output="output",
                                                video_args=video_args)
            result["videos"] = len(glob.glob(os.path.join(workdir, "output", "*", "videos", "train", "*.mp4")))
            runs[variant].append(result)
            scratch.discard(workdir)
    return runs


def video_epoch(epoch: int) -> bool:
    """Whether ``epoch`` records a video or encodes one (the recording's epochs and the one after)."""
    start = epoch - epoch % VIDEO_FREQ
    return start > 0 and epoch - start <= -(-VIDEO_LEN // HORIZON)


def report_videos(runs: Dict[str, List[Dict[str, Any]]], args: argparse.Namespace) -> Dict[str, float]:
    """Section 6's table; returns each variant's median quiet epoch without a video over (b)'s."""
    quiet = sum(f < QUIET * e for rs in runs.values() for r in rs for e, f in zip(r["epoch_s"], r["foreign_cpu_s"]))
    total = sum(len(r["epoch_s"]) for rs in runs.values() for r in rs)
    only_quiet = quiet >= total / 2

    def epochs(run: Dict[str, Any], with_video: bool) -> List[float]:
        timed = zip(range(2, len(run["epoch_s"]) + 2), run["epoch_s"], run["foreign_cpu_s"])
        return [e for epoch, e, f in timed if (f < QUIET * e or not only_quiet) and video_epoch(epoch) == with_video]

    base = median([e for r in runs["mirror"] for e in epochs(r, False)])
    rows, ratios = [], {}
    for variant, _, label in VIDEO_VARIANTS:
        without = [e for r in runs[variant] for e in epochs(r, False)]
        recording = [e for r in runs[variant] for e in epochs(r, True)] if variant == "capture" else []
        ratios[variant] = median(without) / base
        rows.append([label, "{}".format(len(without)), "{:.4f}".format(median(without)),
                     "{:.3f}".format(ratios[variant]), "{:.4f}".format(median(recording)) if recording else "-",
                     "{:.3f}".format(median(recording) / base) if recording else "-",
                     "{}".format(median([r["videos"] for r in runs[variant]]))])
    table("6. Videos: run.py's default task, {} epochs x {} runs per variant, a video every {} epochs of {} steps "
          "(horizon {})".format(args.video_epochs, args.video_repeats, VIDEO_FREQ, VIDEO_LEN, HORIZON),
          ["variant", "epochs without a video", "median (s)", "/ (b)", "median of video epochs (s)",
           "video epochs / (b)", "videos written"], rows,
          "Epochs without a video: every epoch but those that record (the {} steps from each multiple of {}) and the "
          "one after, which encodes on a thread. {} The watcher looks for new files every {:.0f} s on its own "
          "thread; the training thread only notes each row's time.".format(
              VIDEO_LEN, VIDEO_FREQ, "Epochs during which other programs used the CPU are left out, as in section 1."
              if only_quiet else "Other programs used the CPU during {} of {} epochs, so all epochs are used: compare "
              "variants only to the run-to-run spread.".format(total - quiet, total), videos.SCAN_INTERVAL))
    return ratios


# --- section 7: cost as the work grows ----------------------------------------------------------------------

NORM_SHARE = 0.02
"""The gradient-norm work's target: at most this share of the backward pass, at every network size."""


def run_scaling(scratch: Scratch, args: argparse.Namespace) -> Dict[str, Any]:
    """The norms' cost per network, one worker each; the mirror's and TensorBoard's cost per scalar count."""
    norms = []
    for spec in args.networks:
        architecture, _, shape = spec.partition(":")
        width, _, layers = shape.partition("x")
        progress("norms: {}, {} steps".format(spec, args.norm_steps))
        result, _, _, workdir = scratch.run("norm_cost", "disabled", architecture=architecture, width=int(width or 0),
                                            layers=int(layers or 0), steps=args.norm_steps)
        norms.append(dict(result, network=spec))
        scratch.discard(workdir)
    scalars: Dict[str, Dict[str, List[Dict[str, Any]]]] = {}
    for count in args.scalar_counts:
        for variant, mode, _ in LOG_VARIANTS[:2]:
            progress("logging {} scalars per epoch: {}".format(count, variant))
            result, _, _, workdir = scratch.run("log_loop", mode, variant=variant, epochs=args.log_epochs // 2,
                                                warmup=20, chunk=20, rss_at=[], scalars=count)
            scalars.setdefault(str(count), {}).setdefault(variant, []).append(result)
            scratch.discard(workdir)
    return {"norms": norms, "scalars": scalars}


def network_label(network: Dict[str, Any]) -> str:
    """What a section-7 network is, with its size."""
    if network["network"] == "mlp":
        name = "default task's MLPs"
    else:
        width, layers = network["network"].split(":")[1].split("x")
        name = "transformer {} x {} layers".format(width, layers)
    return "{} ({:.2g} M, {} tensors)".format(name, network["params"] / 1e6, network["tensors"])


def report_scaling(results: Dict[str, Any], args: argparse.Namespace) -> Dict[str, float]:
    """Section 7's tables; returns the norms' largest share of the backward pass (this torch's path and the flat
    buffer of torch < 1.13) and the mirror's per-scalar cost at the most scalars."""
    rows, worst = [], {"tracker": 0.0, "foreach": 0.0, "flat": 0.0, "hooks": 0.0}

    def share(seconds: float, n: Dict[str, Any]) -> str:
        return "{:.3f} ({:.2f} %)".format(1e3 * seconds, 100 * seconds / n["backward_s"])

    for n in results["norms"]:
        own = {"tracker": n["tracker_s"], "foreach": n["tracker_s"] + n["foreach_s"],
               "flat": n["tracker_s"] + n["flat_s"], "hooks": n["hooks_s"]}
        for key, seconds in own.items():
            worst[key] = max(worst[key], seconds / n["backward_s"])
        rows.append([network_label(n), "{:.1f}".format(1e3 * n["backward_s"]), share(own["tracker"], n),
                     share(own["foreach"], n), share(own["flat"], n), share(own["hooks"], n),
                     share(n["per_tensor_s"], n), "{:.3f}".format(1e3 * n["epoch_values_s"])])
    table("7. Gradient and parameter norms against network size, at least {} optimizer steps and 5 s each (Adam, "
          "clipped), medians".format(args.norm_steps),
          ["network", "forward + backward (ms)", "tracker per step, the agent's clip seen (ms, share)",
           "a clip it does not see: + its own norm, torch._foreach_norm (ms, share)", "the same with torch < 1.13's "
           "flat buffer (ms, share)", "trainer without a scaler: hooks + norm (ms, share)", "before: one norm per "
           "tensor (ms, share)", "epoch_values, one transfer (ms)"], rows,
          "Tracker per step: the time GradNormTracker takes per optimizer step when the trainer steps as rl_games' "
          "and ASE's agents do (through its GradScaler, here with mixed precision off, unscaled, then clipped with "
          "torch.nn.utils.clip_grad_norm_ over every parameter): in the scaler's unscale_ and around the clip, whose "
          "norm it records, so the norm is computed once per step, by the agent's clip, as without hsi_wandb; the "
          "clip itself is not counted (the agent clips with or without hsi_wandb). Nothing of it runs inside the "
          "backward pass. A clip it does not see (another function, other parameters, another norm, or "
          "clip_grad_norm_ imported by name before training): the tracker takes the norm itself, on the same "
          "gradients with torch._foreach_norm (this torch's path) or with the flat buffer torch 1.8 to 1.12 get "
          "(copied in with one torch.cat, reduced in 64 Ki-element chunks). Before: as hsi_wandb once computed it, "
          "one torch.norm per tensor. Trainer without a scaler: a second tracker on the same optimizer given no "
          "scaler, which keeps a Python hook per parameter inside backward and takes the norm at its end (the time "
          "inside its hooks and callbacks). epoch_values: the parameter norm and the epoch's mean gradient norm, "
          "read with one device-to-host transfer per epoch (no step transfers anything: tests/test_model_stats.py "
          "counts them). CPU, {} torch threads; on CUDA the per-tensor path launches two kernels per tensor, the "
          "fused one a few per step.".format(results["norms"][0]["threads"] if results["norms"] else "-"))
    counts = sorted(results["scalars"], key=int)
    rows, per_scalar = [], 0.0
    for count in counts:
        walls = {v: median([r["wall_us"] for r in results["scalars"][count][v]]) for v in ("tb", "mirror")}
        service = median([r["service_cpu_us"] for r in results["scalars"][count]["mirror"]])
        added = walls["mirror"] - walls["tb"]
        per_scalar = (added + service) / int(count)
        rows.append([count, "{:.0f}".format(walls["tb"]), "{:.0f}".format(walls["mirror"]),
                     "{:+.0f} ({:+.1f} %)".format(added, 100 * added / walls["tb"]), "{:.0f}".format(service),
                     "{:.1f}".format(per_scalar)])
    table("7b. The mirror's cost against scalars per epoch (real tensorboardX writer, real offline run), {} epochs "
          "each".format(args.log_epochs // 2),
          ["scalars per epoch", "TensorBoard only (us/epoch)", "mirror (us/epoch)", "mirror minus TensorBoard",
           "W&B service CPU (us/epoch)", "W&B cost per scalar (us)"], rows,
          "As section 2, with the scalars cut from or extended beyond its 50 (per-task episode statistics); one "
          "run each. 'W&B cost per scalar': the training thread's added time plus the service's CPU, over the "
          "scalars.")
    return dict(worst, per_scalar_us=per_scalar)


def main(argv: Optional[List[str]] = None) -> int:
    """Run the benchmark; with --write, its tables also go into that page. 1 if a checkpoint went missing."""
    args = parse_args(argv)
    printed = Tee(sys.stdout)
    with contextlib.redirect_stdout(printed):
        code = run_benchmark(args)
    if args.write:
        with open(args.write, encoding="utf-8") as f:
            page = f.read()
        with open(args.write, "w", encoding="utf-8") as f:
            f.write(with_results(page, printed.copy.getvalue()))
    return code


def run_benchmark(args: argparse.Namespace) -> int:
    """Run the chosen sections, print a table for each and the targets; 1 if a checkpoint went missing."""
    started, load_before = time.time(), load_average()
    info = machine()
    table("Machine", ["", ""], info)
    scratch = Scratch(args.keep)
    training = wall = profiles = costs = saves = memory = video_ratios = scaling = None
    raw: Dict[str, Any] = {"args": vars(args), "machine": dict(info)}
    try:
        if set("145") & set(args.sections):
            training = raw["training"] = run_training(scratch, args)
            if "1" in args.sections:
                wall = report_training(training, args)
                profiles = raw["profiles"] = run_profiles(scratch, args)
                if profiles:
                    report_profiles(profiles, args)
        if "2" in args.sections:
            raw["logging"] = run_log_cost(scratch, args)
            costs = report_log_cost(raw["logging"], args)
        if "3" in args.sections:
            raw["checkpoints"] = run_checkpoints(scratch, args)
            saves = report_checkpoints(raw["checkpoints"], args)
        if "4" in args.sections:
            raw["memory"] = run_memory(scratch, args)
            memory = report_memory(training, raw["memory"], args)
        if "5" in args.sections and training:
            report_startup(training)
        if "6" in args.sections:
            raw["videos"] = run_videos(scratch, args)
            video_ratios = report_videos(raw["videos"], args)
        if "7" in args.sections:
            raw["scaling"] = run_scaling(scratch, args)
            scaling = report_scaling(raw["scaling"], args)
    finally:
        scratch.close()
        if args.json:
            with open(args.json, "w") as f:
                json.dump(raw, f, indent=1)
    report_targets(wall, profiles, costs, saves, memory, video_ratios, scaling, training)
    print("\nW&B project of the offline runs: {}. Load average before: {}, after: {}. Benchmark took {:.0f} s."
          .format(BENCH_PROJECT, load_before, load_average(), time.time() - started))
    return 1 if saves and saves["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
