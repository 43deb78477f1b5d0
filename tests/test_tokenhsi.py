"""An unmodified TokenHSI-style agent and player under the two documented lines, through a real rl_games Runner."""
import contextlib
import glob
import io
import json
import os
import shutil
import signal

import pytest

import tokenhsi_like
from conftest import Terminal, assert_mirrored, tensorboard_scalars, working_in
from hsi_wandb import log_eval
from hsi_wandb.adapter import apply_to_runner
from hsi_wandb.evaluation import load_checkpoint
from offline_run import OfflineRun, offline_runs

TRAINING_KEYS = ["performance/total_fps", "performance/step_fps", "performance/update_time", "performance/play_time",
                 "losses/a_loss", "losses/c_loss", "losses/disc_loss", "losses/bounds_loss", "losses/entropy",
                 "info/epochs", "info/last_lr", "info/lr_mul", "info/clip_frac", "info/kl", "info/e_clip",
                 "info/disc_agent_acc", "info/disc_demo_acc", "info/disc_agent_logit", "info/disc_demo_logit",
                 "info/disc_grad_penalty", "info/disc_logit_loss", "info/disc_reward_mean", "info/disc_reward_std",
                 "rewards/mean", "rewards/0", "rewards/near", "rewards/far", "episode_lengths/mean",
                 "successes/consecutive_successes"]


def tokenhsi_runner(cfg):
    """A Runner as TokenHSI's run.py builds it (observer, its own agent and player), then hsi_wandb's line."""
    runner = tokenhsi_like.build_runner()
    apply_to_runner(runner, cfg, source="tokenhsi.yaml", task="HumanoidTraj")
    return runner


def evaluate(cfg, checkpoint):
    """``python tokenhsi/run.py --test --eval --checkpoint ...``: a fresh Runner playing with ``eval: True``."""
    cfg = json.loads(json.dumps(cfg))
    cfg["params"]["config"]["eval"] = True
    runner = tokenhsi_runner(cfg)
    runner.load(cfg)
    runner.run({"train": False, "play": True, "checkpoint": checkpoint})


def player_results(checkpoint):
    """The results the player wrote: the newest metrics JSON under TokenHSI's metrics folder."""
    stem = os.path.splitext(os.path.basename(checkpoint))[0]
    files = glob.glob(os.path.join(os.path.dirname(checkpoint), "..", "metrics", stem, "metrics_*.json"))
    return json.load(open(max(files, key=os.path.getmtime)))


def eval_runs(root):
    return [run for run in map(OfflineRun, offline_runs(root)) if run.of_type("run")[0].get("job_type") == "eval"]


def eval_run_of(root, *checkpoints):
    """The eval run below ``root`` that evaluated exactly ``checkpoints``."""
    (found,) = [run for run in eval_runs(root) if [c["path"] for c in run.config["eval"]["checkpoints"]]
                == [os.path.abspath(c) for c in checkpoints]]
    return found


def preempting_the_third_evaluation(monkeypatch):
    """A cluster's preemption, as a real SIGTERM to this process, while the player evaluates its third checkpoint."""
    calls = []
    own = tokenhsi_like.TokenHSILikePlayer.run_eval

    def run_eval(player):
        calls.append(player._checkpoint_fn)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGTERM)
        return own(player)

    monkeypatch.setattr(tokenhsi_like.TokenHSILikePlayer, "run_eval", run_eval)
    return calls


@pytest.fixture(scope="module")
def tokenhsi(tmp_path_factory):
    """Train with ``max_epochs: 4`` (ASE's loop: 5 epochs, saves at 2, 4 and 5), then evaluate the epoch-2 checkpoint
    in place and from a copy, then the whole ``nn/`` folder (``--checkpoint output/<exp>/nn/``): preempted at its
    third checkpoint, and run again."""
    tmp_path = tmp_path_factory.mktemp("tokenhsi")
    with working_in(tmp_path):
        cfg = tokenhsi_like.train_config(tmp_path / "runs", max_epochs=4, save_frequency=2)
        runner = tokenhsi_runner(cfg)
        runner.load(cfg)
        runner.run({"train": True, "play": False, "checkpoint": None})
        exp_dir = tmp_path / "runs" / "tokenhsi"
        (train_dir,) = offline_runs(exp_dir)
        checkpoint = str(exp_dir / "nn" / "HumanoidTraj_00000002.pth")
        evaluate(cfg, checkpoint)
        copied = tmp_path / "downloads" / "model-v0" / "HumanoidTraj.pth"
        copied.parent.mkdir(parents=True)
        shutil.copyfile(checkpoint, copied)
        evaluate(cfg, str(copied))
        known = {run.path for run in eval_runs(exp_dir)}
        monkeypatch = pytest.MonkeyPatch()
        calls = preempting_the_third_evaluation(monkeypatch)
        with pytest.raises(SystemExit) as preempted:
            evaluate(cfg, str(exp_dir / "nn"))
        monkeypatch.undo()
        with contextlib.redirect_stderr(Terminal()) as terminal:
            evaluate(cfg, str(exp_dir / "nn"))
        folder = [run for run in eval_runs(exp_dir) if run.path not in known]
        yield {"exp_dir": exp_dir, "train": OfflineRun(train_dir), "checkpoint": checkpoint, "copied": str(copied),
               "tmp": tmp_path, "folder": folder, "calls": calls, "preempted": preempted.value.code,
               "rerun_said": terminal.getvalue()}


@pytest.mark.slow
def test_every_tokenhsi_training_tag_reaches_its_design_key(tokenhsi):
    rows = tokenhsi["train"].history
    for key in TRAINING_KEYS:
        assert any(key in row for row in rows), key
    assert not any(k.startswith("reward_") or k.startswith("rewards0") for row in rows for k in row)
    for row in rows:
        if "rewards/mean" in row:
            assert row["rewards/0"] == row["rewards/mean"]
    assert_mirrored(tensorboard_scalars(tokenhsi["exp_dir"]), rows)


@pytest.mark.slow
def test_the_ase_save_pattern_is_one_version_per_save_point_and_final_after_max_epochs(tokenhsi):
    versions = [(json.loads(a["metadata"]), a["aliases"]) for a in tokenhsi["train"].artifacts]
    assert [(m["epoch"], m["reason"], m["files"]) for m, _ in versions] == [
        (2, "save_frequency", ["HumanoidTraj.pth", "HumanoidTraj_00000002.pth"]),
        (4, "save_frequency", ["HumanoidTraj.pth", "HumanoidTraj_00000004.pth"]),
        (5, "final", ["HumanoidTraj.pth"])], "ASE's loop trains one epoch past max_epochs and saves there last"
    assert [sorted(aliases) for _, aliases in versions] == [
        ["epoch-2", "latest"], ["epoch-4", "latest"], ["epoch-5", "final", "latest"]]


@pytest.mark.slow
def test_the_players_own_evaluation_reaches_an_eval_run_in_the_training_group(tokenhsi):
    train = tokenhsi["train"]
    run = eval_run_of(tokenhsi["exp_dir"], tokenhsi["checkpoint"])
    record = run.of_type("run")[0]
    assert record["run_group"] == train.of_type("run")[0]["run_group"]
    state = load_checkpoint(tokenhsi["checkpoint"])
    assert run.config["eval"]["trained_run_id"] == train.run_id
    (checkpoint,) = run.config["eval"]["checkpoints"]
    assert (checkpoint["epoch"], checkpoint["frame"]) == (2, state["frame"])
    assert checkpoint["model_artifact"] == "model-{}:epoch-2".format(train.run_id)
    results = player_results(tokenhsi["checkpoint"])
    assert sorted(results) == ["ObjectSet_test_0", "ObjectSet_test_1", "ObjectSet_test_2"]
    (row,) = [r for r in run.history if "eval/ObjectSet_test_1/success_rate" in r]
    for exp, metrics in results.items():
        assert sorted(metrics) == sorted(tokenhsi_like.RESULT_KEYS)
        for key, value in metrics.items():
            assert row["eval/{}/{}".format(exp, key)] == pytest.approx(value), (exp, key)
    (epoch_row,) = [r for r in train.history if r["epoch"] == 2]
    assert (row["frame"], row["epoch"]) == (epoch_row["frame"], 2)
    assert run.exit_code == 0


@pytest.mark.slow
def test_the_eval_table_has_one_line_per_experiment(tokenhsi):
    run = eval_run_of(tokenhsi["exp_dir"], tokenhsi["checkpoint"])
    (table_file,) = glob.glob(os.path.join(run.path, "files", "media", "table", "eval", "results_*.table.json"))
    table = json.load(open(table_file))
    assert table["columns"] == ["checkpoint", "epoch", "frame", "experiment"] + list(
        player_results(tokenhsi["checkpoint"])["ObjectSet_test_0"])
    assert [line[:2] + line[3:4] for line in table["data"]] == [
        ["HumanoidTraj_00000002.pth", 2, "ObjectSet_test_{}".format(i)] for i in range(3)]


@pytest.mark.slow
def test_a_copied_checkpoint_evaluates_into_the_training_group(tokenhsi):
    train = tokenhsi["train"]
    (run,) = eval_runs(tokenhsi["copied"].rsplit(os.sep, 1)[0])
    assert run.of_type("run")[0]["run_group"] == train.of_type("run")[0]["run_group"]
    assert run.config["eval"]["trained_run_id"] == train.run_id
    results = player_results(tokenhsi["copied"])
    (row,) = [r for r in run.history if "eval/ObjectSet_test_1/success_rate" in r]
    assert row["eval/ObjectSet_test_1/success_rate"] == pytest.approx(results["ObjectSet_test_1"]["success_rate"])


@pytest.mark.slow
def test_the_players_evaluation_of_a_folder_is_one_run_continued_after_preemption(tokenhsi):
    train, (first, second) = tokenhsi["train"], tokenhsi["folder"]
    nn_dir = tokenhsi["exp_dir"] / "nn"
    in_order = [str(nn_dir / name) for name in ("HumanoidTraj_00000002.pth", "HumanoidTraj_00000004.pth",
                                                "HumanoidTraj.pth")]
    assert tokenhsi["calls"] == in_order and tokenhsi["preempted"] == 143
    assert first.run_id == second.run_id and (first.exit_code, second.exit_code) == (143, 0)
    assert first.of_type("run")[0]["run_group"] == train.of_type("run")[0]["run_group"]
    rows = [[r for r in segment.history if "eval/ObjectSet_test_0/success_rate" in r] for segment in (first, second)]
    assert [[r["epoch"] for r in segment] for segment in rows] == [[2, 4], [5]], "no checkpoint twice, none missing"
    frame_of = {r["epoch"]: r["frame"] for r in train.history}
    for checkpoint, row in zip(in_order, rows[0] + rows[1]):
        assert row["frame"] == frame_of[row["epoch"]]
        for exp, metrics in player_results(checkpoint).items():
            for key, value in metrics.items():
                assert row["eval/{}/{}".format(exp, key)] == pytest.approx(value), (checkpoint, exp, key)
    assert [(c["path"], c["epoch"]) for c in second.config["eval"]["checkpoints"]] == list(zip(in_order, [2, 4, 5]))
    said = tokenhsi["rerun_said"]
    assert "hsi_wandb: continuing eval run {} of {}: 2 checkpoint(s) already evaluated are skipped".format(
        first.run_id, nn_dir) in said
    assert "2/3" in said and "3/3" in said and "checkpoint" in said, "the bar counts checkpoints done / total"


@pytest.mark.slow
def test_log_eval_logs_checkpoint_results_pairs_as_one_curve_in_epoch_order(tokenhsi):
    nn_dir = tokenhsi["exp_dir"] / "nn"
    pairs = [(str(nn_dir / "HumanoidTraj_00000004.pth"), {"sit": {"success_rate": 0.5}}),
             (str(nn_dir / "HumanoidTraj_00000002.pth"), {"sit": {"success_rate": 0.25}})]
    with working_in(tokenhsi["tmp"]):
        run_id = log_eval(pairs, train_cfg=tokenhsi_like.train_config("runs"), source="tokenhsi.yaml")
    (run,) = [r for r in eval_runs(tokenhsi["exp_dir"]) if r.run_id == run_id]
    assert [(r["epoch"], r["eval/sit/success_rate"]) for r in run.history if "eval/sit/success_rate" in r] == [
        (2, 0.25), (4, 0.5)]
    assert [c["epoch"] for c in run.config["eval"]["checkpoints"]] == [2, 4]


@pytest.mark.parametrize("given,message", [
    ([("a.pth", {"sit": 0.75})], "experiment 'sit' must map metric names to values"),
    ([("a.pth",)], "a non-empty sequence of \\(checkpoint path, results\\) pairs, got 'list'"),
    ([], "a non-empty sequence"),
])
def test_log_eval_rejects_pairs_of_the_wrong_shape_before_logging_any(given, message):
    with pytest.raises(ValueError, match=message):
        log_eval(given)


@pytest.mark.slow
def test_evaluation_leaves_the_training_run_record_alone(tokenhsi):
    record = json.load(open(tokenhsi["exp_dir"] / "wandb_run.json"))
    assert record["run_id"] == tokenhsi["train"].run_id


@pytest.mark.slow
def test_log_eval_logs_an_evaluators_own_results_into_the_training_group(tokenhsi):
    results = {"sit": {"success_rate": 0.75, "success_precision": 0.031, "num_trials": 64, "policy": "greedy"}}
    checkpoint = str(tokenhsi["exp_dir"] / "nn" / "HumanoidTraj_00000004.pth")
    with working_in(tokenhsi["tmp"]):
        run_id = log_eval(results, checkpoint=checkpoint, train_cfg=tokenhsi_like.train_config("runs"),
                          source="tokenhsi.yaml")
    (run,) = [r for r in eval_runs(tokenhsi["exp_dir"]) if r.run_id == run_id]
    assert run.of_type("run")[0]["run_group"] == tokenhsi["train"].of_type("run")[0]["run_group"]
    (row,) = [r for r in run.history if "eval/sit/success_rate" in r]
    assert (row["eval/sit/success_rate"], row["eval/sit/num_trials"], row["epoch"]) == (0.75, 64, 4)
    assert "eval/sit/policy" not in row


def test_log_eval_rejects_results_of_the_wrong_shape():
    with pytest.raises(ValueError, match="experiment 'sit' must map metric names to values"):
        log_eval({"sit": 0.75})


@pytest.fixture(scope="module")
def resumed_three_times(tmp_path_factory):
    """Train 3 epochs (ASE's loop: ``max_epochs: 2``), then ``--resume 1 --checkpoint nn/HumanoidTraj.pth`` three
    times (their ``load_cfg`` sets ``load_checkpoint`` and ``load_path``, which rl-games 1.1.4 restores from), with
    ASE's default ``save_intermediate: False``: only the rolling ``<name>.pth`` is saved."""
    tmp_path = tmp_path_factory.mktemp("tokenhsi_resumed")
    said = io.StringIO()
    with working_in(tmp_path), contextlib.redirect_stderr(said):
        checkpoint = None
        for max_epochs in (2, 4, 6, 8):
            cfg = tokenhsi_like.train_config(tmp_path / "runs", max_epochs=max_epochs, save_frequency=2,
                                             save_intermediate=False)
            cfg["params"].update(load_checkpoint=checkpoint is not None, load_path=checkpoint or "")
            runner = tokenhsi_runner(cfg)
            runner.load(cfg)
            runner.run({"train": True, "play": False, "checkpoint": checkpoint})
            checkpoint = str(tmp_path / "runs" / "tokenhsi" / "nn" / "HumanoidTraj.pth")
    exp_dir = tmp_path / "runs" / "tokenhsi"
    yield {"exp_dir": exp_dir, "segments": [OfflineRun(d) for d in offline_runs(exp_dir)], "said": said.getvalue()}


@pytest.mark.slow
def test_three_resumes_of_an_ase_loop_keep_every_row_in_one_run(resumed_three_times):
    segments = resumed_three_times["segments"]
    assert len(segments) == 4 and len({s.run_id for s in segments}) == 1
    assert [[r["epoch"] for r in s.history] for s in segments] == [[1, 2, 3], [4, 5], [6, 7], [8, 9]]
    steps = [h["step"].get("num", 0) for s in segments for h in s.of_type("history")]
    assert steps == list(range(len(steps))), "no W&B step is reused, so every row survives the sync"
    batch = segments[0].history[1]["frame"] - segments[0].history[0]["frame"]
    for segment in segments:
        assert [r["frame"] for r in segment.history] == [i * batch for i in range(len(segment.history))], \
            "each segment keeps the frames the agent wrote (ASE's train() counts from 0 again)"


@pytest.mark.slow
def test_each_resume_says_the_frame_count_restarted_and_artifacts_stay_one_per_save_point(resumed_three_times):
    said = resumed_three_times["said"]
    assert said.count("the agent counts frames from 0 again after resuming") == 3
    assert "while epochs go on from 4: rows keep the frames it writes to TensorBoard, so plot this run against " \
           "epoch" in said
    artifacts = [a for s in resumed_three_times["segments"] for a in s.artifacts]
    epochs = [json.loads(a["metadata"])["epoch"] for a in artifacts]
    assert epochs == [2, 3, 4, 5, 6, 7, 8, 9], "one version per save point, every segment's final save included"
    assert all(json.loads(a["metadata"])["files"] == ["HumanoidTraj.pth"] for a in artifacts)
    assert [a for a in artifacts if "final" in a["aliases"]] == [artifacts[1], artifacts[3], artifacts[5],
                                                                 artifacts[7]]
