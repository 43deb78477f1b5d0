"""Runs started together (a seed loop with ``&``, sweep agents on one node) never write into one folder unknowingly."""
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime

import pytest

import tiny_env
from hsi_wandb.builtin import registry
from hsi_wandb.run_folder import LOCK_FILE, claim_run_folder
from conftest import ROOT, TESTS, TINY, finish_child
from offline_run import OfflineRun, offline_runs

TRAIN_SCRIPT = """
import pathlib, sys
sys.path[:0] = {paths!r}
import tiny_env

tiny_env.train(pathlib.Path({root!r}), tiny_env.train_config({runs!r}, max_epochs={epochs}))
"""


def start_training(root, epochs):
    """A real rl_games PPO agent training into ``<root>/runs/point`` through ``apply_to_runner``, in a process of its
    own (the second run is this process)."""
    script = TRAIN_SCRIPT.format(paths=[TESTS, ROOT], root=str(root), runs=str(root / "runs"), epochs=epochs)
    return subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)


def rows(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


@pytest.mark.slow
def test_a_second_live_run_in_the_same_experiment_folder_keeps_its_own_files_apart(tmp_path, capfd):
    exp_dir = tmp_path / "runs" / "point"
    first = start_training(tmp_path, epochs=100000)
    deadline = time.time() + 120
    while time.time() < deadline and not (exp_dir / "metrics.jsonl").exists():
        time.sleep(0.2)
    try:
        tiny_env.train(tmp_path, max_epochs=6)
    finally:
        first.send_signal(signal.SIGTERM)
        _, first_err = finish_child(first)
    _, err = capfd.readouterr()
    assert first.returncode == 143, first_err[-2000:]

    own = exp_dir / "run_{}".format(os.getpid())
    said = [line for line in err.splitlines() if "another live run" in line]
    assert said == ["hsi_wandb: another live run (process {}) writes to {}: this run's W&B run, metrics.jsonl and "
                    "wandb_run.json go to {}; its checkpoints and TensorBoard files still share the folder (give "
                    "runs started together distinct experiment names)".format(first.pid, exp_dir, own)], err[-2000:]
    second_rows, first_rows = rows(own / "metrics.jsonl"), rows(exp_dir / "metrics.jsonl")
    for backup in (second_rows, first_rows):
        assert [r["epoch"] for r in backup] == list(range(1, len(backup) + 1)), "one run's rows, none twice"
    assert len(second_rows) >= 6
    runs = {OfflineRun(d).run_id: d for d in offline_runs(exp_dir)}
    assert len(runs) == 2
    records = [json.load(open(folder / "wandb_run.json")) for folder in (exp_dir, own)]
    assert {r["run_id"] for r in records} == set(runs)
    assert os.path.dirname(runs[records[1]["run_id"]]).startswith(str(own))
    assert len(OfflineRun(runs[records[1]["run_id"]]).history) == len(second_rows)


def test_a_claim_is_dropped_with_the_process_and_a_folder_without_locks_is_used_as_it_is(tmp_path):
    folder, claim, shared = claim_run_folder(str(tmp_path / "exp"))
    assert (folder, shared) == (str(tmp_path / "exp"), False) and (tmp_path / "exp" / LOCK_FILE).exists()
    claim.release()
    again, claim, shared = claim_run_folder(str(tmp_path / "exp"))
    assert (again, shared) == (folder, False)
    claim.release()
    blocked = tmp_path / "file"
    blocked.write_text("")
    assert claim_run_folder(str(blocked / "exp")) == (str(blocked / "exp"), None, False)


class FrozenClock(datetime):
    @classmethod
    def now(cls, tz=None):
        return cls(2026, 12, 2, 14, 25, 29)


def test_runs_claimed_in_the_same_second_get_their_own_experiment_folders(tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "datetime", FrozenClock)
    configs = [{"params": {"config": {"name": "PointMassTraj", "train_dir": str(tmp_path)}}} for _ in range(3)]
    claimed = [registry.claim_experiment(cfg) for cfg in configs]
    names = ["PointMassTraj_02-14-25-29", "PointMassTraj_02-14-25-29_2", "PointMassTraj_02-14-25-29_3"]
    assert claimed == [(str(tmp_path / name), True) for name in names]
    assert [cfg["params"]["config"]["full_experiment_name"] for cfg in configs] == names
    resumed = {"params": {"config": {"name": "x", "train_dir": str(tmp_path), "full_experiment_name": names[0]}}}
    assert registry.claim_experiment(resumed) == (str(tmp_path / names[0]), False)


@pytest.mark.slow
def test_two_run_py_trainings_started_together_write_two_folders(tmp_path):
    argv = [sys.executable, os.path.join(ROOT, "run.py")] + TINY + ["--max_iterations", "3"]
    procs = [subprocess.Popen(argv + ["--seed", str(seed)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for seed in (1, 2)]
    outputs = [finish_child(proc, 300) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], outputs
    folders = sorted(os.listdir("out"))
    assert len(folders) == 2, folders
    ids = set()
    for folder in folders:
        exp_dir = os.path.join("out", folder)
        assert [r["epoch"] for r in rows(os.path.join(exp_dir, "metrics.jsonl"))] == [1, 2, 3]
        (run_dir,) = offline_runs(exp_dir)
        run = OfflineRun(run_dir)
        assert json.load(open(os.path.join(exp_dir, "wandb_run.json")))["run_id"] == run.run_id
        assert os.path.isfile(os.path.join(exp_dir, "nn", "PointMassTraj.pth"))
        ids.add(run.run_id)
    assert len(ids) == 2
    seeds = {json.dumps(OfflineRun(offline_runs(os.path.join("out", f))[0]).config["args"]["seed"]) for f in folders}
    assert seeds == {"1", "2"}
