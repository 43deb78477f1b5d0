"""run.py's W&B flags, presets, dotted overrides, the sweep file and dry runs, checked on the real offline run."""
import glob
import json
import os

import pytest
import yaml

import run
from conftest import ROOT, TINY, run_main
from offline_run import OfflineRun, offline_runs


def only_run(pattern="out/*"):
    (exp_dir,) = glob.glob(pattern)
    (run_dir,) = offline_runs(exp_dir)
    return exp_dir, OfflineRun(run_dir)


@pytest.mark.slow
def test_flags_beat_environment_which_beats_the_file(monkeypatch, capfd):
    for name, value in dict(WANDB_PROJECT="from-env", WANDB_RUN_GROUP="env-group", WANDB_NOTES="env notes",
                            WANDB_MODE="OFFLINE").items():
        monkeypatch.setenv(name, value)
    proc = run_main(capfd, *TINY, "--wandb_project", "from-flag", "--wandb_tags", "a", "b", "c", "--wandb_name",
                    "my-run")
    _, offline = only_run()
    (record,) = offline.of_type("run")
    assert record["project"] == "from-flag" and record["run_group"] == "env-group"
    assert record["display_name"] == "my-run" and record["tags"] == ["a", "b", "c"] and record["notes"] == "env notes"
    assert offline.config["wandb"]["project"] == "from-flag"
    assert "WANDB_MODE" not in proc.stderr, "W&B accepts the normalised WANDB_MODE without a warning"


@pytest.mark.slow
def test_no_wandb_flag_turns_it_off_but_keeps_the_jsonl_backup(capfd):
    run_main(capfd, *TINY, "--no_wandb")
    (exp_dir,) = glob.glob("out/*")
    assert offline_runs(exp_dir) == []
    rows = [json.loads(line) for line in open(os.path.join(exp_dir, "metrics.jsonl"))]
    assert [r["epoch"] for r in rows] == [1, 2] and "losses/a_loss" in rows[0]


@pytest.mark.slow
def test_jsonl_backup_holds_exactly_the_rows_sent_to_wandb(monkeypatch, capfd):
    monkeypatch.setenv("WANDB_MODE", "")
    run_main(capfd, *TINY, "--wandb_mode", "offline")
    exp_dir, offline = only_run()
    assert offline.config["env"]["env"]["numEnvs"] == 256, "the logged env config holds what ran"
    assert offline.config["params"]["config"]["learning_rate"] == 5e-4, "the YAML's 5e-4 is logged as a number"
    backup = [json.loads(line) for line in open(os.path.join(exp_dir, "metrics.jsonl"))]
    history = [{k: v for k, v in row.items() if not k.startswith("_")} for row in offline.history]
    assert len(backup) == len(history) == 2
    for mine, theirs in zip(backup, history):
        assert mine.keys() == theirs.keys()
        assert all(mine[k] == pytest.approx(theirs[k], nan_ok=True) for k in mine)
    assert all("info/grad_norm" in r and "info/param_norm" in r for r in backup)


@pytest.mark.slow
def test_preset_and_dotted_overrides_reach_the_logged_config(capfd):
    run_main(capfd, *TINY, "--preset", "style_heavy", "params.config.learning_rate=1e-4", "params.config.gamma=0.98",
           "wandb.notes=from override")
    _, offline = only_run()
    cfg = offline.config["params"]["config"]
    assert (cfg["learning_rate"], cfg["gamma"], cfg["task_reward_w"], cfg["disc_reward_w"]) == (1e-4, 0.98, 0.3, 0.7)
    (record,) = offline.of_type("run")
    assert record["run_group"] == "reward-mix" and record["tags"] == ["amp", "style"]
    assert record["notes"] == "from override"


@pytest.mark.parametrize("argv,message", [
    (["params.config.learning_rat=1"], "override params.config.learning_rat=1: `params.config` has no key "
                                       "`learning_rat`; keys there:"),
    (["params.config.gamma.x=1"], "`params.config.gamma` has no key `x`; keys there: none (not a mapping)"),
    (["nonsense"], "override 'nonsense': expected key.path=value"),
    (["params.config.gamma=[1, 2"], "override params.config.gamma=[1, 2: value is not valid YAML"),
    (["--preset", "nope"], "--preset nope: not in"),
    (["--wandb_mode", "offline", "wandb.mode=sometimes"], "`wandb.mode` is 'sometimes'"),
])
def test_bad_overrides_and_presets_say_what_is_wrong(capsys, argv, message):
    assert run.main(argv + ["--output_path", "out"]) == 2
    ours = [line for line in capsys.readouterr().err.splitlines() if line.startswith("run.py: error")]
    assert len(ours) == 1 and message in ours[0], ours


def test_override_values_are_typed_by_yaml_rules():
    assert [run.parse_value(v) for v in ("1e-4", "3", "0.5", "true", "null", "[1, 2]", "abc", "-2E3")] == \
        [1e-4, 3, 0.5, True, None, [1, 2], "abc", -2000.0]


def test_every_declared_key_but_the_mapping_has_a_flag_that_reaches_the_settings(tmp_path):
    from hsi_wandb.config import SECTION_KEYS

    argv = ["--wandb_project", "p", "--wandb_entity", "e", "--wandb_name", "n", "--wandb_group", "g", "--wandb_tags",
            "a", "b", "--wandb_notes", "x", "--wandb_mode", "offline", "--wandb_checkpoints", "last",
            "--wandb_init_timeout", "2.5", "--wandb_histograms", "all", "--wandb_histogram_freq", "3",
            "--wandb_save_code", "true", "--wandb_videos", "videos/*.mp4", "--no_progress"]
    _, _, settings = run.load_configs(run.parse_args(argv))
    assert set(SECTION_KEYS) - {"init_kwargs"} == set(run.wandb_overrides(run.parse_args(argv)))
    assert vars(settings.wandb) == dict(project="p", entity="e", name="n", group="g", tags=["a", "b"], notes="x",
                                        mode="offline", checkpoints="last", init_timeout=2.5, progress=False,
                                        histograms="all", histogram_freq=3, save_code=True, videos="videos/*.mp4",
                                        init_kwargs={})


@pytest.mark.slow
def test_sweep_file_is_accepted_and_the_agent_command_line_sets_the_values(capfd):
    """The command line a sweep agent runs (``python run.py`` and the arguments its ``command`` makes), as run.py
    parses it."""
    from wandb.sdk.launch.sweeps import utils as sweep_utils

    sweep = sweep_utils.load_sweep_config(os.path.join(ROOT, "cfg", "sweeps", "point_mass_traj.yaml"))
    assert sweep["program"] == "run.py" and sweep["command"][-1] == "${args_no_hyphens}"
    train_cfg = yaml.safe_load(open(os.path.join(ROOT, "cfg", "train", "point_mass_traj_amp.yaml")))
    swept = {"params.config.learning_rate": 0.0003, "params.config.gamma": 0.995, "params.config.disc_reward_w": 0.25}
    assert set(sweep["parameters"]) == set(swept)
    for path in swept:
        run.set_path(train_cfg, path, 0, "sweep")
    assert sweep["command"][:3] == ["${env}", "${interpreter}", "${program}"]
    run_main(capfd, *sweep["command"][3:-1], *["{}={}".format(k, v) for k, v in swept.items()], *TINY)
    assert "--wandb_tags" in sweep["command"], "the sweep's command puts tags before the swept overrides"
    _, offline = only_run()
    cfg = offline.config["params"]["config"]
    assert {k: cfg[k.split(".")[-1]] for k in swept} == swept
    (record,) = offline.of_type("run")
    assert record["tags"] == ["sweep"]


@pytest.mark.slow
def test_dry_run_trains_one_epoch_and_writes_no_checkpoint(capfd):
    proc = run_main(capfd, *TINY, "--dry_run")
    exp_dir, offline = only_run()
    assert glob.glob(os.path.join(exp_dir, "nn", "*")) == []
    assert [r["epoch"] for r in offline.history] == [1] and offline.artifacts == []
    assert "dry run: configs valid, one epoch trained, no checkpoint written; W&B run: " + offline.run_id in proc.stdout
    assert "wandb sync out/" in proc.stderr
