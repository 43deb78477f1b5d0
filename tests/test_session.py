"""TrainingSession, the core any trainer drives: the README's plain PyTorch loop run as written, interrupted and
resumed, read back with W&B's own reader."""
import glob
import json
import re
import textwrap

import pytest
import torch

import hsi_wandb
from hsi_wandb import TrainingSession, resolve_settings
from conftest import blocks
from offline_run import OfflineRun, offline_runs

CFG = {"use_wandb": True, "wandb": {"project": "my-project", "mode": "offline"}}


def package_example():
    """The ``::`` block of the ``hsi_wandb`` docstring, dedented."""
    after = hsi_wandb.__doc__.split("::\n", 1)[1]
    return textwrap.dedent(re.match(r"(?:\n| {4}.*\n)+", after).group(0))


def readme_example():
    (code,) = [code for _, code in blocks("README.md", "python") if "TrainingSession(" in code]
    return code


def test_the_readme_and_the_package_docstring_show_one_example():
    assert readme_example().strip() == package_example().strip()


@pytest.mark.slow
def test_the_any_trainer_example_runs_as_written_and_logs_rows_norms_backup_and_checkpoints(tmp_path):
    exec(compile(readme_example(), "README.md", "exec"), {})
    (run_dir,) = offline_runs(str(tmp_path / "runs" / "exp"))
    offline = OfflineRun(run_dir)
    rows = offline.history
    assert [(row["epoch"], row["frame"]) for row in rows] == [(1, 4096), (2, 8192), (3, 12288)]
    assert all(row["info/grad_norm"] > 0 and row["info/param_norm"] > 0 for row in rows)
    with open(tmp_path / "runs/exp/metrics.jsonl") as f:
        backup = [json.loads(line) for line in f]
    assert [{key: row[key] for key in kept} for row, kept in zip(rows, backup)] == backup and len(backup) == 3
    models = [a for a in offline.artifacts if a["type"] == "model"]
    assert [sorted(a["aliases"]) for a in models] == [["epoch-1", "latest"], ["epoch-2", "latest"],
                                                       ["epoch-3", "final", "latest"]]
    assert [json.loads(a["metadata"])["row_frame"] for a in models] == [4096, 8192, 12288]
    trained = torch.load(str(tmp_path / "runs/exp/model_3.pth"))["wandb_run"]
    assert trained["run_id"] == offline.run_id and trained["row_frame"] == 12288 and offline.exit_code == 0
    assert glob.glob(str(tmp_path / "runs/exp/summaries/events.out.tfevents.*"))


@pytest.mark.slow
def test_an_interrupted_loop_saves_its_interrupt_checkpoint_and_a_restored_session_continues_the_run(
        tmp_path, monkeypatch):
    step, calls = torch.optim.Adam.step, []

    def interrupted_at_the_second_step(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", interrupted_at_the_second_step)
    with pytest.raises(KeyboardInterrupt):
        exec(compile(readme_example(), "README.md", "exec"), {})
    (first,) = offline_runs(str(tmp_path / "runs" / "exp"))
    interrupted = OfflineRun(first)
    assert interrupted.exit_code == 130 and [row["epoch"] for row in interrupted.history] == [1]
    assert [json.loads(a["metadata"])["reason"] for a in interrupted.artifacts if a["type"] == "model"] == ["save", "interrupt"]

    from torch.utils.tensorboard import SummaryWriter

    session = TrainingSession(resolve_settings(CFG, "train.yaml"), config=CFG)
    session.restore(torch.load(str(tmp_path / "runs/exp/interrupt.pth")))
    with session.running():
        writer = session.start(SummaryWriter("runs/exp/summaries"), "runs/exp", epoch=1, frame=4096)
        for epoch in (2, 3):
            session.begin_epoch(epoch)
            writer.add_scalar("losses/a_loss", 1.0 / epoch, 4096 * epoch)
    second = [OfflineRun(d) for d in offline_runs(str(tmp_path / "runs" / "exp")) if d != first]
    (resumed,) = second
    assert resumed.run_id == interrupted.run_id and resumed.exit_code == 0
    assert [(row["epoch"], row["frame"]) for row in resumed.history] == [(2, 8192), (3, 12288)]
    assert min(row["_step"] for row in resumed.history) > max(row["_step"] for row in interrupted.history)
    assert resumed.history[0]["wall_time"] >= interrupted.history[-1]["wall_time"]


def test_a_session_that_is_never_given_a_writer_starts_no_run(tmp_path):
    session = TrainingSession(resolve_settings(CFG, "train.yaml"), config=CFG)
    with session.running():
        assert session.start(None, "runs/exp") is None and not session.started
        session.begin_epoch(1)
        session.checkpoint("nothing.pth", epoch=1, frame=0)
    assert not (tmp_path / "runs").exists() and session.state(0) == {}
