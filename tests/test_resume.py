"""Resuming from a checkpoint continues the same W&B run: one id, continuous frame/epoch, W&B step never reused."""
import glob
import json
import os

import pytest

from conftest import TINY, run_main
from offline_run import OfflineRun, offline_runs
from hsi_wandb.evaluation import load_checkpoint


@pytest.mark.slow
def test_resume_continues_the_same_run_without_losing_rows(capfd):
    first = run_main(capfd, *TINY, "--max_iterations", "3", "params.config.save_frequency=2")
    (exp_dir,) = glob.glob("out/*")
    record = json.load(open(os.path.join(exp_dir, "wandb_run.json")))
    checkpoint = os.path.join(exp_dir, "nn", "PointMassTraj_00000002.pth")
    second = run_main(capfd, *TINY, "--checkpoint", checkpoint, "--resume", "1", "--max_iterations", "5")

    assert glob.glob("out/*") == [exp_dir], "resume writes into the same experiment folder"
    segments = [OfflineRun(d) for d in offline_runs(exp_dir)]
    assert len(segments) == 2 and {s.run_id for s in segments} == {record["run_id"]}
    before, after = segments[0].history, segments[1].history
    assert [r["epoch"] for r in before] == [1, 2, 3] and [r["epoch"] for r in after] == [3, 4, 5]
    assert after[0]["frame"] == before[1]["frame"] + (before[1]["frame"] - before[0]["frame"])
    steps = [h["step"].get("num", 0) for s in segments for h in s.of_type("history")]
    assert steps == list(range(len(steps))), "W&B's step keeps growing across the offline segments"
    assert "resuming W&B run {} at frame {} (epoch 2); it already has rows up to frame {}".format(
        record["run_id"], after[0]["frame"], before[-1]["frame"]) in second.stderr
    updated = json.load(open(os.path.join(exp_dir, "wandb_run.json")))
    assert updated["run_id"] == record["run_id"] and len(updated["sync_dirs"]) == 2
    assert "wandb sync {} {}".format(*[os.path.relpath(d) for d in updated["sync_dirs"]]) in second.stderr
    assert "resuming" not in first.stderr
    assert load_checkpoint(checkpoint)["wandb_run"]["run_id"] == record["run_id"]
