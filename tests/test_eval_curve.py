"""`run.py --test --eval --checkpoint <folder or pattern>`: every checkpoint of a training run, in epoch order, into one
eval run (success rate against training progress); interrupted and run again, it continues that run."""
import glob
import json
import os
import signal
import sys
from types import SimpleNamespace

import imageio.v2 as imageio
import pytest

import run
from conftest import ROOT, working_in
from offline_run import OfflineRun, offline_runs, wandb_cli

sys.path.insert(0, os.path.join(ROOT, "docs"))
import eval_curve  # noqa: E402
from hsi_wandb.builtin.amp_players import AMPPlayer  # noqa: E402
from hsi_wandb.evaluation import PROGRESS_FILE, find_checkpoints, in_epoch_order  # noqa: E402

TASK = "PointMassTraj"
SMALL = ["--num_envs", "64", "--seed", "1", "--no_progress"]
TRAIN = ["--max_iterations", "4", "--horizon_length", "16", "--minibatch_size", "1024", "params.config.save_frequency=1",
         "params.config.amp_obs_demo_buffer_size=4096", "params.config.amp_replay_buffer_size=4096",
         "params.config.amp_minibatch_size=512"]
EVAL = ["--test", "--eval", "--num_trials", "48", "--num_repeats", "2"]
EPOCHS = [1, 2, 3, 4]


def eval_runs(exp_dir):
    """Every eval run segment below ``exp_dir``, in the order they were written."""
    return [r for r in map(OfflineRun, offline_runs(exp_dir)) if r.of_type("run")[0].get("job_type") == "eval"]


def rows(segments):
    """The evaluation rows of a run's segments, in order."""
    return [row for segment in segments for row in segment.history if "eval/exp0/success_rate" in row]


def interrupting_the_third_evaluation(monkeypatch):
    """Ctrl-C, as a real SIGINT to this process, while the player evaluates its third checkpoint."""
    calls = []
    own = AMPPlayer.run_eval

    def run_eval(player):
        calls.append(player._checkpoint_fn)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGINT)
        return own(player)

    monkeypatch.setattr(AMPPlayer, "run_eval", run_eval)
    return calls


@pytest.fixture(scope="module")
def curve(tmp_path_factory):
    """The default task trained for 4 epochs with a save point at each (``nn/`` also holds the rolling
    ``PointMassTraj.pth`` of epoch 4); its folder evaluated, interrupted at the third checkpoint and run again; the
    same checkpoints evaluated by a glob pattern, and each alone."""
    tmp_path = tmp_path_factory.mktemp("eval_curve")
    monkeypatch = pytest.MonkeyPatch()
    with working_in(tmp_path):
        assert run.main(["--output_path", "out", *SMALL, *TRAIN]) == 0
        (exp_dir,) = [os.path.abspath(d) for d in glob.glob("out/{}_*".format(TASK))]
        nn_dir = os.path.join(exp_dir, "nn")
        calls = interrupting_the_third_evaluation(monkeypatch)
        assert run.main([*EVAL, "--checkpoint", nn_dir + os.sep, *SMALL]) == 130
        monkeypatch.undo()
        progress = glob.glob(os.path.join(exp_dir, PROGRESS_FILE.format("*")))
        left = json.load(open(progress[0])) if progress else {}
        first = {r.path for r in eval_runs(exp_dir)}
        assert run.main([*EVAL, "--checkpoint", nn_dir + os.sep, *SMALL]) == 0
        folder = [r for r in eval_runs(exp_dir)]
        assert run.main([*EVAL, "--checkpoint", os.path.join(nn_dir, TASK + "_0*.pth"), *SMALL]) == 0
        pattern = [r for r in eval_runs(exp_dir) if r.path not in {s.path for s in folder}]
        checkpoints = [os.path.join(nn_dir, "{}_{:08d}.pth".format(TASK, epoch)) for epoch in EPOCHS]
        alone = []
        for checkpoint in checkpoints:
            known = {r.path for r in eval_runs(exp_dir)}
            assert run.main([*EVAL, "--checkpoint", checkpoint, *SMALL]) == 0
            alone += [r for r in eval_runs(exp_dir) if r.path not in known]
        (train_dir,) = [d for d in offline_runs(exp_dir) if OfflineRun(d).of_type("run")[0]["job_type"] == "train"]
        yield SimpleNamespace(exp_dir=exp_dir, calls=calls, progress_left=left, progress=progress,
                              interrupted=[r for r in folder if r.path in first],
                              folder=folder, pattern=pattern, alone=alone, checkpoints=checkpoints,
                              train=OfflineRun(train_dir))
    monkeypatch.undo()


@pytest.mark.slow
def test_a_folder_is_one_eval_run_with_a_row_per_save_point_at_its_training_row(curve):
    (run_id,) = {segment.run_id for segment in curve.folder}
    record = curve.folder[0].of_type("run")[0]
    assert record["run_group"] == curve.train.of_type("run")[0]["run_group"]
    frame_of = {row["epoch"]: row["frame"] for row in curve.train.history if "losses/a_loss" in row}
    evaluated = rows(curve.folder)
    assert [row["epoch"] for row in evaluated] == EPOCHS, "epoch order, the rolling PointMassTraj.pth once (epoch 4)"
    assert [row["frame"] for row in evaluated] == [frame_of[epoch] for epoch in EPOCHS]
    for row in evaluated:
        assert row["eval/exp0/num_trials"] == row["eval/exp1/num_trials"] == 48
    checkpoints = curve.folder[-1].config["eval"]["checkpoints"]
    assert [(c["path"], c["epoch"], c["row_frame"], c["model_artifact"]) for c in checkpoints] == [
        (path, epoch, frame_of[epoch], "model-{}:epoch-{}".format(curve.train.run_id, epoch))
        for path, epoch in zip(curve.checkpoints, EPOCHS)]
    frames = {json.loads(a["metadata"])["epoch"]: json.loads(a["metadata"])["frame"] for a in curve.train.artifacts}
    assert [c["frame"] for c in checkpoints] == [frames[epoch] for epoch in EPOCHS]


@pytest.mark.slow
def test_each_row_equals_the_checkpoint_evaluated_alone_with_the_same_seed(curve):
    alone = rows(curve.alone)
    assert len(curve.alone) == len(EPOCHS) and len(alone) == len(EPOCHS)
    for evaluated in (rows(curve.folder), rows(curve.pattern)):
        assert len(evaluated) == len(alone)
        for together, by_itself in zip(evaluated, alone):
            assert {k: v for k, v in together.items() if k.startswith(("eval/", "epoch", "frame"))} == \
                   {k: v for k, v in by_itself.items() if k.startswith(("eval/", "epoch", "frame"))}
    assert len({segment.run_id for segment in curve.pattern}) == 1 and len(curve.pattern) == 1


@pytest.mark.slow
def test_interrupted_after_two_checkpoints_a_rerun_continues_the_same_run_with_no_row_twice(curve):
    assert [os.path.basename(path) for path in curve.calls] == [
        "{}_{:08d}.pth".format(TASK, epoch) for epoch in (1, 2, 3)], "Ctrl-C came during the third evaluation"
    assert [done["entry"]["epoch"] for done in curve.progress_left["done"]] == [1, 2]
    first, second = curve.folder
    assert first.run_id == second.run_id and first.exit_code == 130 and second.exit_code == 0
    assert [row["epoch"] for row in rows([first])] == [1, 2] and [row["epoch"] for row in rows([second])] == [3, 4]
    steps = [h["step"].get("num", 0) for segment in curve.folder for h in segment.of_type("history")]
    assert steps == sorted(set(steps)), "the second segment's steps follow the first's: a sync keeps every row"
    assert not glob.glob(os.path.join(curve.exp_dir, PROGRESS_FILE.format("*"))), "a finished evaluation forgets it"


@pytest.mark.slow
def test_the_results_table_has_a_line_per_checkpoint_and_experiment(curve):
    (table_file,) = glob.glob(os.path.join(curve.pattern[0].path, "files", "media", "table", "eval", "results_*.json"))
    table = json.load(open(table_file))
    assert table["columns"][:4] == ["checkpoint", "epoch", "frame", "experiment"]
    assert [(line[0], line[1], line[3]) for line in table["data"]] == [
        (os.path.basename(path), epoch, exp) for path, epoch in zip(curve.checkpoints, EPOCHS) for exp in ("exp0", "exp1")]
    resumed_tables = sorted(glob.glob(os.path.join(curve.folder[-1].path, "files", "media", "table", "eval", "*.json")))
    assert len(json.load(open(resumed_tables[-1]))["data"]) == 2 * len(EPOCHS), "the resumed run's table has them all"


@pytest.mark.slow
def test_the_curve_picture_is_rendered_from_the_runs_rows(curve, tmp_path):
    out = tmp_path / "curve.png"
    assert eval_curve.main([curve.folder[0].path, "--out", str(out), "--wandb", wandb_cli()]) == 0
    picture = imageio.imread(str(out))
    assert picture.shape[2] in (3, 4) and picture.shape[0] > 200 and picture.shape[1] > 300
    for given, segments in ((curve.folder[0].path, curve.folder), (curve.exp_dir, curve.alone[-1:])):
        points = eval_curve.read_points(eval_curve.eval_segments(given, wandb_cli()))
        assert sorted(points) == ["eval/exp0/success_rate", "eval/exp1/success_rate"]
        assert points["eval/exp1/success_rate"] == [(row["frame"], row["eval/exp1/success_rate"])
                                                    for row in rows(segments)], "every segment; else the newest run"


@pytest.mark.slow
def test_the_newest_eval_run_is_the_last_started_whatever_its_folder_is_called(curve, tmp_path):
    """Folder names resolve seconds only: here every run seems to start in one second, newest named first."""
    wandb_dir = tmp_path / "copy" / "wandb"
    wandb_dir.mkdir(parents=True)
    folders = offline_runs(curve.exp_dir)
    for n, folder in enumerate(folders):
        os.symlink(folder, str(wandb_dir / "offline-run-20260101_000000-{:03d}".format(len(folders) - n)))
    (segment,) = eval_curve.eval_segments(str(wandb_dir.parent), wandb_cli())
    assert eval_curve.read_points([segment]) == eval_curve.read_points([curve.alone[-1].records])


def test_a_folder_and_a_pattern_name_their_checkpoints_in_order(tmp_path):
    for name in ("Task_00000002.pth", "Task_00000010.pth", "Task.pth", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    assert find_checkpoints(str(tmp_path)) == [str(tmp_path / n) for n in ("Task.pth", "Task_00000002.pth",
                                                                          "Task_00000010.pth")]
    assert find_checkpoints(str(tmp_path / "*_0*.pth")) == [str(tmp_path / "Task_00000002.pth"),
                                                            str(tmp_path / "Task_00000010.pth")]
    assert find_checkpoints("not/there.pth") == ["not/there.pth"], "a plain path is the player's to report"


def test_epoch_order_keeps_one_file_per_save_point_and_names_what_it_leaves_out(tmp_path):
    import torch

    for name, epoch in (("Task_00000010.pth", 10), ("Task.pth", 10), ("Task_00000002.pth", 2)):
        torch.save({"epoch": epoch, "frame": epoch * 100}, str(tmp_path / name))
    (tmp_path / "broken.pth").write_bytes(b"not a checkpoint")
    origins, notes = in_epoch_order(sorted(str(p) for p in tmp_path.iterdir()))
    assert [os.path.basename(o.path) for o in origins] == ["Task_00000002.pth", "Task_00000010.pth"]
    assert len(notes) == 2 and notes[0].startswith("skipped {}: not a checkpoint (".format(tmp_path / "broken.pth"))
    assert notes[1] == "skipped {}: the same save point (epoch 10) as {}".format(tmp_path / "Task.pth",
                                                                               tmp_path / "Task_00000010.pth")
