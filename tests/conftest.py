"""Shared fixtures and helpers: every test runs in its own folder with W&B offline and no credentials; the
helpers several test files use (running run.py, reading TensorBoard back, child processes) live here."""
import contextlib
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
from importlib.metadata import version
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import settings
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

TESTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TESTS)
sys.path[:0] = [TESTS, ROOT]
os.environ.setdefault("WANDB_SILENT", "true")  # W&B reads it once per process, maybe in a module-scoped fixture
os.environ.setdefault("PYTHONFAULTHANDLER", "1")  # a child that hangs can be made to print its threads: finish_child
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
"""A suite started in the background by a script (``pytest &``) inherits Ctrl-C ignored, and so would every run.py it
starts: the Ctrl-C tests send a real SIGINT, to this process and to children (which reset a handled signal on exec)."""

from hsi_wandb.builtin.inputs import BUILTIN_RL_GAMES  # noqa: E402
from hsi_wandb.adapter.tags import EPOCH, FRAME, TIME, map_tag  # noqa: E402

settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile("ci", max_examples=500, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
"""Generated-input tests draw 100 examples each by default (the README's command); CI draws 500
(``HYPOTHESIS_PROFILE=ci``). No deadline: a busy machine is not a failing test."""

needs_builtin_runner = pytest.mark.skipif(
    version("rl-games") != BUILTIN_RL_GAMES,
    reason="the built-in runner is written for rl-games {} (the adapter tests run on every line)".format(BUILTIN_RL_GAMES))


@pytest.fixture(autouse=True)
def isolated_wandb(tmp_path, monkeypatch):
    """Run in ``tmp_path`` with W&B offline, no API key and W&B's own folders inside ``tmp_path``; a child process
    starts its own W&B service, as a user's does, instead of attaching to this process's (WANDB_SERVICE, which W&B sets
    for children when a run of this process starts its service)."""
    monkeypatch.chdir(tmp_path)
    for name in ("WANDB_API_KEY", "WANDB_BASE_URL", "WANDB_RUN_ID", "WANDB_RESUME", "WANDB_PROJECT",
                 "WANDB_ENTITY", "WANDB_NAME", "WANDB_TAGS", "WANDB_NOTES", "WANDB_RUN_GROUP",
                 "RANK", "LOCAL_RANK", "WORLD_SIZE", "WANDB_SERVICE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("NETRC", str(tmp_path / "no.netrc"))
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "wandb-config"))
    monkeypatch.setenv("WANDB_CACHE_DIR", str(tmp_path / "wandb-cache"))
    monkeypatch.setenv("WANDB_DATA_DIR", str(tmp_path / "wandb-data"))
    yield tmp_path


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """One offline training of the tiny env through ``apply_to_runner`` (6 epochs, best saves from epoch 2, the
    learning rate as PyYAML reads ``3e-4``: a string), read back: shared by every test that checks what a default
    training leaves."""
    import tiny_env
    from offline_run import OfflineRun, offline_runs

    root = tmp_path_factory.mktemp("tiny_run")
    with working_in(root), pytest.MonkeyPatch.context() as patch:
        patch.setenv("WANDB_MODE", "offline")
        for name in ("WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR"):
            patch.setenv(name, str(root / name.lower()))
        cfg = tiny_env.train_config(root / "runs", save_best_after=2, learning_rate="3e-4")
        exp_dir = tiny_env.train(root, cfg)
        (run_dir,) = offline_runs(exp_dir)
        return SimpleNamespace(root=root, cfg=cfg, exp_dir=exp_dir, run=OfflineRun(run_dir))


@pytest.fixture
def closed_port_url():
    """``http://127.0.0.1:<port>`` of a port nothing listens on: a W&B server that is down."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return "http://127.0.0.1:{}".format(port)


@contextlib.contextmanager
def working_in(path):
    """Run the block in ``path`` (module-scoped fixtures, which the per-test ``isolated_wandb`` does not cover)."""
    old = os.getcwd()
    os.chdir(path)
    try:
        yield path
    finally:
        os.chdir(old)


TINY = ["--num_envs", "256", "--horizon_length", "16", "--minibatch_size", "1024", "--output_path", "out",
        "--max_iterations", "2", "--no_progress"]
"""run.py flags for a short training of the default task."""


def run_py(*argv, env=None, cwd=None, timeout=600):
    """``python run.py <argv>`` in a new interpreter, where the process itself is under test; it must exit 0."""
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "run.py")] + list(argv), capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=None if cwd is None else str(cwd))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def run_main(capfd, *argv):
    """``python run.py <argv>`` as ``run.main`` in this process, where a new interpreter is not what is tested: it
    must return 0; returns what it printed (``stdout``, ``stderr``)."""
    import run

    capfd.readouterr()
    code = run.main(list(argv))
    out, err = capfd.readouterr()
    assert code == 0, out[-3000:] + err[-3000:]
    return SimpleNamespace(stdout=out, stderr=err)


FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
"""A fenced block of a Markdown page: its language and its text."""


def read(page):
    """The text of ``page``, a path relative to the repository."""
    with open(os.path.join(ROOT, page), encoding="utf-8") as f:
        return f.read()


def blocks(page, language):
    """(line number, text) of each fenced block of ``language`` in ``page``."""
    text = read(page)
    return [(text[:m.start()].count("\n") + 1, m.group(2)) for m in FENCE.finditer(text) if m.group(1) == language]


def run_child(script, monkeypatch, **fields):
    """Run ``script`` (formatted with ``paths`` for sys.path and ``fields``) in a child Python with its own W&B service.

    Without WANDB_SERVICE (set by a run this test started in this process) the child does not attach to its service.
    """
    monkeypatch.delenv("WANDB_SERVICE", raising=False)
    script = script.format(paths=[TESTS, ROOT], **fields)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)


def finish_child(proc, timeout=120):
    """``proc.communicate(timeout)``; a child still running then is sent SIGABRT, which makes it print every thread's
    stack (faulthandler, on in every child of the suite), and the test fails with them."""
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)
        _, err = proc.communicate(timeout=60)
        pytest.fail("{} still ran {} s later; its threads:\n{}".format(proc.args[:2], timeout, (err or "")[-6000:]))


def jsonl_rows(exp_dir):
    """The rows of the experiment's local JSONL backup."""
    with open(os.path.join(exp_dir, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f]


def tensorboard_scalars(exp_dir):
    """Every TensorBoard scalar of ``<exp_dir>/summaries``: tag -> [(step, value)]."""
    acc = EventAccumulator(os.path.join(str(exp_dir), "summaries"), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def assert_mirrored(tb, rows):
    """Every TensorBoard scalar is on W&B: same value, at the same frame (or epoch for per-epoch axes)."""
    assert tb
    for tag, events in tb.items():
        key, axis = map_tag(tag)
        for step, value in events:
            candidates = [r for r in rows if axis == TIME or r[{FRAME: "frame", EPOCH: "epoch"}[axis]] == step]
            found = [r.get(k) for r in candidates for k in (key, tag) if k in r]
            assert any(np.float32(v) == np.float32(value) for v in found), (tag, step, value)


class Terminal(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self):
        return True


class RecordingWriter:
    """A duck-typed writer (like rl_games' IntervalSummaryWriter) that records every call."""

    def __init__(self):
        self.calls = []

    def add_scalar(self, *args, **kwargs):
        self.calls.append(("add_scalar", args, kwargs))
        return "written"

    def add_histogram(self, *args, **kwargs):
        self.calls.append(("add_histogram", args, kwargs))

    def close(self):
        self.calls.append(("close", (), {}))


class RowSink:
    """A row sink that keeps every row."""

    def __init__(self):
        self.rows = []

    def log_row(self, row):
        self.rows.append(row)


def one_epoch_row(writes, step):
    """The single W&B row a mirror sends for one epoch of ``writes`` ((tag, value) pairs) at ``step``."""
    from hsi_wandb import WandbWriter
    from hsi_wandb.adapter import tags

    sink = RowSink()
    writer = WandbWriter(RecordingWriter(), sink, tags=tags)
    writer.begin_epoch(1)
    for tag, value in writes:
        writer.add_scalar(tag, value, step)
    writer.flush_row()
    (row,) = sink.rows
    return row


def builtin_rl_config(tmp_path, task="PointMassTraj", epochs=3, num_envs=256, episode_length=16, **kwargs):
    """A small, fast configuration of a built-in task for a real rl_games Runner."""
    from hsi_wandb.builtin import registry

    cfg_env, cfg_train = registry.load_task_configs(task)
    cfg_env["env"]["episodeLength"] = episode_length
    config = cfg_train["params"]["config"]
    config.update({"minibatch_size": 1024, "save_frequency": 2, "amp_obs_demo_buffer_size": 4096,
                   "amp_replay_buffer_size": 4096, "amp_minibatch_size": 512})
    return registry.build_rl_config(task, cfg_env, cfg_train, rl_device="cpu", seed=1, num_envs=num_envs,
                                    max_epochs=epochs, train_dir=str(tmp_path), experiment_name="exp", **kwargs)


def train_builtin(config, runner=None):
    """Train a built-in task through Runner.run and return the agent-facing experiment directory."""
    from hsi_wandb.builtin import registry

    runner = runner or registry.build_runner()
    runner.load(config)
    runner.run({"train": True, "play": False, "checkpoint": config["params"]["load_path"]})
    params = config["params"]["config"]
    return os.path.join(params["train_dir"], params["full_experiment_name"])
