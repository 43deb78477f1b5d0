"""run.py end to end: bad input stops early; train -> checkpoint -> eval offline, read back with wandb leet."""
import glob
import json
import os
import re

import pytest

import run
from conftest import run_main, tensorboard_scalars
from offline_run import OfflineRun, offline_runs

SMALL = ["--num_envs", "256", "--horizon_length", "32", "--minibatch_size", "2048", "--output_path", "out"]
NAMESPACE_KEYS = ["performance/total_fps", "performance/step_fps", "performance/update_time",
                  "performance/play_time", "losses/a_loss", "losses/c_loss", "losses/disc_loss",
                  "losses/bounds_loss", "losses/entropy", "info/epochs", "info/last_lr", "info/lr_mul",
                  "info/clip_frac", "info/kl", "info/e_clip", "info/disc_agent_acc", "info/disc_demo_acc",
                  "info/disc_agent_logit", "info/disc_demo_logit", "info/disc_grad_penalty",
                  "info/disc_logit_loss", "info/disc_reward_mean", "info/disc_reward_std", "rewards/mean",
                  "episode_lengths/mean"]
EVAL_KEYS = ["num_trials", "success_trials", "success_rate", "success_precision", "fail_trials",
             "fail_trials_because_terminate", "fail_trials_total"]


@pytest.mark.parametrize("argv,message", [
    (["--task", "Humanoid"], "--task Humanoid: unknown task; choose one of"),
    (["--cfg_train", "nope.yaml"], "--cfg_train nope.yaml: file not found"),
    (["--cfg_env", "bad.yaml"], "--cfg_env bad.yaml: malformed YAML"),
    (["--checkpoint", "missing.pth", "--resume", "1"], "--checkpoint missing.pth: file not found"),
    (["--cfg_train", "badkey.yaml"], "badkey.yaml: `wandb.projet` is not a known key; allowed: project"),
    (["--test"], "--test needs --checkpoint"),
    (["--checkpoint", "bad.yaml"], "--checkpoint bad.yaml: to continue training from it add --resume 1"),
])
def test_bad_input_stops_with_one_clear_message_before_anything_is_built(tmp_path, capsys, argv, message):
    (tmp_path / "bad.yaml").write_text("env: [unclosed\n")
    (tmp_path / "badkey.yaml").write_text("use_wandb: True\nwandb: {projet: x}\nparams: {config: {}}\n")
    assert run.main(argv + ["--output_path", "out"]) == 2
    ours = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(ours) == 1 and ours[0].startswith("run.py: error: ") and message in ours[0]
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_train_checkpoint_eval_end_to_end(capfd):
    train = run_main(capfd, "--task", "PointMassReach", "--max_iterations", "12", "--seed", "1", *SMALL)
    assert re.search(r"^mean episode reward: [\d.]+ at epoch \d+( \(the first with a finished episode\))? -> "
                     r"[\d.]+ at epoch 12 \(", train.stdout, re.M), train.stdout
    assert "wandb sync out/" in train.stderr
    (exp_dir,) = glob.glob("out/PointMassReach_*")
    (train_dir,) = offline_runs(exp_dir)
    trained = OfflineRun(train_dir)
    assert trained.exit_code == 0
    for key in NAMESPACE_KEYS:
        assert any(key in row for row in trained.history), key
    arts = trained.artifacts
    assert arts and all({"epoch", "frame"} <= set(json.loads(a["metadata"])) for a in arts)
    assert "final" in arts[-1]["aliases"]
    record = json.load(open(os.path.join(exp_dir, "wandb_run.json")))
    assert record["run_id"] == trained.run_id

    checkpoint = sorted(glob.glob(os.path.join(exp_dir, "nn", "*.pth")))[-1]
    run_main(capfd, "--test", "--eval", "--task", "PointMassReach", "--checkpoint", checkpoint, "--num_trials", "64",
           "--num_repeats", "2", "--num_envs", "64", "--output_path", "out")
    eval_dir = [d for d in offline_runs(exp_dir) if d != train_dir][0]
    evaluated = OfflineRun(eval_dir)
    (run_record,) = evaluated.of_type("run")
    assert run_record.get("job_type") == "eval" and run_record.get("run_group") == record["group"]
    assert [c["path"] for c in evaluated.config["eval"]["checkpoints"]] == [os.path.abspath(checkpoint)]
    (row,) = [r for r in evaluated.history if "eval/exp0/success_rate" in r]
    results = json.load(open(os.path.splitext(checkpoint)[0] + "_eval.json"))["results"]
    for exp in ("exp0", "exp1"):
        for key in EVAL_KEYS:
            assert row["eval/{}/{}".format(exp, key)] == pytest.approx(results[exp][key])
        assert results[exp]["success_trials"] + results[exp]["fail_trials_total"] == results[exp]["num_trials"] == 64
    (table_file,) = glob.glob(os.path.join(eval_dir, "files", "media", "table", "eval", "results_*.table.json"))
    table = json.load(open(table_file))
    assert [r[table["columns"].index("experiment")] for r in table["data"]] == ["exp0", "exp1"]
    assert table["data"][0][table["columns"].index("num_trials")] == 64
    for art in evaluated.artifacts:
        for entry in art["manifest"]["contents"]:
            assert os.path.realpath(entry["local_path"]).startswith(os.path.realpath(exp_dir) + os.sep), entry
    assert evaluated.exit_code == 0


@pytest.mark.slow
def test_multi_task_rewards_reach_wandb_per_task(capfd):
    run_main(capfd, "--task", "PointMassMultiTask", "--max_iterations", "12", *SMALL)
    (exp_dir,) = glob.glob("out/PointMassMultiTask_*")
    tags = tensorboard_scalars(exp_dir)
    assert {"reward_{}/{}".format(name, axis) for name in ("traj", "reach", "heading")
            for axis in ("frame", "iter", "time")} <= set(tags), "the agent writes each task's reward"
    rows = OfflineRun(offline_runs(exp_dir)[0]).history
    task_keys = {k for r in rows for k in r if k.startswith("rewards/") and k != "rewards/mean"}
    assert task_keys == {"rewards/0", "rewards/traj", "rewards/reach", "rewards/heading"}, task_keys
    last = rows[-1]
    assert all(isinstance(last[key], float) for key in ("rewards/traj", "rewards/reach", "rewards/heading"))
