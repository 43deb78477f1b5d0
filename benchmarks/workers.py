"""Benchmark workers: each measurement runs in a fresh process and writes its figures to a JSON file.

    python benchmarks/workers.py <train|log_loop|checkpoints> '<JSON arguments>' <result.json>

``benchmark.py`` starts these with the repository root on PYTHONPATH, W&B offline (or disabled) and W&B's own
folders inside a scratch directory that is also the working directory.
"""
import gc
import hashlib
import json
import math
import os
import resource
import signal
import statistics
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

import psutil

BENCH_PROJECT = "hsi-wandb-benchmark"


def wandb_section(**overrides: Any) -> Dict[str, Any]:
    """A training config that turns the mirror on, offline unless WANDB_MODE says otherwise."""
    return {"use_wandb": True, "wandb": dict({"project": BENCH_PROJECT, "mode": "offline"}, **overrides)}


def service_processes() -> List[psutil.Process]:
    """The W&B service (wandb-core) and any other process this one started, except the profiler."""
    found = []
    for proc in psutil.Process().children(recursive=True):
        try:
            if proc.name() != "py-spy":
                found.append(proc)
        except psutil.Error:
            pass
    return found


def service_cpu_s() -> float:
    """CPU seconds (user + system) used so far by the processes this one started."""
    total = 0.0
    for proc in service_processes():
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            pass
    return total


def own_cpu_s() -> float:
    """CPU seconds (user + system, all threads) used so far by this process."""
    times = psutil.Process().cpu_times()
    return times.user + times.system


def rss_mb() -> Tuple[float, float]:
    """Resident memory in MiB of this process and of the processes it started (the W&B service)."""
    service = 0
    for proc in service_processes():
        try:
            service += proc.memory_info().rss
        except psutil.Error:
            pass
    return psutil.Process().memory_info().rss / 2 ** 20, service / 2 ** 20


def foreign_cpu_s() -> float:
    """CPU seconds the whole machine has been busy, less those of this process and the processes it started.

    Its growth over an interval is the CPU other programs took from the benchmark (in core-seconds).
    """
    busy = psutil.cpu_times()
    total = busy.user + busy.nice + busy.system + busy.irq + busy.softirq + getattr(busy, "steal", 0.0)
    return total - own_cpu_s() - service_cpu_s()


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MiB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- section 1, 4, 5: training the built-in default task -------------------------------------------------


def _epoch_clock(profiler: Optional["Profiler"] = None, epochs: int = 0) -> Any:
    """An rl_games algo observer noting when the first rollout step runs and when each epoch's stats are written.

    With ``profiler``, it profiles from the first epoch's stats to the last one's (``epochs``): training only.
    """
    from rl_games.common.algo_observer import AlgoObserver

    class EpochClock(AlgoObserver):
        """Wall-clock marks of a training run, read by :func:`train`."""

        def __init__(self) -> None:
            super().__init__()
            self.first_step: Optional[float] = None
            self.stats_written: List[float] = []
            self.foreign_cpu: List[float] = []

        def process_infos(self, infos: Any, done_indices: Any) -> None:
            """The first call is the first step of the first epoch: start-up is over."""
            if self.first_step is None:
                self.first_step = time.time()

        def after_clear_stats(self) -> None:
            """rl_games 1.1.4 calls this on every observer; nothing to do."""

        def after_print_stats(self, frame: int, epoch_num: int, total_time: float) -> None:
            """Once per epoch, at the same point of every epoch: successive marks are one epoch apart."""
            self.stats_written.append(time.time())
            self.foreign_cpu.append(foreign_cpu_s())
            if profiler is not None and len(self.stats_written) == 1:
                profiler.start()
            if profiler is not None and len(self.stats_written) == epochs:
                profiler.stop()

    return EpochClock()


def train(variant: str, epochs: int, num_envs: Optional[int], seed: int, output: str,
          profile: bool = False, video_args: Sequence[str] = ()) -> Dict[str, Any]:
    """Train run.py's default task with the AMP agent; ``variant`` is plain, tb, mirror or sync_tb.

    tb and mirror go through ``apply_to_runner`` exactly as ``run.py`` does (WANDB_MODE decides between them);
    plain is the agent without hsi_wandb; sync_tb is how IsaacGymEnvs does it: the plain agent and
    ``wandb.init(sync_tensorboard=True)`` beforehand. ``profile`` samples the training epochs with py-spy and
    adds where the time went (:meth:`Profiler.attribution`). ``video_args``: run.py arguments for videos
    (``--capture_video ...``, ``wandb.videos=...``).
    """
    import run as run_py
    from hsi_wandb.builtin.registry import build_runner
    from hsi_wandb.adapter import apply_to_runner

    argv = ["--max_iterations", str(epochs), "--seed", str(seed), "--output_path", output]
    if num_envs:
        argv += ["--num_envs", str(num_envs)]
    args = run_py.parse_args(argv + list(video_args))
    cfg_env, cfg_train, _ = run_py.load_configs(args)
    rl_config = run_py.rl_config_for(args, args.task, cfg_env, cfg_train, None)
    profiler = Profiler(os.path.abspath("profile.txt")) if profile else None
    clock = _epoch_clock(profiler, epochs)
    runner = build_runner(clock)
    user_run = None
    if variant == "sync_tb":
        import wandb

        user_run = wandb.init(project=BENCH_PROJECT, dir=os.path.abspath(output), mode="offline",
                              sync_tensorboard=True, config=dict(cfg_train, params=rl_config["params"]))
    elif variant != "plain":
        apply_to_runner(runner, dict(cfg_train, params=rl_config["params"]), source=args.cfg_train,
                        extra_config={"env": cfg_env}, task=args.task)
    runner.load(rl_config)
    runner.run({"train": True, "play": False, "checkpoint": None})
    _, service_rss = rss_mb()
    if user_run is not None:
        user_run.finish()
    marks, foreign = clock.stats_written, clock.foreign_cpu
    return {"first_step": clock.first_step, "epoch_s": [b - a for a, b in zip(marks, marks[1:])],
            "foreign_cpu_s": [b - a for a, b in zip(foreign, foreign[1:])],
            "profile": profiler.attribution() if profiler is not None else None,
            "last_stats": marks[-1], "peak_rss_mb": peak_rss_mb(), "service_rss_mb": service_rss}


# Where a sampled stack's time belongs: the innermost frame from one of these decides. W&B's side is hsi_wandb
# (not its built-in tasks) and wandb; training is the agent, its model's modules (their forward passes, and the
# parameters generator the agent hands to clip_grad_norm_, which hsi_wandb's wrapper lists before the clip does),
# TensorBoard's writer, the optimizer, the agent's gradient clipping (reached through hsi_wandb's wrappers on the
# optimizer's step and on clip_grad_norm_, which the agent calls with or without hsi_wandb), torch.save.
LOGGING_CODE = ("hsi_wandb/", "wandb/")
TRAINING_CODE = ("hsi_wandb/builtin/", "rl_games/", "torch/nn/modules/", "tensorboardX/", "torch/utils/tensorboard/",
                 "torch/optim/", "torch/nn/utils/clip_grad", "torch/serialization", "workers.py")


# Innermost frames of a thread that waits (py-spy's idle detection does not work on every machine, and a thread
# other than training's costs training nothing while it waits).
WAITING = ("Condition.wait ", "Event.wait ", "Thread.join ", "Thread._wait_for_tstate_lock ", "Selector.select ")


def _frame_owner(frame: str) -> Optional[str]:
    """``training``, ``logging`` or None for one py-spy frame ``function (path:line)``."""
    path = frame[frame.rfind("(") + 1:]
    if any(code in path for code in TRAINING_CODE):
        return "training"
    if any(code in path for code in LOGGING_CODE):
        return "logging"
    return None


class Profiler:
    """py-spy sampling this process (all threads, 200 Hz, without pausing it) and the W&B service's CPU."""

    RATE = 200

    def __init__(self, path: str):
        self.path = path
        self._process: Any = None
        self._started = self._stopped = 0.0
        self._service_cpu = 0.0

    def start(self) -> None:
        """Start sampling (py-spy takes about a second to attach; the window starts when it has)."""
        self._process = subprocess.Popen(
            ["py-spy", "record", "--pid", str(os.getpid()), "--rate", str(self.RATE), "--format", "raw",
             "--threads", "--nonblocking", "--output", self.path], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        time.sleep(1.5)
        self._started, self._service_cpu = time.time(), service_cpu_s()

    def stop(self) -> None:
        """Stop sampling; py-spy writes its samples on SIGINT."""
        self._stopped, self._service_cpu = time.time(), service_cpu_s() - self._service_cpu
        self._process.send_signal(signal.SIGINT)
        self._process.wait(timeout=60)

    def attribution(self) -> Dict[str, float]:
        """Seconds of the window spent on W&B's side: on the training thread (inside hsi_wandb or wandb, not in
        what they delegate to, waiting included), in other threads running hsi_wandb or wandb code (not
        waiting), and by the W&B service."""
        seconds = {"window_s": self._stopped - self._started, "main_logging_s": 0.0, "threads_logging_s": 0.0,
                   "service_cpu_s": self._service_cpu}
        with open(self.path) as f:
            for line in f:
                stack, count = line.rstrip().rsplit(" ", 1)
                frames = stack.split(";")
                if next(filter(None, map(_frame_owner, reversed(frames[1:]))), None) != "logging":
                    continue
                if "MainThread" in frames[0]:
                    seconds["main_logging_s"] += int(count) / self.RATE
                elif not any(wait in frames[-1] for wait in WAITING):
                    seconds["threads_logging_s"] += int(count) / self.RATE
        return seconds


# --- sections 2 and 4: the per-epoch logging path in isolation ----------------------------------------------

AMP_TAGS = ["performance/total_fps", "performance/step_fps", "performance/update_time", "performance/play_time",
            "losses/a_loss", "losses/c_loss", "losses/disc_loss", "losses/bounds_loss", "losses/entropy",
            "info/epochs", "info/last_lr", "info/lr_mul", "info/clip_frac", "info/kl", "info/e_clip",
            "info/disc_agent_acc", "info/disc_demo_acc", "info/disc_agent_logit", "info/disc_demo_logit",
            "info/disc_grad_penalty", "info/disc_logit_loss", "info/disc_reward_mean", "info/disc_reward_std"]
TASKS = ("traj", "reach", "heading", "sit")


def epoch_tags(count: int = 50) -> List[Tuple[str, str]]:
    """``count`` (tag, axis) pairs: the 50 a multi-task AMP agent (TokenHSI-style) writes each epoch, cut short or
    followed by per-task episode statistics (``Episode/task<i>_stat<j>``, against frame) up to ``count``."""
    tags = [(tag, "frame") for tag in AMP_TAGS]
    tags += [("rewards0/frame", "frame"), ("rewards0/iter", "epoch"), ("rewards0/time", "time"),
             ("episode_lengths/frame", "frame"), ("episode_lengths/iter", "epoch")]
    for task in TASKS:
        tags += [("rewards/{}/frame".format(task), "frame"), ("rewards/{}/iter".format(task), "epoch"),
                 ("rewards/{}/time".format(task), "time"), ("Episode/{}_success".format(task), "frame")]
    tags += [("successes/frame", "frame"), ("successes/iter", "epoch"), ("successes/time", "time"),
             ("Episode/num_resets", "frame"), ("Episode/mean_progress", "frame"), ("Episode/timeouts", "frame")]
    tags += [("Episode/task{}_stat{}".format(i // 10, i % 10), "frame") for i in range(count - len(tags))]
    return tags[:count]


class TensorBoardPath:
    """TensorBoard only (tensorboardX); given a W&B run (sync_tensorboard=True), it finishes it on close."""

    def __init__(self, writer: Any, run: Any = None):
        self.writer = writer
        self.run = run

    def begin_epoch(self, epoch: int, frame: int) -> None:
        """Nothing to do when an epoch starts."""

    def add_scalar(self, tag: str, value: float, step: Any) -> None:
        """Write one scalar to TensorBoard."""
        self.writer.add_scalar(tag, value, step)

    def flush(self) -> None:
        """Write buffered events to disk, so that a W&B service reading them can catch up."""
        self.writer.flush()

    def close(self) -> None:
        """Close the writer, then finish the W&B run, if any."""
        self.writer.close()
        if self.run is not None:
            self.run.finish(0)


class MirrorPath(TensorBoardPath):
    """hsi_wandb's WandbWriter over TensorBoard: one W&B row per epoch."""

    def begin_epoch(self, epoch: int, frame: int) -> None:
        """Send the previous epoch's row, as the adapter's ``update_epoch`` does."""
        self.writer.begin_epoch(epoch)


class PerScalarPath(TensorBoardPath):
    """TensorBoard plus one ``wandb.log({tag: value}, step=frame)`` per scalar (rsl_rl's WandbSummaryWriter)."""

    _frame = 0

    def begin_epoch(self, epoch: int, frame: int) -> None:
        """Log this epoch's scalars at its frame."""
        self._frame = frame

    def add_scalar(self, tag: str, value: float, step: Any) -> None:
        """Write to TensorBoard, then log the scalar on its own."""
        self.writer.add_scalar(tag, value, step)
        self.run.log({tag: value}, step=self._frame)


def logging_path(variant: str, run_dir: str) -> TensorBoardPath:
    """tb, mirror, per_scalar or sync_tb (W&B's TensorBoard patch: the W&B service reads the event files)."""
    from tensorboardX import SummaryWriter

    summaries = os.path.join(run_dir, "summaries")
    if variant == "tb":
        return TensorBoardPath(SummaryWriter(summaries))
    if variant == "mirror":
        from hsi_wandb import WandbWriter, resolve_settings, start_run
        from hsi_wandb.adapter import tags as rl_games_tags

        run = start_run(resolve_settings(wandb_section(), "<benchmark>"), run_dir, {})
        return MirrorPath(WandbWriter(SummaryWriter(summaries), run, tags=rl_games_tags), run)
    import wandb

    run = wandb.init(project=BENCH_PROJECT, dir=run_dir, mode="offline", sync_tensorboard=variant == "sync_tb")
    return (TensorBoardPath if variant == "sync_tb" else PerScalarPath)(SummaryWriter(summaries), run)


def service_busy_until_idle(idle_cpu_per_s: float, quiet_s: float = 5.0, limit_s: float = 180.0) -> float:
    """Wait until the W&B service has caught up: its CPU use at idle level for ``quiet_s`` seconds in a row.

    Returns how long it was still busy. (The service reads TensorBoard event files some seconds after they
    were written, hence the quiet period.)
    """
    started = last_busy = time.perf_counter()
    while time.perf_counter() - last_busy < quiet_s and time.perf_counter() - started < limit_s:
        before = service_cpu_s()
        time.sleep(0.5)
        if service_cpu_s() - before > max(2 * idle_cpu_per_s, 0.05) * 0.5:
            last_busy = time.perf_counter()
    return last_busy - started


def log_loop(variant: str, epochs: int, warmup: int, chunk: int, rss_at: List[int], scalars: int = 50) -> Dict[str, Any]:
    """Write ``epochs`` realistic epochs (``scalars`` scalars each) through one logging path and time it.

    Returns the median wall time per epoch over chunks of ``chunk`` epochs; CPU per epoch of this process
    and of the W&B service, from the loop's start to the service being idle again, less its idle CPU; how long
    the service was still busy after the loop; and resident memory after each epoch count in ``rss_at``.
    """
    run_dir = os.path.abspath("log_loop")
    os.makedirs(run_dir, exist_ok=True)
    path = logging_path(variant, run_dir)
    tags = epoch_tags(scalars)
    frames_per_epoch, t0 = 32768, time.time()

    def write(epoch: int) -> None:
        """One epoch: start it, then its scalars, each at the step of its axis."""
        frame = epoch * frames_per_epoch
        path.begin_epoch(epoch, frame)
        steps = {"frame": frame, "epoch": epoch, "time": time.time() - t0}
        for i, (tag, axis) in enumerate(tags):
            path.add_scalar(tag, math.sin(epoch + i), steps[axis])

    for epoch in range(1, warmup + 1):
        write(epoch)
    path.flush()
    service_busy_until_idle(0.0)
    idle_start, idle_s = service_cpu_s(), 2.0
    time.sleep(idle_s)
    idle_rate = (service_cpu_s() - idle_start) / idle_s
    chunk_us, rss = [], {}
    own0, service0, loop0 = own_cpu_s(), service_cpu_s(), time.perf_counter()
    for first in range(warmup + 1, warmup + epochs + 1, chunk):
        started = time.perf_counter()
        for epoch in range(first, min(first + chunk, warmup + epochs + 1)):
            write(epoch)
            if epoch - warmup in rss_at:
                gc.collect()
                rss[epoch - warmup] = rss_mb()
        chunk_us.append((time.perf_counter() - started) * 1e6 / chunk)
    own_cpu = own_cpu_s() - own0
    path.flush()
    catch_up_s = service_busy_until_idle(idle_rate)
    service_cpu = service_cpu_s() - service0 - idle_rate * (time.perf_counter() - loop0)
    path.close()
    return {"wall_us": statistics.median(chunk_us), "own_cpu_us": own_cpu * 1e6 / epochs,
            "service_cpu_us": max(service_cpu, 0.0) * 1e6 / epochs, "catch_up_s": catch_up_s, "rss_mb": rss}


# --- section 3: checkpoint saves through the mixin's save() -------------------------------------------------


def _checkpointing_agent_class(direct: bool) -> type:
    """An rl_games-like agent whose ``train()`` saves big checkpoints with rl_games' own save routine.

    ``direct`` adds what users write without hsi_wandb: a synchronous ``wandb.Artifact`` +
    ``run.log_artifact`` inside ``save()``.
    """
    import torch
    from rl_games.algos_torch import torch_ext

    class CheckpointingAgent:
        """Overwrites one path at several epochs, as rl_games and ASE agents do."""

        def __init__(self, size_mb: int, saves: int, gap_s: float, experiment_dir: str):
            from tensorboardX import SummaryWriter

            self.saves, self.gap_s, self.experiment_dir = saves, gap_s, experiment_dir
            self.writer = SummaryWriter(os.path.join(experiment_dir, "summaries"))
            self.epoch_num, self.frame, self.max_epochs, self.save_freq = 0, 0, saves, 1
            self.state = {"model": torch.empty(size_mb * 2 ** 18).uniform_(), "epoch": 0, "frame": 0}
            self.records: List[Dict[str, Any]] = []
            self.train_done = 0.0

        def save(self, fn: str) -> None:
            """rl_games' save (``torch_ext.save_checkpoint``), timed on its own; then the direct log, if any."""
            started = time.perf_counter()
            torch_ext.save_checkpoint(fn, self.state)
            self.records[-1]["torch_save_s"] = time.perf_counter() - started
            if direct:
                import wandb

                artifact = wandb.Artifact("direct-{}".format(os.path.basename(fn)), type="model",
                                          metadata={"epoch": self.epoch_num, "frame": self.frame})
                artifact.add_file(fn + ".pth")
                wandb.run.log_artifact(artifact, aliases=["latest", "epoch-{}".format(self.epoch_num)])

        def train(self) -> None:
            """Save ``saves`` times to the same path, different bytes each time, timing each ``save()``.

            Between two saves, ``gap_s`` seconds pass and dirty pages are written out (``os.sync``), as in the
            epochs between two saves of a training run.
            """
            fn = os.path.join(self.experiment_dir, "nn", "model")
            os.makedirs(os.path.dirname(fn), exist_ok=True)
            for save in range(self.saves):
                if save:
                    time.sleep(self.gap_s)
                    os.sync()
                self.epoch_num += 1
                self.frame += 32768
                self.state.update(epoch=self.epoch_num, frame=self.frame)
                self.state["model"][0] = self.epoch_num
                self.records.append({"epoch": self.epoch_num})
                started = time.perf_counter()
                self.save(fn)
                self.records[-1].update(save_s=time.perf_counter() - started, md5=md5_hex(fn + ".pth"))
            self.train_done = time.perf_counter()

    return CheckpointingAgent


def md5_hex(path: str) -> str:
    """Hex MD5 of a file's bytes."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(2 ** 22), b""):
            digest.update(block)
    return digest.hexdigest()


def checkpoints(variant: str, size_mb: int, saves: int, gap_s: float) -> Dict[str, Any]:
    """Save checkpoints through the mixin's ``save()``; ``variant`` says how they are logged.

    design: the project's CheckpointLogger; direct: ``run.log_artifact`` inside ``save()``; none:
    ``wandb.checkpoints: none``. Returns each save's timings and the MD5 of the bytes it wrote, how long
    finishing the run waited (pending artifact logging plus ``run.finish``) and the offline run folder.
    """
    from hsi_wandb.adapter import attach, make_options

    experiment_dir = os.path.abspath("experiment")
    agent = _checkpointing_agent_class(variant == "direct")(size_mb, saves, gap_s, experiment_dir)
    attach(agent, make_options(wandb_section(checkpoints="files" if variant == "design" else "none"), "<benchmark>"))
    agent.train()
    finish_s = time.perf_counter() - agent.train_done
    with open(os.path.join(experiment_dir, "wandb_run.json")) as f:
        sync_dir = json.load(f)["sync_dir"]
    return {"saves": agent.records, "finish_s": finish_s, "sync_dir": sync_dir}


# --- section 7: the gradient and parameter norms against network size -------------------------------------------


def network(architecture: str, width: int, layers: int) -> Tuple[Any, Any]:
    """(model, a function of the model giving a loss) for ``architecture`` mlp (the default task's actor, critic and
    discriminator, [128, 64] and [64, 32], on a minibatch of 8192) or transformer (an encoder of ``layers`` layers of
    ``width``, 8 heads, on 64 sequences of 16 tokens)."""
    import torch

    torch.manual_seed(0)
    if architecture == "mlp":
        def mlp(units: List[int], inputs: int) -> Any:
            dims = [inputs] + units
            parts: List[Any] = []
            for a, b in zip(dims, dims[1:]):
                parts += [torch.nn.Linear(a, b), torch.nn.ReLU()]
            return torch.nn.Sequential(*parts, torch.nn.Linear(dims[-1], 2))

        model = torch.nn.ModuleList([mlp([128, 64], 16), mlp([128, 64], 16), mlp([64, 32], 8)])
        batch = [torch.randn(8192, 16), torch.randn(8192, 16), torch.randn(4096, 8)]
        return model, lambda m: sum(part(x).pow(2).mean() for part, x in zip(m, batch))
    layer = torch.nn.TransformerEncoderLayer(width, 8, 4 * width, batch_first=True)
    model = torch.nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
    tokens = torch.randn(64, 16, width)
    return model, lambda m: m(tokens).pow(2).mean()


def per_tensor_norm(tensors: List[Any]) -> Any:
    """The norm as hsi_wandb computed it before (one ``torch.norm`` per tensor): the baseline of section 7."""
    import torch

    return torch.norm(torch.stack([torch.norm(t, 2, dtype=torch.float32) for t in tensors]), 2)


MIN_NORM_TIME_S = 5.0
"""Section 7 times at least this long per network (more steps than asked for small networks), for stable medians."""


def norm_cost(architecture: str, width: int, layers: int, steps: int) -> Dict[str, Any]:
    """Train ``steps`` optimizer steps or more (Adam, gradients clipped) of one network with the mixin's
    ``GradNormTracker`` as rl_games' agents step (through a GradScaler, mixed precision off, unscaled before
    clipping with ``clip_grad_norm_``) and with a second tracker given no scaler (its per-parameter hooks stay); per
    step, the forward and backward time, the time each tracker takes (the first in ``unscale_`` and around the
    clip, whose norm it records, the second in its hooks and the norm at the end of backward), and on the same
    gradients the norm computed per tensor (before), with ``torch._foreach_norm`` and with the flat buffer of
    torch < 1.13 (what the first tracker computes on a step whose clip it does not see); per epoch,
    ``epoch_values``."""
    import torch

    from hsi_wandb.model_stats import GradNormTracker, TotalNorm

    model, loss_of = network(architecture, width, layers)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    scaler = torch.amp.GradScaler("cuda", enabled=False) if hasattr(torch.amp, "GradScaler") else \
        torch.cuda.amp.GradScaler(enabled=False)
    params = [p for p in model.parameters() if p.requires_grad]
    spent = {"tracker": 0.0, "hooks": 0.0}

    def timing(key: str, method: Any) -> Any:
        def timed_method(self: Any, *args: Any) -> Any:
            started = time.perf_counter()
            result = method(self, *args)
            spent[key] += time.perf_counter() - started
            return result
        return timed_method

    class HookedTracker(GradNormTracker):
        """The tracker of a trainer without a scaler, with the time of its hooks and end-of-backward callback."""
        _arm = timing("hooks", GradNormTracker._arm)
        _measure = timing("hooks", GradNormTracker._measure)

    class TimedTracker(GradNormTracker):
        """The tracker of an rl_games agent, with the time of its ``unscale_`` (the scaler's own is a no-op with
        mixed precision off) and of its part of the clip (the parameters checked, the clip's norm kept)."""
        _unscale = timing("tracker", GradNormTracker._unscale)
        _before_clip = timing("tracker", GradNormTracker._before_clip)
        _clipped = timing("tracker", GradNormTracker._clipped)

    trackers = [HookedTracker(optimizer), TimedTracker(optimizer, scaler)]
    fused, flat = TotalNorm(params), TotalNorm(params)
    flat._fused = False

    def timed(fn: Any, *args: Any) -> float:
        started = time.perf_counter()
        fn(*args)
        return time.perf_counter() - started

    figures: Dict[str, List[float]] = {"backward_s": [], "tracker_s": [], "hooks_s": [], "per_tensor_s": [],
                                       "foreach_s": [], "flat_s": [], "epoch_values_s": []}
    step, timed_from = 0, time.perf_counter()
    while step <= steps or time.perf_counter() - timed_from < MIN_NORM_TIME_S:
        optimizer.zero_grad()
        spent.update(tracker=0.0, hooks=0.0)
        started = time.perf_counter()
        scaler.scale(loss_of(model)).backward()
        backward_s = time.perf_counter() - started
        grads = [p.grad for p in params if p.grad is not None]
        baseline = [timed(per_tensor_norm, grads), timed(fused.of_grads), timed(flat.of_grads)]
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        scaler.step(optimizer)
        scaler.update()
        if step:  # the first step allocates the buffers, Adam's state and the optimizer's lazy imports
            figures["backward_s"].append(backward_s - spent["hooks"])
            figures["tracker_s"].append(spent["tracker"])
            figures["hooks_s"].append(spent["hooks"])
            for key, value in zip(("per_tensor_s", "foreach_s", "flat_s"), baseline):
                figures[key].append(value)
        step += 1
    for _ in range(3):
        figures["epoch_values_s"].append(timed(trackers[1].epoch_values))
    return dict({k: statistics.median(v) for k, v in figures.items()}, params=sum(p.numel() for p in params),
                tensors=len(params), threads=torch.get_num_threads())


WORKERS = {"train": train, "log_loop": log_loop, "checkpoints": checkpoints, "norm_cost": norm_cost}


def main() -> None:
    """Run the worker named on the command line and write its result as JSON."""
    kind, arguments, out = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
    result = WORKERS[kind](**arguments)
    with open(out, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
