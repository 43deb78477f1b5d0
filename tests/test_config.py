"""Config validation, WANDB_MODE precedence, the online -> offline fallback and the run's row sending, against
real wandb."""
import os
import threading

import pytest
import wandb
from hypothesis import given, strategies as st

from hsi_wandb import ConfigError, resolve_settings, start_run
from hsi_wandb.lifecycle import NullRun, WandbRun
from offline_run import OfflineRun


def settings(cfg, environ=None):
    return resolve_settings(cfg, "cfg/train/x.yaml", environ={} if environ is None else environ)


@pytest.mark.parametrize("cfg,key,allowed", [
    ({"use_wandb": True, "wandb": {"projet": "x"}}, "wandb.projet", "project, entity"),
    ({"use_wandb": True, "wandb": {"mode": "onlin"}}, "wandb.mode", "online, offline, disabled"),
    ({"use_wandb": True, "wandb": {"tags": "a,b"}}, "wandb.tags", "a list of strings"),
    ({"use_wandb": True, "wandb": {"tags": ["a", 3]}}, "wandb.tags", "list of strings"),
    ({"use_wandb": True, "wandb": {"project": 5}}, "wandb.project", "a string"),
    ({"use_wandb": True, "wandb": {"entity": True}}, "wandb.entity", "a string or null"),
    ({"use_wandb": True, "wandb": {"checkpoints": "all"}}, "wandb.checkpoints", "files, last, metadata, none"),
    ({"use_wandb": True, "wandb": {"init_timeout": -1}}, "wandb.init_timeout", "above 0 and at most 3600"),
    ({"use_wandb": "yes"}, "use_wandb", "True, False, auto"),
    ({"use_wandb": True, "wandb": ["project"]}, "wandb", "mapping"),
])
def test_bad_values_name_file_key_and_allowed(cfg, key, allowed):
    with pytest.raises(ConfigError) as err:
        settings(cfg)
    message = str(err.value)
    assert message.startswith("cfg/train/x.yaml: `{}`".format(key))
    assert allowed in message


def test_valid_section_is_typed():
    s = settings({"use_wandb": True, "wandb": {"project": "tokenHSI", "tags": ["a"], "mode": "offline",
                                                "entity": None, "init_timeout": 5}})
    assert (s.mode, s.wandb.project, s.wandb.tags, s.wandb.init_timeout) == ("offline", "tokenHSI", ["a"], 5)


def test_sequences_and_mappings_of_any_kind_are_accepted_where_lists_and_dicts_are():
    """A config system's own containers (tuples, read-only mappings, OmegaConf's ListConfig and DictConfig) pass as
    lists and dicts, and are logged as plain ones."""
    from types import MappingProxyType

    from hsi_wandb.adapter import make_options

    section = MappingProxyType({"tags": ("ige", "cartpole"), "init_kwargs": MappingProxyType(
        {"settings": MappingProxyType({"console": "off"})})})
    s = settings({"use_wandb": True, "wandb": section})
    assert s.wandb.tags == ["ige", "cartpole"] and s.wandb.init_kwargs == {"settings": {"console": "off"}}
    omegaconf = pytest.importorskip("omegaconf")
    cfg = omegaconf.OmegaConf.create({"use_wandb": True, "wandb": {"tags": ["ige", "cartpole"], "mode": "offline"},
                                      "params": {"config": {"lr": "5e-4", "units": [32, 32]}}})
    options = make_options(cfg, "cfg/train/x.yaml")
    assert options.settings.wandb.tags == ["ige", "cartpole"]
    assert options.config["params"] == {"config": {"lr": 5e-4, "units": [32, 32]}}
    assert type(options.config["params"]["config"]["units"]) is list


@pytest.mark.parametrize("use,file_mode,env_mode,expected", [
    (True, "online", None, "online"),
    (True, "online", "offline", "offline"),
    (True, "offline", "online", "online"),
    (True, "online", "disabled", "disabled"),
    (True, "offline", "dryrun", "offline"),
    (False, "online", "offline", "disabled"),
    ("auto", "online", None, "disabled"),
    ("auto", "offline", "offline", "offline"),
])
def test_wandb_mode_precedence(use, file_mode, env_mode, expected):
    environ = {"WANDB_MODE": env_mode} if env_mode else {}
    assert settings({"use_wandb": use, "wandb": {"mode": file_mode}}, environ).mode == expected


def test_auto_turns_on_with_a_key_in_env_or_dotenv(tmp_path):
    assert settings({"use_wandb": "auto"}, {"WANDB_API_KEY": "k" * 40}).mode == "online"
    (tmp_path / ".env").write_text("WANDB_API_KEY=" + "k" * 40 + "\n")
    from_dotenv = settings({"wandb": {"mode": "offline"}})
    assert from_dotenv.mode == "offline" and from_dotenv.api_key == "k" * 40
    assert "k" * 40 not in repr(from_dotenv)


@pytest.mark.parametrize("environ,cli,expected", [
    ({}, {}, ("file", "filegroup", ["f"], "offline")),
    ({"WANDB_PROJECT": "env", "WANDB_TAGS": "a, b", "WANDB_MODE": "disabled"}, {},
     ("env", "filegroup", ["a", "b"], "disabled")),
    ({"WANDB_PROJECT": "env", "WANDB_RUN_GROUP": "eg"}, {"project": "cli", "tags": ["x"], "mode": "online"},
     ("cli", "eg", ["x"], "online")),
    ({"WANDB_MODE": "offline"}, {"use_wandb": False}, ("file", "filegroup", ["f"], "disabled")),
])
def test_precedence_command_line_then_environment_then_file(environ, cli, expected):
    cfg = {"use_wandb": True, "wandb": {"project": "file", "group": "filegroup", "tags": ["f"], "mode": "offline"}}
    s = resolve_settings(cfg, "x.yaml", environ=environ, overrides=cli)
    assert (s.wandb.project, s.wandb.group, s.wandb.tags, s.mode) == expected


def test_bad_command_line_value_names_the_command_line():
    with pytest.raises(ConfigError, match="command line: `wandb.mode` is 'sometimes'"):
        resolve_settings({"use_wandb": True}, "x.yaml", environ={}, overrides={"mode": "sometimes"})


@pytest.mark.parametrize("value,expected", [("OFFLINE", "offline"), (" Disabled ", "disabled"), ("DryRun", "dryrun")])
def test_wandb_mode_variable_is_normalised_for_wandb_too(tmp_path, monkeypatch, capfd, value, expected):
    monkeypatch.setenv("WANDB_MODE", value)
    s = resolve_settings({"use_wandb": True}, "x.yaml")
    assert os.environ["WANDB_MODE"] == expected and s.mode == {"dryrun": "offline"}.get(expected, expected)
    run = start_run(s, str(tmp_path / "exp"), {})
    run.finish(0)
    assert run.mode == s.mode if s.enabled else isinstance(run, NullRun)
    assert "WANDB_MODE" not in capfd.readouterr().err, "W&B takes the variable without a warning"


def test_an_empty_wandb_mode_variable_counts_as_unset(monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "")
    s = resolve_settings({"use_wandb": True, "wandb": {"mode": "disabled"}}, "x.yaml", overrides={"mode": "offline"})
    assert s.mode == "offline" and "WANDB_MODE" not in os.environ


def test_bad_wandb_mode_environment_variable():
    with pytest.raises(ConfigError, match="WANDB_MODE.*online, offline, disabled"):
        settings({"use_wandb": True}, {"WANDB_MODE": "sometimes"})


@given(st.dictionaries(st.text(max_size=12), st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8),
                                                      st.lists(st.text(max_size=4), max_size=3)), max_size=5))
def test_any_section_is_accepted_or_rejected_clearly(section):
    try:
        s = settings({"use_wandb": True, "wandb": section})
    except ConfigError as err:
        assert str(err).startswith("cfg/train/x.yaml: `wandb.")
        assert err.key[len("wandb."):] in section or err.key in ("wandb.mode", "wandb.checkpoints"), err.key
        return
    for key, value in section.items():
        assert getattr(s.wandb, key) == value, "an accepted key keeps its value"


@pytest.mark.slow
@pytest.mark.parametrize("server_down", [False, True], ids=["no-credentials", "closed-port"])
def test_online_without_credentials_or_server_falls_back_to_offline(tmp_path, monkeypatch, capfd, server_down,
                                                                    closed_port_url):
    monkeypatch.delenv("WANDB_MODE")
    if server_down:
        monkeypatch.setenv("WANDB_API_KEY", "k" * 40)
        monkeypatch.setenv("WANDB_BASE_URL", closed_port_url)
    s = resolve_settings({"use_wandb": True, "wandb": {"mode": "online"}}, "x.yaml")
    assert s.mode == "online"
    run = start_run(s, str(tmp_path / "exp"), {"a": 1})
    try:
        assert isinstance(run, WandbRun) and run.mode == "offline"
        assert not [d for d in os.listdir(tmp_path / "exp" / "wandb") if d.startswith("run-")], "never started online"
        err = capfd.readouterr().err
        assert err.count("logging offline instead") == 1
        assert str(tmp_path / "exp") in run.sync_dir
    finally:
        run.finish(0)


def test_non_zero_rank_never_starts_a_run(tmp_path, monkeypatch):
    monkeypatch.setenv("RANK", "1")
    run = start_run(settings({"use_wandb": True, "wandb": {"mode": "offline"}}), str(tmp_path), {})
    assert isinstance(run, NullRun)
    assert not (tmp_path / "wandb").exists()


@pytest.mark.slow
def test_a_row_never_waits_for_wandb_and_finish_sends_every_row_in_order(tmp_path):
    """W&B's ``run.log`` held up (as by a busy client or a service that stops reading) does not hold up training."""
    run = start_run(settings({"use_wandb": True, "wandb": {"mode": "offline"}}), str(tmp_path / "exp"), {})
    release, taken = threading.Event(), []
    live = wandb.run  # the run start_run started, through W&B's public handle
    log = live.log

    def held_up_log(*args, **kwargs):
        taken.append(release.is_set())
        release.wait(5)
        return log(*args, **kwargs)

    live.log = held_up_log
    for epoch in range(1, 51):
        run.log_row({"frame": 100 * epoch, "epoch": epoch, "losses/a_loss": epoch / 7})
    assert len(taken) <= 1, "every row was handed over while W&B held the first: queued, not sent by the trainer"
    release.set()
    run.finish(0)
    rows = OfflineRun(run.sync_dir).history
    assert [(r["frame"], r["epoch"], r["losses/a_loss"]) for r in rows] == [
        (100 * e, e, e / 7) for e in range(1, 51)]
    assert OfflineRun(run.sync_dir).exit_code == 0


@pytest.mark.parametrize("init_kwargs, key, words", [
    ({"id": "abc"}, "wandb.init_kwargs.id", "is set by hsi_wandb"),
    ({"resume": "must"}, "wandb.init_kwargs.resume", "is set by .*; not allowed here: project, entity"),
    ({"no_such_argument": 1}, "wandb.init_kwargs.no_such_argument", "is not an argument of wandb.init; allowed:"),
    ({"settings": "fast"}, "wandb.init_kwargs.settings", "must be a mapping"),
    ({"settings": {"consol": "off"}}, "wandb.init_kwargs.settings.consol", "is not a wandb.Settings field"),
    ({"settings": {"console": 5}}, "wandb.init_kwargs.settings.console", "is 5: Input should be 'auto'"),
    ({"settings": {"init_timeout": "soon"}}, "wandb.init_kwargs.settings.init_timeout", "is 'soon': Input should be"),
])
def test_init_kwargs_refuse_owned_and_unknown_keys(init_kwargs, key, words):
    with pytest.raises(ConfigError, match="^train.yaml: `{}` {}".format(key.replace(".", r"\."), words)):
        resolve_settings({"use_wandb": True, "wandb": {"init_kwargs": init_kwargs}}, "train.yaml")


@pytest.mark.slow
def test_init_kwargs_reach_wandb_init(tmp_path):
    cfg = {"use_wandb": True, "wandb": {"mode": "offline", "init_kwargs": {
        "config_exclude_keys": ["secret"], "settings": {"init_timeout": 20}}}}
    run = start_run(settings(cfg), str(tmp_path / "exp"), {"secret": 1, "kept": 2})
    assert wandb.run.settings.init_timeout == 20
    run.finish(0)
    config = OfflineRun(run.sync_dir).config
    assert config["kept"] == 2 and "secret" not in config


@pytest.mark.slow
def test_an_earlier_sync_tensorboard_run_does_not_cost_a_later_run_its_steps(tmp_path, capfd):
    import wandb

    wandb.init(project="mine", dir=str(tmp_path), mode="offline", sync_tensorboard=True).finish()
    assert wandb.patched["tensorboard"], "W&B leaves its TensorBoard patch in place after the run"
    cfg = {"use_wandb": True, "wandb": {"mode": "offline"}}
    run = start_run(settings(cfg), str(tmp_path / "exp"), {}, previous={"run_id": "resumed1", "last_step": 4})
    for frame in (0, 10):
        run.log_row({"frame": frame, "epoch": 1})
    run.finish(0)
    assert [h["step"]["num"] for h in OfflineRun(run.sync_dir).of_type("history")] == [5, 6]
    assert not wandb.patched["tensorboard"]
    assert "removed W&B's TensorBoard patch" in capfd.readouterr().err
