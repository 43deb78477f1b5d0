"""Two processes under torchrun (gloo, CPU): one W&B run, from global rank 0; rank 1 never touches W&B."""
import json
import os
import subprocess
import sys

import pytest

from conftest import TESTS
from offline_run import OfflineRun, offline_runs

TORCHRUN = os.path.join(os.path.dirname(sys.executable), "torchrun")


@pytest.mark.slow
@pytest.mark.parametrize("rank1_writer", ["none", "own"])
def test_torchrun_two_ranks_make_exactly_one_wandb_run(tmp_path, monkeypatch, rank1_writer):
    monkeypatch.delenv("WANDB_SERVICE", raising=False)
    proc = subprocess.run([TORCHRUN, "--standalone", "--nproc_per_node=2", os.path.join(TESTS, "ddp_train.py"),
                           str(tmp_path / "out"), rank1_writer], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-6000:]
    markers = [json.loads((tmp_path / "out" / "rank{}.json".format(r)).read_text()) for r in (0, 1)]
    assert [(m["rank"], m["world_size"], m["epochs"]) for m in markers] == [(0, 2, 4), (1, 2, 4)]
    assert markers[0]["wandb_imported"] and not markers[1]["wandb_imported"]
    assert markers[1]["has_writer"] == (rank1_writer == "own")

    (run_dir,) = offline_runs(tmp_path / "out")
    assert run_dir.startswith(str(tmp_path / "out" / "rank0"))
    rank1_files = [f for _, dirs, files in os.walk(tmp_path / "out" / "rank1") for f in dirs + files]
    assert not [f for f in rank1_files if "wandb" in f or f == "metrics.jsonl"], rank1_files
    run = OfflineRun(run_dir)
    assert run.exit_code == 0
    rows = run.history
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4]
    frames = [r["frame"] for r in rows]
    assert {b - a for a, b in zip(frames, frames[1:])} == {2 * 64 * 16}, "frames of both ranks are counted"
