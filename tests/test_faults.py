"""Faults injected for real around a real rl_games agent: W&B unreachable, W&B dying or unwritable mid-run,
training raising mid-epoch, non-finite losses. Training, TensorBoard and checkpoints always survive."""
import base64
import hashlib
import json
import math
import os
import re
import socket
import subprocess
import threading
import warnings

import numpy as np
import pytest
import wandb
import torch
from rl_games.algos_torch import a2c_continuous
from rl_games.torch_runner import Runner

import tiny_env
from hsi_wandb import lifecycle, resolve_settings, start_run
from hsi_wandb.adapter import apply_to_runner
from hsi_wandb.evaluation import load_checkpoint
from conftest import assert_mirrored, jsonl_rows, run_child, tensorboard_scalars
from offline_run import OfflineRun, offline_runs
from tiny_env import train


def train_agent(tmp_path, agent_cls, wandb_section=None, **overrides):
    """Train ``agent_cls`` (an A2CAgent subclass) on the tiny env with the mirror (``wandb_section``: more ``wandb:``
    keys); return the experiment dir."""
    tiny_env.register()
    cfg = tiny_env.train_config(tmp_path / "runs", **overrides)
    cfg["wandb"].update(wandb_section or {})
    runner = Runner()
    runner.algo_factory.register_builder("a2c_continuous", lambda **kw: agent_cls(**kw))
    apply_to_runner(runner, cfg, source="tiny.yaml")
    runner.load(cfg)
    runner.run({"train": True, "play": False, "checkpoint": None})
    return tmp_path / "runs" / "point"


def final_checkpoint_epoch(exp_dir):
    """The epoch stored in rl_games' last checkpoint (``last_<name>ep<N>...pth``, written when training ends)."""
    (final,) = [f for f in os.listdir(os.path.join(exp_dir, "nn")) if f.startswith("last_pointep")]
    return load_checkpoint(os.path.join(exp_dir, "nn", final))["epoch"]


def hsi_warnings(recorded):
    """The messages of the warnings hsi_wandb gave, from ``recwarn`` or a list of recorded warnings."""
    return [str(w.message) for w in recorded if str(w.message).startswith("hsi_wandb:")]


class SilentServer:
    """A W&B server that accepts connections and never answers: its ``url``, and how many connections it took."""

    def __init__(self):
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(64)
        self.url = "http://127.0.0.1:{}".format(self._socket.getsockname()[1])

    def connections(self):
        """The connections made so far (accepted now, until none comes for 0.5 s); closes the server."""
        self._socket.settimeout(0.5)
        taken = []
        try:
            while True:
                taken.append(self._socket.accept()[0])
        except socket.timeout:
            pass
        self.close()
        return len(taken)

    def close(self):
        self._socket.close()


@pytest.fixture
def silent_server():
    server = SilentServer()
    yield server
    server.close()


@pytest.mark.slow
@pytest.mark.parametrize("server", ["closed-port", "silent-server"])
def test_unreachable_wandb_falls_back_offline_and_training_completes(tmp_path, monkeypatch, capfd, request, server):
    url = request.getfixturevalue("closed_port_url") if server == "closed-port" else \
        request.getfixturevalue("silent_server").url
    monkeypatch.delenv("WANDB_MODE")
    monkeypatch.setenv("WANDB_API_KEY", "k" * 40)
    monkeypatch.setenv("WANDB_BASE_URL", url)
    cfg = tiny_env.train_config(tmp_path / "runs", max_epochs=4, save_best_after=1)
    cfg["wandb"].update(mode="online", init_timeout=2)
    exp_dir = train(tmp_path, cfg)
    assert capfd.readouterr().err.count("logging offline instead") == 1
    assert not [d for d in os.listdir(exp_dir / "wandb") if d.startswith("run-")], "W&B was never started online"
    (run_dir,) = offline_runs(exp_dir)
    run = OfflineRun(run_dir)
    assert run.exit_code == 0
    assert [r["epoch"] for r in run.history] == list(range(1, 6))
    assert run.artifacts and "final" in run.artifacts[-1]["aliases"]
    assert_mirrored(tensorboard_scalars(exp_dir), run.history)


@pytest.mark.slow
def test_the_online_check_is_made_once_on_a_thread_while_the_agent_is_built(tmp_path, monkeypatch, capfd,
                                                                              silent_server):
    """apply_to_runner starts the check of the server before the Runner builds the agent; the start uses its answer
    (one connection to the server in all), says it once and falls back offline as before."""
    monkeypatch.delenv("WANDB_MODE")
    monkeypatch.setenv("WANDB_API_KEY", "k" * 40)
    monkeypatch.setenv("WANDB_BASE_URL", silent_server.url)
    checks = []
    check = lifecycle._offline_reason

    def noted_check(*args):
        checks.append(threading.current_thread().name)
        return check(*args)

    monkeypatch.setattr(lifecycle, "_offline_reason", noted_check)
    cfg = tiny_env.train_config(tmp_path / "runs", max_epochs=2)
    cfg["wandb"].update(mode="online", init_timeout=2)
    exp_dir = train(tmp_path, cfg)
    assert checks == ["hsi_wandb-probe"] and silent_server.connections() == 1
    assert capfd.readouterr().err.count("logging offline instead") == 1
    (run_dir,) = offline_runs(exp_dir)
    run = OfflineRun(run_dir)
    assert run.exit_code == 0 and [r["epoch"] for r in run.history] == [1, 2, 3]


PREPARED_SERVICE_SCRIPT = """
import json, pathlib, sys, threading, warnings
sys.path[:0] = {paths!r}
from wandb.sdk.lib.service import service_connection
import tiny_env
from offline_run import OfflineRun, offline_runs
from tiny_env import train

starts = []
connect = service_connection.connect_to_service


def noted_connect(*args, **kwargs):
    starts.append(threading.current_thread().name)
    if {fail!r}:
        raise ConnectionError("the service did not come up")
    return connect(*args, **kwargs)


service_connection.connect_to_service = noted_connect
tmp_path = pathlib.Path({tmp!r})
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    exp_dir = train(tmp_path, tiny_env.train_config(tmp_path / "runs", max_epochs=2))
runs = offline_runs(exp_dir)
print(json.dumps({{"starts": starts, "epochs": [[r["epoch"] for r in OfflineRun(d).history] for d in runs],
                  "rows": len(open(exp_dir / "metrics.jsonl").readlines()),
                  "warnings": [str(w.message) for w in caught if str(w.message).startswith("hsi_wandb:")]}}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("fail", [False, True], ids=["starts", "fails"])
def test_an_offline_service_starts_on_a_thread_while_the_agent_is_built(tmp_path, monkeypatch, fail):
    """apply_to_runner starts W&B's service (offline) on a thread before the Runner builds the agent; the run uses
    that service. A service that cannot start fails the start as it would have: one warning, every row in
    metrics.jsonl, training to the end."""
    proc = run_child(PREPARED_SERVICE_SCRIPT, monkeypatch, tmp=str(tmp_path), fail=fail)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["starts"][0] == "hsi_wandb-service"
    assert result["rows"] == 3
    if fail:
        assert result["starts"] == ["hsi_wandb-service", "MainThread"] and result["epochs"] == []
        (warned,) = result["warnings"]
        assert "could not start a W&B run" in warned and "the service did not come up" in warned
    else:
        assert result["starts"] == ["hsi_wandb-service"] and result["epochs"] == [[1, 2, 3]]
        assert result["warnings"] == []


SHORT_RUN = """
import sys
sys.path[:0] = {paths!r}
from hsi_wandb import resolve_settings, start_run

run = start_run(resolve_settings({{"use_wandb": True, "wandb": {{"mode": "online", "init_timeout": 5}}}}), "exp", {{}})
for epoch in range(1, 4):
    run.log_row({{"frame": 100 * epoch, "epoch": epoch, "losses/a_loss": 0.5}})
run.finish(0)
"""


@pytest.mark.slow
def test_a_silent_server_is_asked_once_and_the_last_line_names_the_offline_run(tmp_path, monkeypatch,
                                                                               silent_server):
    """What a server that accepts connections and never answers costs (docs/faults.md): the probe's one request,
    bounded by its timeout; W&B is never started online, where its own waits are far longer."""
    (tmp_path / ".env").write_text("WANDB_API_KEY=" + "k" * 40 + "\n")
    monkeypatch.delenv("WANDB_MODE")
    monkeypatch.setenv("WANDB_BASE_URL", silent_server.url)
    proc = run_child(SHORT_RUN, monkeypatch)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert silent_server.connections() == 1, "the probe's request, and no other"
    assert proc.stderr.count("logging offline instead") == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("hsi_wandb: offline run saved; to upload it with its checkpoints, from any directory: "
                           "python -m hsi_wandb sync {} (or, from this directory only: wandb sync ".format(
                               tmp_path / "exp")), last
    assert [r["epoch"] for r in OfflineRun(last.split()[-1].rstrip(")")).history] == [1, 2, 3]
    assert not [d for d in os.listdir(tmp_path / "exp" / "wandb") if d.startswith("run-")], "no online attempt left"


KILL_AT = 4
KILL_SCRIPT = """
import sys
sys.path[:0] = {paths!r}
import psutil
import tiny_env
from rl_games.algos_torch import a2c_continuous
from rl_games.torch_runner import Runner
from hsi_wandb.adapter import apply_to_runner


class KillsWandbService(a2c_continuous.A2CAgent):
    def update_epoch(self):
        epoch = super().update_epoch()
        if epoch == {kill_at}:
            (service,) = [p for p in psutil.Process().children(recursive=True) if p.name() == "wandb-core"]
            service.kill()
            service.wait(10)
        return epoch


tiny_env.register()
cfg = tiny_env.train_config({runs!r}, max_epochs=7, save_best_after=1)
runner = Runner()
runner.algo_factory.register_builder("a2c_continuous", lambda **kw: KillsWandbService(**kw))
apply_to_runner(runner, cfg, source="tiny.yaml")
runner.load(cfg)
runner.run({{"train": True, "play": False, "checkpoint": None}})
"""
_killed = {}


@pytest.fixture
def killed_service(tmp_path, monkeypatch):
    """(process, experiment dir) of one training whose wandb-core is SIGKILLed at epoch 4; run once per session."""
    if not _killed:
        proc = run_child(KILL_SCRIPT, monkeypatch, kill_at=KILL_AT, runs=str(tmp_path / "runs"))
        _killed.update(proc=proc, exp_dir=tmp_path / "runs" / "point")
    return _killed["proc"], _killed["exp_dir"]


@pytest.mark.slow
def test_wandb_service_killed_mid_run_training_tensorboard_and_checkpoints_go_on(killed_service):
    proc, exp_dir = killed_service
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "MAX EPOCHS NUM!" in proc.stdout
    warned = [line for line in proc.stderr.splitlines() if "RuntimeWarning: hsi_wandb:" in line]
    closed = r"\((ConnectionResetError|BrokenPipeError): [^()]+\); training continues"
    assert len(warned) == 1 and re.search(closed, warned[0]), \
        "one warning, from whichever W&B call (a row or a checkpoint) first meets the dead service, as whichever " \
        "error the closed socket gives (reset, in the words of the Python and wandb at hand, or broken pipe)"
    epochs = list(range(1, 9))
    assert [v for _, v in tensorboard_scalars(exp_dir)["info/epochs"]] == epochs
    assert [r["epoch"] for r in jsonl_rows(exp_dir)] == epochs, "the JSONL backup keeps every row"
    assert final_checkpoint_epoch(exp_dir) == 8
    (run_dir,) = offline_runs(exp_dir)
    run = OfflineRun(run_dir)
    kept = [r["epoch"] for r in run.history]
    assert kept == list(range(1, len(kept) + 1)) and len(kept) < KILL_AT, \
        "wandb-core buffers its log in 32 KiB blocks: SIGKILL loses the unwritten tail, never reorders"
    assert run.exit_code is None


@pytest.mark.slow
def test_wandb_service_killed_mid_run_prints_no_traceback(killed_service):
    proc, _ = killed_service
    assert "Traceback" not in proc.stderr


OFFLINE = resolve_settings({"use_wandb": True, "wandb": {"mode": "offline"}}, "faults.yaml")


RESTART_SCRIPT = """
import json, sys, warnings
sys.path[:0] = {paths!r}
import psutil
from hsi_wandb import resolve_settings, start_run

offline = resolve_settings({{"use_wandb": True, "wandb": {{"mode": "offline"}}}}, "faults.yaml")
run = start_run(offline, {first!r}, {{}})
(service,) = [p for p in psutil.Process().children(recursive=True) if p.name() == "wandb-core"]
service.kill()
service.wait(10)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    run.log_row({{"frame": 1, "epoch": 1}})
    run.finish(0)
    second = start_run(offline, {second!r}, {{}})
    services = [p.pid for p in psutil.Process().children(recursive=True) if p.name() == "wandb-core"]
    second.log_row({{"frame": 2, "epoch": 1}})
    second.finish(0)
print(json.dumps({{"killed": service.pid, "services": services, "first": run.run_id, "second": second.run_id,
                  "mode": second.mode, "sync_dir": second.sync_dir,
                  "warnings": [str(w.message) for w in caught if str(w.message).startswith("hsi_wandb:")]}}))
"""


@pytest.mark.slow
def test_a_run_after_the_wandb_service_died_starts_at_once_with_a_new_service(tmp_path, monkeypatch):
    """The service of a process is killed for real; the next start in that process must not reuse or wait for it.

    In a child process: a W&B service killed in the test process would stay broken for later tests' runs.
    """
    proc = run_child(RESTART_SCRIPT, monkeypatch, first=str(tmp_path / "first"), second=str(tmp_path / "second"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["services"] and result["killed"] not in result["services"], "a new service, not the dead one"
    (warned,) = result["warnings"]
    assert "W&B failed to log a row" in warned
    assert result["second"] != result["first"] and result["mode"] == "offline"
    rows = OfflineRun(result["sync_dir"])
    assert [r["frame"] for r in rows.history] == [2] and rows.exit_code == 0


@pytest.mark.slow
def test_wandb_taking_no_row_holds_training_up_once_then_is_given_up(tmp_path, monkeypatch):
    """With the outbox full and W&B's ``run.log`` stuck, training waits the stall timeout once, warns once, goes on:
    the rows after the one that waited are not queued at all."""
    monkeypatch.setattr(lifecycle, "OUTBOX_ROWS", 5)
    monkeypatch.setattr(lifecycle, "SEND_STALL_TIMEOUT", 0.5)
    run = start_run(OFFLINE, str(tmp_path / "exp"), {})
    queued, submit = [], run._sender.submit

    def noted_submit(item, *args, **kwargs):
        try:
            submit(item, *args, **kwargs)
        except Exception as exc:
            queued.append(type(exc).__name__)
            raise
        queued.append("queued")

    run._sender.submit = noted_submit
    release = threading.Event()
    live = wandb.run  # the run start_run started, through W&B's public handle
    log = live.log

    def stuck_log(*args, **kwargs):
        release.wait()
        return log(*args, **kwargs)

    live.log = stuck_log
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for epoch in range(1, 101):
            run.log_row({"frame": 10 * epoch, "epoch": epoch})
        assert queued.count("Full") == 1 and queued[-1] == "Full" and len(queued) <= 2 + 5, \
            "the outbox of five filled, one wait, then no row queued"
        release.set()
        run.finish(0)
    (warned,) = hsi_warnings(caught)
    assert "W&B failed to log a row (TimeoutError: W&B took no row for 0.5 s while 5 waited)" in warned
    assert OfflineRun(run.sync_dir).exit_code == 0, "W&B answered again by the end: the run is still finished"


def chattr(flag, path):
    """Run ``chattr flag path``; True when it worked."""
    return subprocess.run(["chattr", flag, str(path)], capture_output=True).returncode == 0


class LocksWandbFolder(a2c_continuous.A2CAgent):
    """Makes the W&B run's checkpoint folder immutable (EPERM even for root) at epoch 4."""

    locked = []

    def update_epoch(self):
        epoch = super().update_epoch()
        if epoch == KILL_AT:
            (run_dir,) = offline_runs(self.experiment_dir)
            folder = os.path.join(run_dir, "checkpoints")
            assert chattr("+i", folder)
            self.locked.append(folder)
        return epoch


_locked = {}


@pytest.fixture
def locked_folder_training(tmp_path):
    """(experiment dir, hsi_wandb warnings) of one training whose W&B checkpoint folder turns immutable at epoch 4."""
    if not _locked:
        if not chattr("+i", tmp_path) or not chattr("-i", tmp_path):
            pytest.skip("chattr +i is not available here")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                exp_dir = train_agent(tmp_path, LocksWandbFolder, max_epochs=7, save_best_after=1)
            finally:
                for folder in LocksWandbFolder.locked:
                    chattr("-i", folder)
        _locked.update(exp_dir=exp_dir, warnings=hsi_warnings(caught))
    return _locked["exp_dir"], _locked["warnings"]


@pytest.mark.slow
def test_unwritable_wandb_folder_never_stops_training(locked_folder_training):
    exp_dir, warned = locked_folder_training
    assert [v for _, v in tensorboard_scalars(exp_dir)["info/epochs"]] == list(range(1, 9))
    assert final_checkpoint_epoch(exp_dir) == 8
    assert len(warned) == 1 and "could not snapshot" in warned[0]
    (run_dir,) = offline_runs(exp_dir)
    run = OfflineRun(run_dir)
    assert run.exit_code == 0 and [r["epoch"] for r in run.history] == list(range(1, 9))
    assert run.artifacts and all(json.loads(a["metadata"])["epoch"] < KILL_AT for a in run.artifacts)


@pytest.mark.slow
def test_unwritable_wandb_folder_gives_no_checkpoint_a_false_final_alias(locked_folder_training):
    exp_dir, _ = locked_folder_training
    (run_dir,) = offline_runs(exp_dir)
    assert all("final" not in a["aliases"] for a in OfflineRun(run_dir).artifacts)


class FailsInEnvStep(a2c_continuous.A2CAgent):
    """The simulator raises at the 6th step of epoch 4's rollout."""

    def env_step(self, actions):
        self.steps = getattr(self, "steps", 0) + 1
        if self.steps == 3 * self.horizon_length + 6:
            raise RuntimeError("simulated simulator crash")
        return super().env_step(actions)


class FailsInWriteStats(a2c_continuous.A2CAgent):
    """Epoch 4 writes its losses to TensorBoard, then raises before the rewards."""

    def write_stats(self, *args):
        super().write_stats(*args)
        if args[1] == 4:
            raise RuntimeError("simulated NaN check")


@pytest.mark.slow
@pytest.mark.parametrize("agent_cls,last_epoch", [(FailsInEnvStep, 3), (FailsInWriteStats, 4)],
                         ids=["in-rollout", "after-first-scalars"])
def test_training_error_mid_epoch_keeps_every_row_and_the_last_checkpoint(tmp_path, agent_cls, last_epoch):
    with pytest.raises(RuntimeError, match="simulated"):
        train_agent(tmp_path, agent_cls, max_epochs=50, save_best_after=1)
    exp_dir = tmp_path / "runs" / "point"
    (run_dir,) = offline_runs(exp_dir)
    run = OfflineRun(run_dir)
    assert run.exit_code == 1
    rows = run.history
    assert [r["epoch"] for r in rows] == list(range(1, last_epoch + 1))
    assert [r["epoch"] for r in jsonl_rows(exp_dir)] == list(range(1, last_epoch + 1))
    assert_mirrored(tensorboard_scalars(exp_dir), rows)
    saved = {load_checkpoint(path)["epoch"]: path for path in (exp_dir / "nn").glob("*.pth")}
    last = run.artifacts[-1]
    assert json.loads(last["metadata"])["epoch"] == max(saved) and "final" not in last["aliases"]
    (entry,) = last["manifest"]["contents"]
    digest = hashlib.md5(saved[max(saved)].read_bytes()).digest()
    assert base64.b64encode(digest).decode() == entry["digest"]


NON_FINITE = {2: float("nan"), 3: np.float32("inf"), 4: torch.tensor(float("-inf"))}


class NonFiniteLosses(a2c_continuous.A2CAgent):
    """Writes losses/disc_loss as NaN (float), +inf (numpy) and -inf (0-d tensor) on epochs 2, 3 and 4."""

    def write_stats(self, *args):
        super().write_stats(*args)
        epoch, frame = args[1], args[11]
        self.writer.add_scalar("losses/disc_loss", NON_FINITE.get(epoch, 0.25), frame)


@pytest.mark.slow
def test_non_finite_losses_are_mirrored_faithfully_and_warned_once(tmp_path, recwarn):
    exp_dir = train_agent(tmp_path, NonFiniteLosses, max_epochs=5)
    (run_dir,) = offline_runs(exp_dir)
    run = OfflineRun(run_dir)
    assert run.exit_code == 0
    raw = [h["item"].get("losses/disc_loss") for h in run.of_type("history")]
    assert raw == [0.25, "NaN", "Infinity", "-Infinity", 0.25, 0.25]
    tb = tensorboard_scalars(exp_dir)
    tb_values = [v for _, v in tb.pop("losses/disc_loss")]
    assert math.isnan(tb_values[1]) and tb_values[2:4] == [math.inf, -math.inf]
    assert_mirrored(tb, run.history)
    assert [r["losses/disc_loss"] for r in jsonl_rows(exp_dir)][2:4] == [math.inf, -math.inf]
    non_finite = [m for m in hsi_warnings(recwarn) if "non-finite" in m]
    assert len(non_finite) == 1 and "'losses/disc_loss' is nan" in non_finite[0]


class DivergesAtEpoch3(a2c_continuous.A2CAgent):
    """At epoch 3 one parameter of the model becomes NaN, as in a diverging run (it takes no part in the loss)."""

    def update_epoch(self):
        epoch = super().update_epoch()
        if epoch == 3:
            self.model.register_parameter("diverged", torch.nn.Parameter(torch.tensor([float("nan"), 1.0])))
        return epoch


@pytest.mark.slow
def test_a_nan_parameter_costs_its_own_histogram_only(tmp_path, recwarn):
    exp_dir = train_agent(tmp_path, DivergesAtEpoch3, {"histograms": "parameters", "histogram_freq": 1}, max_epochs=5)
    (run_dir,) = offline_runs(exp_dir)
    rows = OfflineRun(run_dir).history
    assert [r["epoch"] for r in rows if "losses/a_loss" in r] == list(range(1, 7)), "every epoch's row"
    histograms = [r for r in rows if any(k.startswith("parameters/") for k in r)]
    assert [r["epoch"] for r in histograms] == list(range(1, 7)), "every histogram row, the diverged one included"
    assert not any(k.startswith("parameters/diverged") for r in histograms for k in r)
    assert all(any(k.startswith("parameters/a2c_network") for k in r) for r in histograms)
    (warned,) = hsi_warnings(recwarn)
    assert "W&B failed to make the histogram of parameters/diverged (ValueError" in warned
    assert "that item is not on W&B" in warned
    assert "final" in OfflineRun(run_dir).artifacts[-1]["aliases"] and OfflineRun(run_dir).exit_code == 0


HUNG_LOG_SCRIPT = """
import json, sys, threading, time, warnings
sys.path[:0] = {paths!r}
from hsi_wandb import lifecycle, resolve_settings, start_run

lifecycle.CALL_TIMEOUT = 1.0
offline = resolve_settings({{"use_wandb": True, "wandb": {{"mode": "offline"}}}}, "faults.yaml")
run = start_run(offline, {exp!r}, {{}})
import wandb
user_run = wandb.run
log = type(user_run).log


def log_that_never_returns_at_epoch_3(self, data, *args, **kwargs):
    if data.get("epoch") == 3:
        threading.Event().wait()
    return log(self, data, *args, **kwargs)


type(user_run).log = log_that_never_returns_at_epoch_3
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    for epoch in range(1, 6):
        run.log_row({{"frame": 10 * epoch, "epoch": epoch}})
    started = time.monotonic()
    run.finish(0)
print(json.dumps({{"finish_seconds": time.monotonic() - started, "sync_dir": run.sync_dir,
                  "warnings": [str(w.message) for w in caught if str(w.message).startswith("hsi_wandb:")]}}))
"""


@pytest.mark.slow
def test_a_wandb_call_that_never_returns_cannot_hold_finish_or_the_process(tmp_path, monkeypatch):
    """``run.log`` blocks forever at one row (on W&B's public Run class): finish gives the rows up after
    CALL_TIMEOUT with one warning, and the process exits with its own code."""
    proc = run_child(HUNG_LOG_SCRIPT, monkeypatch, exp=str(tmp_path / "exp"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["finish_seconds"] >= 1.0, "finish waited for the rows, CALL_TIMEOUT long"
    (warned,) = result["warnings"]
    assert "W&B failed to take the last rows (TimeoutError: W&B took no row for 1 s at the end" in warned
    history = OfflineRun(result["sync_dir"]).history
    assert [r["epoch"] for r in history] == [1, 2], "the rows W&B took before it hung"


class EvaluatesMidTraining(a2c_continuous.A2CAgent):
    """Calls ``log_eval`` at epoch 3, as a trainer with periodic evaluation does, while its training run is live."""

    eval_ids = []

    def update_epoch(self):
        epoch = super().update_epoch()
        if epoch == 3:
            from hsi_wandb import log_eval

            self.eval_ids.append(log_eval({"ObjectSet_test_0": {"success_rate": 0.5, "num_trials": 8}},
                                          train_cfg={"use_wandb": True, "wandb": {"mode": "offline"}}))
        return epoch


@pytest.mark.slow
def test_an_evaluation_inside_a_live_training_run_is_its_own_run_and_costs_training_nothing(tmp_path):
    exp_dir = train_agent(tmp_path, EvaluatesMidTraining, max_epochs=5)
    (eval_id,) = EvaluatesMidTraining.eval_ids
    runs = {OfflineRun(d).run_id: OfflineRun(d) for d in offline_runs(tmp_path)}
    (training,) = [run for run_id, run in runs.items() if run_id != eval_id]
    evaluation = runs[eval_id]
    assert [r["epoch"] for r in training.history] == list(range(1, 7)), "no training row lost"
    assert [h["_step"] for h in training.history] == list(range(6)), "no step used by the evaluation"
    assert not any(key.startswith("eval/") for r in training.history for key in r)
    assert training.exit_code == 0 and evaluation.exit_code == 0
    assert evaluation.history[0]["eval/ObjectSet_test_0/success_rate"] == 0.5
    (meta,) = evaluation.of_type("run")
    assert meta["job_type"] == "eval" and meta["run_group"] == training.of_type("run")[0]["run_group"]
    assert os.path.isdir(exp_dir / "nn")
