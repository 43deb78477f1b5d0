"""run.py on a researcher's ordinary mistakes: one `run.py: error:` line, exit code 2, nothing started or written."""
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

import run
from conftest import ROOT

SHIPPED_ENV = os.path.join(ROOT, "cfg", "env", "point_mass_traj.yaml")
SHIPPED_TRAIN = os.path.join(ROOT, "cfg", "train", "point_mass_traj_amp.yaml")


def shipped(path):
    with open(path) as f:
        return yaml.safe_load(f)


@pytest.fixture
def bad_files(tmp_path):
    """Config, preset and motion files with one mistake each, in the working directory."""
    env, train = shipped(SHIPPED_ENV), shipped(SHIPPED_TRAIN)
    files = {
        "nosim.yaml": {k: v for k, v in env.items() if k != "sim"},
        "nomotion.yaml": dict(env, env=dict(env["env"], motion_file="nowhere.npz")),
        "nonetwork.yaml": dict(train, params={k: v for k, v in train["params"].items() if k != "network"}),
        "presets.yaml": {"presets": {"listy": {"overrides": ["params.config.gamma=0.9"]},
                                     "onlin": {"overrides": {"wandb.mode": "onlin"}},
                                     "maybe": {"overrides": {"use_wandb": "maybe"}}}},
    }
    for name, data in files.items():
        (tmp_path / name).write_text(yaml.safe_dump(data))
    (tmp_path / "clips.txt").write_text("not a motion file\n")
    (tmp_path / "nothing_saved").mkdir()
    (tmp_path / "saved").mkdir()
    (tmp_path / "saved" / "PointMassTraj_00000001.pth").write_bytes(b"")
    np.save(str(tmp_path / "array.npy"), np.zeros(3))
    return tmp_path


CASES = [
    (["--num_envs", "1000"], "--num_envs 1000: the batch, num_envs x horizon_length = 1000 x 16 = 16000, is not a "
                             "multiple of minibatch_size 8192; e.g. --num_envs 1024 fits"),
    (["--num_envs", "0"], "--num_envs 0: must be a whole number of at least 1"),
    (["--seed", "-1"], "--seed -1: must be a whole number from 0 to 4294967295"),
    (["--horizon_length", "0"], "--horizon_length 0: must be a whole number of at least 1"),
    (["--minibatch_size", "1000"], "--minibatch_size 1000: the batch, num_envs x horizon_length = 2048 x 16 = 32768, "
                                   "is not a multiple of minibatch_size 1000; e.g. --minibatch_size 512 fits"),
    (["--horizon_length", "10"], "2048 x 10 = 20480, is not a multiple of minibatch_size 8192; "
                                 "e.g. --horizon_length 12 fits"),
    (["--rl_device", "foo"], "--rl_device foo: not a torch device; allowed: cpu, cuda, cuda:N"),
    (["--rl_device", "mps"], "--rl_device mps: not supported by the built-in runner; allowed: cpu, cuda, cuda:N"),
    (["--rl_device", "cuda:99"], "--rl_device cuda:99: "),
    (["--num_trials", "0"], "--num_trials 0: must be a whole number of at least 1"),
    (["--num_repeats", "0"], "--num_repeats 0: must be a whole number of at least 1"),
    (["--max_iterations", "0"], "--max_iterations 0: must be a whole number of at least 1"),
    (["params.config.gamma=abc"], "override params.config.gamma=abc: `params.config.gamma` must be a number, "
                                  "got 'abc'"),
    (["params.config.learning_rate=fast"], "override params.config.learning_rate=fast: `params.config.learning_rate` "
                                           "must be a number, got 'fast'"),
    (["params.config.minibatch_size=1000"], "override params.config.minibatch_size=1000: the batch"),
    (["--cfg_env", "nomotion.yaml"], "--cfg_env nomotion.yaml: motion file nowhere.npz not found"),
    (["--motion_file", "clips.txt"], "--motion_file clips.txt: clips.txt is not a motion file: expected an .npz with "
                                     "the arrays vel and dt"),
    (["--motion_file", "array.npy"], "--motion_file array.npy: array.npy is not a motion file"),
    (["--cfg_env", "nosim.yaml"], "--cfg_env nosim.yaml: missing `sim` (a mapping)"),
    (["--cfg_train", "nonetwork.yaml"], "--cfg_train nonetwork.yaml: missing `params.network` (a mapping)"),
    (["--presets_file", "presets.yaml", "--preset", "listy"],
     "--preset listy (presets.yaml): `overrides` must be a mapping of key.path: value, got list"),
    (["--presets_file", "presets.yaml", "--preset", "onlin"],
     "--preset onlin (presets.yaml): `wandb.mode` is 'onlin'; allowed: online, offline, disabled"),
    (["wandb.mode=onlin"], "override wandb.mode=onlin: `wandb.mode` is 'onlin'; allowed: online, offline, disabled"),
    (["use_wandb=maybe"], "override use_wandb=maybe: `use_wandb` is 'maybe'; allowed: True, False, auto"),
    (["wandb={project: 1}"], "override wandb={project: 1}: `wandb.project` must be a string, got 1"),
    (["--presets_file", "presets.yaml", "--preset", "maybe"],
     "--preset maybe (presets.yaml): `use_wandb` is 'maybe'; allowed: True, False, auto"),
    (["wandb.histogram_freq=2.5"], "override wandb.histogram_freq=2.5: `wandb.histogram_freq` must be a whole "
                                   "number of at least 1, got 2.5"),
    (["--wandb_histogram_freq", "0"], "command line: `wandb.histogram_freq` must be a whole number of at least 1, got 0"),
    (["wandb.projet=x"], "override wandb.projet=x: `wandb.projet` is not a known key; allowed: project, entity, name, "
                         "group, tags, notes, mode, checkpoints, init_timeout, progress, histograms, histogram_freq, "
                         "save_code"),
    (["--wandb_tags", "exp1", "params.config.gamma=abc"], "override params.config.gamma=abc: "),
    (["--test", "--eval", "--checkpoint", "nothing_saved"],
     "--checkpoint nothing_saved: no checkpoint (*.pth) in this folder"),
    (["--test", "--eval", "--checkpoint", "saved/*_ep_*.pth"], "--checkpoint saved/*_ep_*.pth: the pattern matches no "
                                                               "file"),
    (["--test", "--eval", "--checkpoint", "saved/PointMassTraj.pth"], "--checkpoint saved/PointMassTraj.pth: file not "
                                                                      "found"),
    (["--resume", "1", "--checkpoint", "saved"], "--checkpoint saved: training continues from one checkpoint file; a "
                                                 "folder or pattern of checkpoints is for --test --eval"),
]


@pytest.mark.parametrize("argv,message", CASES, ids=[" ".join(argv) for argv, _ in CASES])
def test_bad_input_is_one_line_exit_2_and_nothing_is_started(bad_files, capfd, argv, message):
    assert run.main(argv + ["--output_path", "out"]) == 2
    lines = capfd.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("run.py: error: ") and message in lines[0], lines
    assert not (bad_files / "out").exists()
    assert not [d for d in os.listdir(bad_files) if d.startswith("wandb")], "no W&B run started"


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a torch without CUDA")
def test_cuda_on_a_cpu_only_torch_is_refused(capfd):
    assert run.main(["--rl_device", "cuda:0", "--output_path", "out"]) == 2
    assert capfd.readouterr().err.strip() == ("run.py: error: --rl_device cuda:0: this torch has no usable CUDA "
                                               "device; use --rl_device cpu")


@pytest.mark.slow
@pytest.mark.parametrize("argv,environ,message", [
    ([], {"WANDB_MODE": "sometimes"}, "run.py: error: environment: `WANDB_MODE` is 'sometimes'; allowed: online, "
                                      "offline, disabled, run, dryrun"),
    (["--num_envs", "1000"], {}, "run.py: error: " + CASES[0][1]),
])
def test_the_real_process_prints_one_line_and_exits_2(tmp_path, argv, environ, message):
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "run.py"), "--output_path", "out"] + argv,
                          env=dict(os.environ, **environ), capture_output=True, text=True, timeout=120)
    assert (proc.returncode, proc.stderr.strip(), proc.stdout) == (2, message, "")
    assert os.listdir(tmp_path) == []


def test_a_preset_adds_a_wandb_key_like_a_trailing_override(tmp_path):
    (tmp_path / "presets.yaml").write_text("presets:\n  code: {overrides: {wandb.save_code: true}}\n")
    by_preset = run.load_configs(run.parse_args(["--presets_file", "presets.yaml", "--preset", "code"]))[2]
    by_override = run.load_configs(run.parse_args(["wandb.save_code=true"]))[2]
    assert by_preset.wandb.save_code is by_override.wandb.save_code is True


def test_use_wandb_given_on_the_command_line_may_be_new_to_the_file(tmp_path):
    train = shipped(SHIPPED_TRAIN)
    del train["use_wandb"]
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(train))
    settings = run.load_configs(run.parse_args(["--cfg_train", "train.yaml", "use_wandb=false"]))[2]
    assert settings.mode == "disabled"


def test_flags_that_set_config_values_are_in_the_returned_configs():
    cfg_env, cfg_train, _ = run.load_configs(run.parse_args(["--num_envs", "512", "--horizon_length", "8",
                                                             "--minibatch_size", "1024"]))
    config = cfg_train["params"]["config"]
    assert (cfg_env["env"]["numEnvs"], config["horizon_length"], config["minibatch_size"]) == (512, 8, 1024)


def test_tags_stop_at_the_first_override():
    args = run.parse_args(["params.config.tau=0.9", "--wandb_tags", "exp1", "exp2", "params.config.gamma=0.98",
                           "--no_progress", "params.config.e_clip=0.1"])
    assert args.wandb_tags == ["exp1", "exp2"]
    assert args.overrides == ["params.config.tau=0.9", "params.config.gamma=0.98", "params.config.e_clip=0.1"]


OVERRIDE_PATHS = ["params.config.gamma", "params.config.tau", "params.config.learning_rate", "params.config.e_clip",
                  "params.config.horizon_length", "params.config.minibatch_size", "params.seed", "params.config.x",
                  "wandb.notes", "wandb.mode", "wandb.histogram_freq", "wandb.tags", "wandb.nope", "params"]
OVERRIDE_VALUES = st.one_of(st.sampled_from(["0.98", "1e-4", "5e-4", "abc", "8", "1000", "-1", "0", "true", "[a]",
                                             "offline", "onlin", "", "2.5", "{", "null"]),
                            st.text(st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp")), max_size=6))
OVERRIDE = st.builds("{}={}".format, st.sampled_from(OVERRIDE_PATHS), OVERRIDE_VALUES)
FLAG = st.one_of(
    st.tuples(st.sampled_from(["--num_envs", "--seed", "--horizon_length", "--minibatch_size", "--max_iterations",
                               "--num_trials", "--num_repeats"]),
              st.sampled_from(["-1", "0", "1", "8", "512", "1000", "2048"])),
    st.tuples(st.sampled_from(["--rl_device"]), st.sampled_from(["cpu", "cuda", "cuda:3", "foo", "CPU"])),
    st.tuples(st.sampled_from(["--wandb_mode"]), st.sampled_from(["offline", "disabled"])),
    st.tuples(st.sampled_from(["--wandb_notes", "--wandb_name"]), st.sampled_from(["a=b", "x", "1e3"])),
    st.tuples(st.sampled_from(["--no_progress", "--no_wandb", "--headless", "--dry_run"])),
    st.tuples(st.just("--wandb_tags"), st.lists(st.sampled_from(["exp1", "a b", "ü"]), max_size=3).map(tuple)),
)
COMMAND_LINE = st.lists(st.one_of(OVERRIDE.map(lambda o: ("override", o)), FLAG.map(lambda f: ("flag", f))),
                        max_size=6)


def flatten(pieces):
    argv = []
    for kind, piece in pieces:
        if kind == "override":
            argv.append(piece)
        else:
            for part in piece:
                argv += list(part) if isinstance(part, tuple) else [part]
    return argv


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(COMMAND_LINE)
def test_any_command_line_of_flags_and_overrides_is_applied_or_refused_in_one_line(tmp_path, pieces):
    argv = flatten(pieces)
    overrides = [piece for kind, piece in pieces if kind == "override"]
    args = run.parse_args(argv + ["--output_path", "out"])
    assert args.overrides == overrides, "no override is swallowed by a flag, and their order is kept"
    assert not any("=" in tag for tag in args.wandb_tags or [])
    try:
        cfg_env, cfg_train, resolved = run.load_configs(args)
    except run.UsageError as err:
        message = str(err)
        assert "\n" not in message and message.startswith(("--", "override ", "environment: `", "command line: `",
                                                            "{}: `".format(args.cfg_train))), message
        return
    finally:
        assert not (tmp_path / "out").exists()
    last_values = dict(override.partition("=")[::2] for override in overrides)
    set_by_flags = {"params.config.horizon_length": args.horizon_length,
                    "params.config.minibatch_size": args.minibatch_size}
    for path, text in last_values.items():
        if path.startswith("params.") and set_by_flags.get(path) is None:
            node = cfg_train
            for key in path.split("."):
                node = node[key]
            assert node == run.parse_value(text), (path, text)
    config = cfg_train["params"]["config"]
    assert (cfg_env["env"]["numEnvs"] * config["horizon_length"]) % config["minibatch_size"] == 0
