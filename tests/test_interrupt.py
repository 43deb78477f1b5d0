"""Ctrl-C and SIGTERM (preemption): an interrupt checkpoint is saved and logged, the run is closed, resume continues it."""
import glob
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT, TESTS, TINY, finish_child, run_main
from offline_run import OfflineRun, offline_runs


def interrupted_training(sig):
    """Start a long run.py training, send ``sig`` after a few epochs, return (returncode, stderr)."""
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "run.py")] + TINY + ["--max_iterations", "500"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 180
    while time.time() < deadline:
        backups = glob.glob("out/*/metrics.jsonl")
        if backups and sum(1 for _ in open(backups[0])) >= 3:
            break
        time.sleep(0.2)
    proc.send_signal(sig)
    _, err = finish_child(proc)
    return proc.returncode, err


@pytest.mark.slow
@pytest.mark.parametrize("sig,codes", [(signal.SIGINT, (130, -signal.SIGINT)), (signal.SIGTERM, (143,))],
                         ids=["ctrl-c", "sigterm"])
def test_interrupt_saves_logs_and_closes_then_resume_continues(capfd, sig, codes):
    returncode, err = interrupted_training(sig)
    assert returncode in codes, err[-2000:]
    (exp_dir,) = glob.glob("out/*")
    checkpoint = os.path.join(exp_dir, "nn", "PointMassTraj_interrupt.pth")
    assert os.path.isfile(checkpoint)
    hint = "hsi_wandb: interrupted; continue training with --checkpoint {} --resume 1".format(checkpoint)
    assert err.rstrip().splitlines()[-1] == hint, err[-2000:]
    (run_dir,) = offline_runs(exp_dir)
    first = OfflineRun(run_dir)
    assert first.exit_code == 128 + sig if sig == signal.SIGTERM else first.exit_code == 130
    last = first.artifacts[-1]
    meta = json.loads(last["metadata"])
    assert meta["reason"] == "interrupt" and "final" not in last["aliases"]
    assert meta["epoch"] == first.history[-1]["epoch"] >= 3, "labelled with the last epoch whose update finished"
    assert "epoch-{}".format(meta["epoch"]) in last["aliases"]
    run_main(capfd, *TINY, "--checkpoint", checkpoint, "--resume", "1", "--max_iterations", str(meta["epoch"] + 2))
    segments = [OfflineRun(d) for d in offline_runs(exp_dir)]
    assert len(segments) == 2 and segments[1].run_id == first.run_id and segments[1].exit_code == 0
    assert segments[1].history[0]["epoch"] == meta["epoch"] + 1


PREVIOUS_HANDLER_SCRIPT = """
import json, os, signal, sys
sys.path[:0] = {paths!r}
import pathlib
import tiny_env

exp_dir = os.path.join({runs!r}, "point")


def requeue(signum, frame):
    # What a SLURM requeue script or submitit installs: it must still run, after the checkpoint and the finish.
    with open({marker!r}, "w") as f:
        json.dump({{"signum": signum, "checkpoint": os.path.exists(os.path.join(exp_dir, "nn", "point_interrupt.pth")),
                   "record": json.load(open(os.path.join(exp_dir, "wandb_run.json")))}}, f)


signal.signal(signal.SIGTERM, requeue)
tiny_env.train(pathlib.Path({runs!r}).parent, tiny_env.train_config({runs!r}, max_epochs=100000))
"""


@pytest.mark.slow
def test_sigterm_runs_the_handler_installed_before_after_the_checkpoint_and_finish(tmp_path):
    runs, marker = tmp_path / "runs", tmp_path / "requeued.json"
    script = PREVIOUS_HANDLER_SCRIPT.format(paths=[TESTS, ROOT], runs=str(runs), marker=str(marker))
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    backup = runs / "point" / "metrics.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and not (backup.exists() and len(backup.read_text().splitlines()) >= 2):
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = finish_child(proc)
    assert proc.returncode == 143, err[-2000:]
    handed_on = json.loads(marker.read_text())
    assert handed_on["signum"] == signal.SIGTERM and handed_on["checkpoint"]
    (run_dir,) = offline_runs(runs)
    assert handed_on["record"]["run_id"] == OfflineRun(run_dir).run_id
    assert handed_on["record"]["last_frame"] is not None, "the record as finishing the run leaves it"
    assert OfflineRun(run_dir).exit_code == 143
