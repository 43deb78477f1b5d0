"""`run.py --test [--eval]` on every built-in task, from any checkpoint path, and how trials are counted; the same
runs record rollout videos (``--capture_video``) in training and evaluation."""
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
from types import SimpleNamespace

import imageio.v2 as imageio
import pytest
import torch
import yaml

import run
from conftest import working_in
from hsi_wandb.builtin import registry, success
from offline_run import OfflineRun, offline_runs

TASKS = ["PointMassTraj", "PointMassReach", "PointMassMultiTask"]
SMALL = ["--num_envs", "64", "--horizon_length", "16", "--minibatch_size", "1024", "--seed", "1", "--no_progress"]
VIDEO_LEN = 8
VIDEOS = ["--capture_video", "--capture_video_len", str(VIDEO_LEN)]
SMALL_BUFFERS = ["params.config.amp_obs_demo_buffer_size=4096", "params.config.amp_replay_buffer_size=4096",
                 "params.config.amp_minibatch_size=512"]


def eval_run(root, checkpoint):
    """The offline eval run below ``root`` that evaluated ``checkpoint``."""
    runs = [OfflineRun(d) for d in offline_runs(root)]
    (found,) = [r for r in runs if [c["path"] for c in r.config.get("eval", {}).get("checkpoints", [])]
                == [os.path.abspath(checkpoint)]]
    return found


def training_run(exp_dir):
    """The training run of an experiment (its folder sorts before an eval run's only to the second)."""
    (found,) = [r for r in map(OfflineRun, offline_runs(exp_dir)) if r.of_type("run")[0].get("job_type") == "train"]
    return found


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Each built-in task trained for 2 epochs (a checkpoint at epoch 2, a video each epoch), then evaluated with
    --test --eval (a video of its first steps)."""
    tmp_path = tmp_path_factory.mktemp("builtin_eval")
    with working_in(tmp_path):
        out = {}
        for task in TASKS:
            cfg_env = yaml.safe_load(open(registry.default_config_paths(task)[0]))
            cfg_env["env"]["episodeLength"] = 32
            yaml.safe_dump(cfg_env, open(task + ".yaml", "w"))
            assert run.main(["--task", task, "--cfg_env", task + ".yaml", "--max_iterations", "2", "--output_path",
                             "out", *SMALL, *VIDEOS, "--capture_video_freq", "1", *SMALL_BUFFERS]) == 0
            (exp_dir,) = [os.path.abspath(d) for d in glob.glob("out/{}_*".format(task))]
            checkpoint = os.path.join(exp_dir, "nn", task + ".pth")
            assert run.main(["--test", "--eval", "--task", task, "--cfg_env", task + ".yaml", "--checkpoint",
                             checkpoint, "--num_trials", "48", "--num_repeats", "2", *SMALL, *VIDEOS]) == 0
            out[task] = SimpleNamespace(exp_dir=exp_dir, checkpoint=checkpoint, cfg_env=os.path.abspath(task + ".yaml"),
                                        train=training_run(exp_dir), eval=eval_run(exp_dir, checkpoint))
        yield tmp_path, out


@pytest.mark.slow
@pytest.mark.parametrize("task", TASKS)
def test_eval_on_every_builtin_task_logs_tokenhsi_keys_in_the_training_group(trained, task):
    _, out = trained
    case = out[task]
    record = case.eval.of_type("run")[0]
    assert record["job_type"] == "eval" and record["run_group"] == case.train.of_type("run")[0]["run_group"]
    assert case.eval.config["eval"]["trained_run_id"] == case.train.run_id
    results = json.load(open(os.path.splitext(case.checkpoint)[0] + "_eval.json"))["results"]
    experiments = ["exp0", "exp1"] if task != "PointMassMultiTask" else [
        "exp{}/{}".format(i, t) for i in range(2) for t in ("traj", "reach", "heading")]
    assert list(results) == experiments
    (row,) = [r for r in case.eval.history if "eval/{}/num_trials".format(experiments[0]) in r]
    for exp, metrics in results.items():
        assert list(metrics) == list(success.RESULT_KEYS)
        for key, value in metrics.items():
            assert row["eval/{}/{}".format(exp, key)] == pytest.approx(value), (exp, key)
    per_repeat = [sum(results[e]["num_trials"] for e in experiments if e.startswith("exp{}".format(i)))
                  for i in range(2)]
    assert per_repeat == [48, 48]
    (epoch_row,) = [r for r in case.train.history if r["epoch"] == 2 and "losses/a_loss" in r]
    assert (row["epoch"], row["frame"]) == (2, epoch_row["frame"])
    assert case.eval.exit_code == 0


@pytest.mark.slow
def test_a_copied_checkpoint_and_the_run_folder_snapshot_evaluate_into_the_training_group(trained):
    tmp_path, out = trained
    case = out["PointMassReach"]
    copied = str(tmp_path / "elsewhere" / "reach.pth")
    os.makedirs(os.path.dirname(copied))
    shutil.copyfile(case.checkpoint, copied)
    snapshot = sorted(glob.glob(os.path.join(case.exp_dir, "wandb", "offline-run-*", "checkpoints", "*.pth")))[-1]
    group = case.train.of_type("run")[0]["run_group"]
    for checkpoint, root in ((copied, os.path.dirname(copied)), (snapshot, case.exp_dir)):
        assert run.main(["--test", "--eval", "--task", "PointMassReach", "--cfg_env", case.cfg_env, "--checkpoint",
                         checkpoint, "--num_trials", "16", *SMALL]) == 0
        evaluated = eval_run(root, checkpoint)
        assert evaluated.of_type("run")[0]["run_group"] == group
        assert evaluated.config["eval"]["trained_run_id"] == case.train.run_id


def tree(root):
    """Every folder, file (its bytes' digest) and link (its target) below ``root``."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            if os.path.islink(path):
                found[path] = "-> " + os.readlink(path)
            elif os.path.isfile(path):
                found[path] = hashlib.sha256(open(path, "rb").read()).hexdigest()
            else:
                found[path] = "folder"
    return found


@pytest.mark.slow
def test_a_sync_dry_run_lists_the_eval_table_by_name_and_writes_nothing(trained, tmp_path):
    _, out = trained
    exp_dir = str(tmp_path / "exp")
    shutil.copytree(out["PointMassTraj"].exp_dir, exp_dir, symlinks=True)
    before = tree(exp_dir)
    proc = subprocess.run([sys.executable, "-m", "hsi_wandb", "sync", "--dry_run", "."], capture_output=True,
                          text=True, cwd=exp_dir, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert tree(exp_dir) == before
    (table,) = [line.split() for line in proc.stdout.splitlines() if "run_table" in line]
    ((entry,),) = [a["manifest"]["contents"] for a in out["PointMassTraj"].eval.artifacts if a["type"] == "run_table"]
    size = int(entry["size"])
    assert table == ["eval/results.table.json", "(run_table,", "{:.1f}".format(size / 1e3), "kB)"]
    assert "staging" not in proc.stdout


@pytest.mark.slow
def test_test_without_eval_prints_the_numbers_and_starts_no_run(trained, capsys):
    _, out = trained
    case = out["PointMassTraj"]
    before = offline_runs(case.exp_dir)
    assert run.main(["--test", "--task", "PointMassTraj", "--cfg_env", case.cfg_env, "--checkpoint", case.checkpoint,
                     "--num_trials", "16", *SMALL]) == 0
    assert "eval exp0: num_trials=16, success_trials=" in capsys.readouterr().out
    assert offline_runs(case.exp_dir) == before


@pytest.mark.slow
@pytest.mark.parametrize("command", [["--test", "--eval"], ["--resume", "1"]])
def test_a_checkpoint_of_another_task_stops_with_one_line(trained, capsys, command):
    tmp_path, out = trained
    checkpoint = out["PointMassTraj"].checkpoint
    runs_before = offline_runs(tmp_path)
    assert run.main(command + ["--task", "PointMassReach", "--checkpoint", checkpoint, *SMALL]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("run.py: error:")]
    assert lines == ["run.py: error: --checkpoint {} does not fit task PointMassReach: size mismatch for {}".format(
        checkpoint, lines[0].split("size mismatch for ", 1)[1])]
    assert offline_runs(tmp_path) == runs_before


@pytest.mark.slow
def test_in_a_folder_a_checkpoint_of_another_task_is_named_and_skipped_and_none_fitting_stops(trained, capsys):
    tmp_path, out = trained
    mixed, misfits = tmp_path / "mixed", tmp_path / "misfits"
    for folder, sources in ((mixed, {"a_traj.pth": "PointMassTraj", "reach.pth": "PointMassReach"}),
                            (misfits, {"traj.pth": "PointMassTraj", "multi.pth": "PointMassMultiTask"})):
        folder.mkdir()
        for name, task in sources.items():
            shutil.copyfile(out[task].checkpoint, str(folder / name))
    command = ["--test", "--eval", "--task", "PointMassReach", "--cfg_env", out["PointMassReach"].cfg_env,
               "--num_trials", "16", *SMALL]
    capsys.readouterr()
    assert run.main(command + ["--checkpoint", str(mixed)]) == 0
    said = capsys.readouterr().err.splitlines()
    assert [line for line in said if line.startswith("hsi_wandb: checkpoint ")] == [
        "hsi_wandb: checkpoint {}/2: {} (epoch 2)".format(i, mixed / name) for i, name in ((1, "a_traj.pth"),
                                                                                          (2, "reach.pth"))], \
        "off a terminal, a line per checkpoint instead of the bar"
    (skipped,) = [line for line in said if "skipped" in line]
    assert skipped.startswith("hsi_wandb: skipped {}: the player cannot restore it (CheckpointMismatch: --checkpoint "
                              "{} does not fit task PointMassReach: size mismatch for ".format(mixed / "a_traj.pth",
                                                                                              mixed / "a_traj.pth"))
    (evaluated,) = [OfflineRun(d) for d in offline_runs(mixed)]
    assert evaluated.of_type("run")[0]["run_group"] == out["PointMassReach"].train.of_type("run")[0]["run_group"]
    assert [c["path"] for c in evaluated.config["eval"]["checkpoints"]] == [str(mixed / "reach.pth")]
    assert [r["epoch"] for r in evaluated.history if "eval/exp0/success_rate" in r] == [2]

    assert run.main(command + ["--checkpoint", str(misfits)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len([line for line in err if line.startswith("hsi_wandb: skipped ")]) == 2
    assert err[-1].startswith("run.py: error: --checkpoint {} does not fit task PointMassReach: ".format(
        misfits / "multi.pth"))
    assert offline_runs(misfits) == []


class StaggeredEnv:
    """Even envs fail (terminate) at their first step, odd envs succeed at their fifth: half and half, by env."""

    num_envs, device, task_names = 64, torch.device("cpu"), ["only"]

    def reset(self):
        self.t = 0
        return torch.zeros(self.num_envs, 1)

    def step(self, actions):
        self.t += 1
        odd = torch.arange(self.num_envs) % 2 == 1
        done = (~odd & (self.t == 1)) | (odd & (self.t == 5))
        extras = {"success": odd & done, "terminate": ~odd & done, "precision": torch.full((self.num_envs,), 0.1),
                  "task_ids": torch.zeros(self.num_envs, dtype=torch.long)}
        return torch.zeros(self.num_envs, 1), None, done, extras


def logged_videos(run, run_dir):
    """(key, epoch, frame, sha256 of the copy in the run folder) per video row; W&B's reader flattens the fields."""
    found = []
    for row in run.history:
        for key in sorted({k.split(".")[0] for k in row if k.startswith("videos/")}):
            copy = os.path.join(run_dir, "files", row[key + ".path"])
            assert row[key + "._type"] == "video-file" and os.path.isfile(copy), "inside the run folder"
            found.append((key, row["epoch"], row["frame"], sha256(copy)))
    return found


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def decoded(path):
    with imageio.get_reader(path) as reader:
        return [frame.shape for frame in reader]


@pytest.mark.slow
@pytest.mark.parametrize("task", TASKS)
def test_capture_video_records_every_configured_epoch_and_the_evaluation_and_logs_each_once(trained, task):
    _, out = trained
    case = out[task]
    files = sorted(glob.glob(os.path.join(case.exp_dir, "videos", "train", "*.mp4")))
    assert [os.path.basename(f) for f in files] == ["epoch_00001.mp4", "epoch_00002.mp4"]
    assert all(decoded(f) == [(192, 192, 3)] * VIDEO_LEN for f in files), "four envs, 2 x 2 tiles of 96 px"
    (train_dir,) = [d for d in offline_runs(case.exp_dir) if OfflineRun(d).run_id == case.train.run_id]
    frame_of = {r["epoch"]: r["frame"] for r in case.train.history if "losses/a_loss" in r}
    logged = logged_videos(case.train, train_dir)
    assert [(key, digest) for key, _, _, digest in logged] == [("videos/train", sha256(f)) for f in files]
    for (_, epoch, frame, _), recorded in zip(logged, (1, 2)):
        assert epoch >= recorded and frame == frame_of[epoch], "at the row of the epoch the file was finished in"
    (eval_video,) = glob.glob(os.path.join(case.exp_dir, "videos", "eval", "{}-*.mp4".format(task)))
    assert decoded(eval_video) == [(192, 192, 3)] * VIDEO_LEN
    (eval_dir,) = [d for d in offline_runs(case.exp_dir) if OfflineRun(d).run_id == case.eval.run_id]
    (row,) = [r for r in case.eval.history if "eval/exp0/num_trials" in r or "eval/exp0/traj/num_trials" in r]
    assert logged_videos(case.eval, eval_dir) == [("videos/eval", row["epoch"], row["frame"], sha256(eval_video))]


@pytest.mark.parametrize("num_trials", [8, 64, 100])
def test_rates_do_not_depend_on_how_many_trials_are_asked_for(num_trials):
    player = SimpleNamespace(env=StaggeredEnv(), act=lambda obs: obs)
    (result,) = success.evaluate(player, num_trials).values()
    assert result["num_trials"] == num_trials
    assert result["success_rate"] == pytest.approx(0.5, abs=0.5 / num_trials)
    assert result["fail_trials_because_terminate"] + result["success_trials"] == num_trials
    assert result["success_precision"] == pytest.approx(0.1)


def test_an_evaluation_reads_a_checkpoint_file_once_and_again_only_when_it_changed(tmp_path, monkeypatch):
    import functools

    import numpy
    import torch

    from hsi_wandb.evaluation import checkpoint_origin, forget_loaded, load_checkpoint

    path = str(tmp_path / "model.pth")
    torch.save({"epoch": 3, "frame": 96, "model": {"w": torch.ones(2)}, "note": numpy.float32(1.5)}, path)
    loads, real = [], torch.load

    @functools.wraps(real)
    def counting(f, *args, **kwargs):
        loads.append(f)
        return real(f, *args, **kwargs)

    monkeypatch.setattr(torch, "load", counting)
    forget_loaded()
    assert (checkpoint_origin(path).epoch, checkpoint_origin(path).frame) == (3, 96)
    assert load_checkpoint(path)["model"]["w"].tolist() == [1.0, 1.0] and len(loads) == 1, "origin, then the player"
    torch.save({"epoch": 4, "frame": 128}, path)
    os.utime(path, ns=(0, 10 ** 9))
    assert checkpoint_origin(path).epoch == 4 and len(loads) == 2, "a rewritten file is read again"
    forget_loaded()
    load_checkpoint(path)
    assert len(loads) == 3
