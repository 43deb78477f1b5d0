"""One failing W&B call costs its item only: each W&B call the adapter makes is made to raise once, at W&B's public
API, in a real offline training run; and the calls that could hold the process are made to never return.

For every cell: training ends normally, ``metrics.jsonl`` holds every row, the W&B run holds everything but the one
item, one warning names the call that failed. A ``run.log`` that never returns is ``test_faults``'
``test_a_wandb_call_that_never_returns_cannot_hold_finish_or_the_process``. The figures are in docs/faults.md.
"""
import json
import os
import threading
import warnings

import pytest
import wandb
from wandb.sdk.wandb_run import Run

import tiny_env
from conftest import working_in
from hsi_wandb import lifecycle
from conftest import TINY, jsonl_rows, run_child
from offline_run import OfflineRun, offline_runs
from tiny_env import train


def fail_once(monkeypatch, owner, name, nth):
    """Make ``owner.name`` raise at its ``nth`` call (from 1); the other calls go through."""
    original, calls = getattr(owner, name), []

    def failing(*args, **kwargs):
        calls.append(name)
        if len(calls) == nth:
            raise RuntimeError("injected into {}".format(name))
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, failing)
    return calls


def train_with_histograms(tmp_path):
    """Four epochs on rl-games 1.1.4 (three on 1.6), parameter histograms every second epoch, best-reward saves, the
    training YAML attached to the run."""
    cfg = tiny_env.train_config(tmp_path / "runs", max_epochs=3, save_best_after=1)
    cfg["wandb"].update(histograms="parameters", histogram_freq=2)
    with open("tiny.yaml", "w") as f:
        json.dump(cfg, f)
    return train(tmp_path, cfg)


CELLS = [
    # id, owner, name, nth call that fails, the warning's words, what W&B lacks
    ("row", Run, "log", 2, "W&B failed to log a row (RuntimeError: injected into log)", "row"),
    ("histogram", wandb, "Histogram", 1, "W&B failed to make the histogram of parameters/", "histogram"),
    ("artifact", Run, "log_artifact", 1, "W&B failed to log checkpoint ", "artifact"),
    ("define_metric", Run, "define_metric", 1, "W&B failed to define the frame axis", None),
    ("config_file", Run, "save", 1, "W&B failed to attach ", None),
    ("finish", Run, "finish", 1, "W&B failed to finish the run (RuntimeError: injected into finish)", None),
]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The same training with no fault: what every cell is compared with."""
    tmp_path = tmp_path_factory.mktemp("reference")
    with working_in(tmp_path):
        exp_dir = train_with_histograms(tmp_path)
        (run_dir,) = offline_runs(exp_dir)
        return OfflineRun(run_dir), jsonl_rows(exp_dir)


@pytest.mark.slow
@pytest.mark.parametrize("cell,owner,name,nth,words,lacks", CELLS, ids=[c[0] for c in CELLS])
def test_a_call_that_raises_costs_that_item_only(reference, tmp_path, monkeypatch, cell, owner, name, nth, words,
                                                 lacks):
    expected_run, expected_rows = reference
    calls = fail_once(monkeypatch, owner, name, nth)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exp_dir = train_with_histograms(tmp_path)
    monkeypatch.undo()
    assert len(calls) >= nth, "the call was made"
    warned = [str(w.message) for w in caught if str(w.message).startswith("hsi_wandb:")]
    assert len(warned) == 1 and words in warned[0], warned
    rows = jsonl_rows(exp_dir)
    assert [r["epoch"] for r in rows] == [r["epoch"] for r in expected_rows], "the JSONL backup keeps every row"
    (run_dir,) = offline_runs(exp_dir)
    run = OfflineRun(run_dir)
    scalar_epochs = [r["epoch"] for r in run.history if "losses/a_loss" in r]
    expected_epochs = [r["epoch"] for r in expected_run.history if "losses/a_loss" in r]
    histogram_rows = [r for r in run.history if any(k.startswith("parameters/") for k in r)]
    expected_histograms = [r for r in expected_run.history if any(k.startswith("parameters/") for k in r)]
    if lacks == "row":
        assert scalar_epochs == expected_epochs[:nth - 1] + expected_epochs[nth:]
    else:
        assert scalar_epochs == expected_epochs
    if lacks == "histogram":
        first, *others = histogram_rows
        assert len(histogram_rows) == len(expected_histograms)
        assert len([k for k in first if k.endswith("._type")]) == len(
            [k for k in expected_histograms[0] if k.endswith("._type")]) - 1
        assert all(set(r) - {"_runtime", "_timestamp"} == set(e) - {"_runtime", "_timestamp"}
                   for r, e in zip(others, expected_histograms[1:]))
    elif lacks != "row":
        assert len(histogram_rows) == len(expected_histograms)
    expected_artifacts = len(expected_run.artifacts) - (lacks == "artifact")
    assert len(run.artifacts) == expected_artifacts >= 1
    assert run.exit_code == 0
    assert wandb.run is None


HUNG_ARTIFACT_SCRIPT = """
import json, sys, threading, time, warnings
sys.path[:0] = {paths!r}
from wandb.sdk.wandb_run import Run
import tiny_env
from hsi_wandb import lifecycle

lifecycle.CALL_TIMEOUT = 1.0
log_artifact = Run.log_artifact
calls = []


def never_returns_at_the_second(self, *args, **kwargs):
    calls.append(1)
    if len(calls) == 2:
        threading.Event().wait()
    return log_artifact(self, *args, **kwargs)


Run.log_artifact = never_returns_at_the_second
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    cfg = tiny_env.train_config({runs!r}, max_epochs=5, save_best_after=1)
    started = time.monotonic()
    tiny_env.train(__import__("pathlib").Path({tmp!r}), cfg)
print(json.dumps({{"seconds": time.monotonic() - started, "calls": len(calls),
                  "warnings": [str(w.message) for w in caught if str(w.message).startswith("hsi_wandb:")]}}))
"""


@pytest.mark.slow
def test_an_artifact_upload_that_never_returns_cannot_hold_the_end_of_training(tmp_path, monkeypatch):
    proc = run_child(HUNG_ARTIFACT_SCRIPT, monkeypatch, runs=str(tmp_path / "runs"), tmp=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["calls"] == 2, "logging stopped at the call that never returned"
    assert any("W&B did not finish logging the checkpoints in 1 s" in w for w in result["warnings"])
    exp_dir = tmp_path / "runs" / "point"
    assert [r["epoch"] for r in jsonl_rows(exp_dir)] == list(range(1, 7))
    (run_dir,) = offline_runs(exp_dir)
    assert [r["epoch"] for r in OfflineRun(run_dir).history] == list(range(1, 7)), "every row reached W&B"



RESULTS = {"ObjectSet_test_0": {"success_rate": 0.5, "num_trials": 8}, "ObjectSet_test_1": {"success_rate": 1.0}}
EVAL_CFG = {"use_wandb": True, "wandb": {"mode": "offline"}}


@pytest.mark.slow
def test_an_evaluation_whose_table_fails_keeps_its_row(tmp_path, monkeypatch):
    from hsi_wandb import log_eval

    calls = fail_once(monkeypatch, wandb, "Table", 1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run_id = log_eval(RESULTS, train_cfg=EVAL_CFG)
    assert calls == ["Table"]
    warned = [str(w.message) for w in caught if str(w.message).startswith("hsi_wandb:")]
    assert len(warned) == 1 and "W&B failed to log table eval/results (RuntimeError: injected into Table)" in warned[0]
    (run_dir,) = offline_runs(tmp_path)
    run = OfflineRun(run_dir)
    assert run.run_id == run_id and run.exit_code == 0
    (row,) = run.history
    assert row["eval/ObjectSet_test_0/success_rate"] == 0.5 and row["eval/ObjectSet_test_1/success_rate"] == 1.0


def test_an_evaluation_whose_run_cannot_start_is_one_warning(tmp_path, monkeypatch):
    from hsi_wandb import log_eval

    calls = fail_once(monkeypatch, wandb, "init", 1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert log_eval(RESULTS, train_cfg=EVAL_CFG) is None
    assert calls == ["init"]
    warned = [str(w.message) for w in caught if str(w.message).startswith("hsi_wandb:")]
    assert len(warned) == 1 and "could not start a W&B run (injected into init)" in warned[0]
    assert not offline_runs(tmp_path)


@pytest.mark.slow
def test_the_built_in_runner_loses_only_the_row_whose_log_raised(tmp_path, monkeypatch):
    """``python run.py`` (in process): the same rule through the built-in AMP agent and its runner."""
    import run

    calls = fail_once(monkeypatch, Run, "log", 2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert run.main(TINY + ["--max_iterations", "4", "--wandb_mode", "offline"]) == 0
    assert len(calls) >= 4
    warned = [str(w.message) for w in caught if str(w.message).startswith("hsi_wandb:")]
    assert len(warned) == 1 and "W&B failed to log a row (RuntimeError: injected into log)" in warned[0]
    (exp_dir,) = [os.path.join("out", d) for d in os.listdir("out")]
    epochs = [r["epoch"] for r in jsonl_rows(exp_dir)]
    (run_dir,) = offline_runs(exp_dir)
    run_ = OfflineRun(run_dir)
    assert [r["epoch"] for r in run_.history if "losses/a_loss" in r] == epochs[:1] + epochs[2:]
    assert run_.exit_code == 0 and run_.artifacts


@pytest.mark.slow
def test_a_call_on_the_training_thread_that_never_returns_holds_it_at_most_the_call_timeout(tmp_path, monkeypatch):
    """``define_metric`` stuck at the start: training waits ``CALL_TIMEOUT`` once, W&B is given up with one warning,
    the rows still reach ``metrics.jsonl``, and the run's end does not wait again."""
    release, stuck_calls = threading.Event(), []
    define_metric = Run.define_metric

    def stuck(self, *args, **kwargs):
        stuck_calls.append(args)
        release.wait()
        return define_metric(self, *args, **kwargs)

    monkeypatch.setattr(Run, "define_metric", stuck)
    monkeypatch.setattr(lifecycle, "CALL_TIMEOUT", 0.5)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            exp_dir = train(tmp_path, tiny_env.train_config(tmp_path / "runs", max_epochs=2))
    finally:
        release.set()
    warned = [str(w.message) for w in caught if str(w.message).startswith("hsi_wandb:")]
    assert len(warned) == 1 and "W&B failed to define the frame axis (TimeoutError: no answer from W&B in 0.5 s)" \
        in warned[0] and "nothing more is sent to W&B" in warned[0]
    assert [r["epoch"] for r in jsonl_rows(exp_dir)] == list(range(1, len(jsonl_rows(exp_dir)) + 1)) and \
        len(jsonl_rows(exp_dir)) >= 2
    assert len(stuck_calls) == 1 and wandb.run is None, "W&B given up after the one call that held training"


@pytest.mark.slow
def test_a_run_the_user_started_whose_config_update_fails_still_gets_every_row(tmp_path, monkeypatch):
    """The one config update hsi_wandb makes, into a run the user started, raises: one warning, every row logged."""
    from wandb.sdk.wandb_config import Config

    user_run = wandb.init(mode="offline", project="hsi-wandb-tests", dir=str(tmp_path))
    calls = fail_once(monkeypatch, Config, "update", 1)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            train(tmp_path, tiny_env.train_config(tmp_path / "runs", max_epochs=2))
        monkeypatch.undo()
        assert wandb.run is user_run, "the user's run stays open for the user"
    finally:
        user_run.finish()
    assert calls == ["update"]
    warned = [str(w.message) for w in caught if str(w.message).startswith("hsi_wandb:")]
    assert len(warned) == 1 and "W&B failed to add the config (RuntimeError: injected into update)" in warned[0]
    run = OfflineRun(user_run.settings.sync_dir)
    epochs = [r["epoch"] for r in jsonl_rows(tmp_path / "runs" / "point")]
    assert [r["epoch"] for r in run.history if "losses/a_loss" in r] == epochs and len(epochs) >= 2


class OnlineRunStub:
    """Stands in for an online W&B run (no server here) whose ``use_artifact`` raises: the one call made only online."""

    offline, id, project, entity, group, name = False, "abc123", "p", None, "g", "n"
    settings = type("Settings", (), {"sync_dir": None, "sync_tensorboard": False})()

    def use_artifact(self, name):
        raise RuntimeError("injected into use_artifact")


def test_a_failing_use_artifact_is_one_warning_not_silence():
    run = lifecycle.WandbRun(wandb, OnlineRunStub(), owned=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert run.use_artifact("model-abc123:v3") is False
        assert run.use_artifact("model-abc123:v4") is False
    warned = [str(w.message) for w in caught if str(w.message).startswith("hsi_wandb:")]
    assert [w.split(" (")[0] for w in warned] == ["hsi_wandb: W&B failed to record the use of model-abc123:v3",
                                                  "hsi_wandb: W&B failed to record the use of model-abc123:v4"]
    assert all("RuntimeError: injected into use_artifact); that item is not on W&B" in w for w in warned)
