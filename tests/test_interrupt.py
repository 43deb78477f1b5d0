"""Ctrl-C and SIGTERM (preemption): an interrupt checkpoint is saved and logged, the run is closed, resume continues it."""
import glob
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from offline_run import OfflineRun, offline_runs
from test_run_options import ROOT, TINY, run_py


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
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err


@pytest.mark.slow
@pytest.mark.parametrize("sig,codes", [(signal.SIGINT, (130, -signal.SIGINT)), (signal.SIGTERM, (143,))],
                         ids=["ctrl-c", "sigterm"])
def test_interrupt_saves_logs_and_closes_then_resume_continues(tmp_path, sig, codes):
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
    assert meta["epoch"] >= first.history[-1]["epoch"] >= 3
    run_py(*TINY, "--checkpoint", checkpoint, "--resume", "1", "--max_iterations", str(meta["epoch"] + 2))
    segments = [OfflineRun(d) for d in offline_runs(exp_dir)]
    assert len(segments) == 2 and segments[1].run_id == first.run_id and segments[1].exit_code == 0
    assert segments[1].history[0]["epoch"] == meta["epoch"] + 1
