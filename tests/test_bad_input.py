"""Generated bad input: config data and YAML text give typed settings or a clear error; odd tags a faithful mirror."""
import math

import numpy as np
import pytest
import torch
import yaml
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from hsi_wandb import ConfigError, WandbWriter, resolve_settings, start_run
from hsi_wandb.config import CHECKPOINT_POLICIES, MAX_INIT_TIMEOUT, MODES, WandbConfig
from hsi_wandb.adapter.tags import map_tag
from hsi_wandb.adapter import tags as rl_games_tags
from hsi_wandb.writer import safe_key
import run
from conftest import RecordingWriter, one_epoch_row, run_child
from offline_run import OfflineRun

SOURCE = "cfg/train/x.yaml"
WANDB_KEYS = sorted(WandbConfig.__dataclass_fields__)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=12),
                    st.sampled_from(MODES + CHECKPOINT_POLICIES + ("auto", "True", "AUTO", "")))
KEYS = st.one_of(st.sampled_from(WANDB_KEYS), st.text(max_size=10), st.integers(), st.booleans(), st.none())
YAML_LIKE = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                          st.dictionaries(KEYS, inner, max_size=3)), max_leaves=10)
TRAIN_CFG = st.one_of(
    YAML_LIKE,
    st.fixed_dictionaries({}, optional={"use_wandb": YAML_LIKE, "wandb": st.one_of(
        YAML_LIKE, st.dictionaries(KEYS, YAML_LIKE, max_size=5)), "params": YAML_LIKE}))
ENVIRON = st.dictionaries(st.sampled_from(["WANDB_MODE", "WANDB_PROJECT", "WANDB_TAGS", "WANDB_NAME"]),
                          st.one_of(st.text(max_size=12), st.sampled_from(MODES + ("dryrun", "run", "OFFLINE"))))


def assert_clear(err, source):
    """A ConfigError naming the source and a key of the training config (or WANDB_MODE)."""
    assert str(err).startswith("{}: `{}`".format(err.source, err.key))
    assert err.source in (source, "environment", "command line")
    assert err.key in ("<top level>", "use_wandb", "wandb", "WANDB_MODE") or err.key.startswith("wandb.")


@given(TRAIN_CFG, ENVIRON)
def test_any_config_data_gives_typed_settings_or_a_clear_error(cfg, environ):
    try:
        s = resolve_settings(cfg, SOURCE, environ=environ)
    except ConfigError as err:
        assert_clear(err, SOURCE)
        return
    assert s.mode in MODES and s.wandb.checkpoints in CHECKPOINT_POLICIES
    assert isinstance(s.wandb.project, str) and all(isinstance(t, str) for t in s.wandb.tags)
    assert 0 < s.wandb.init_timeout <= MAX_INIT_TIMEOUT


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 10 ** 400], ids=["nan", "inf", "huge"])
def test_non_finite_or_huge_init_timeout_is_rejected(value):
    with pytest.raises(ConfigError, match="init_timeout"):
        resolve_settings({"use_wandb": True, "wandb": {"init_timeout": value}}, SOURCE, environ={})


YAML_PIECES = st.sampled_from(["use_wandb: ", "wandb:", "\n  mode: ", "\n  tags: ", "params:", " config:", "[", "]",
                               "{", "}", ": ", "- ", "\n", "  ", "\t", "'", '"', "&a ", "*a", "!!binary ", "? ",
                               "!!python/object:os.system ", "%YAML 1.1\n", "---\n", "...\n", "|\n", ">\n", "#",
                               ".nan", ".inf", "~", "0x1F", "1e400", "ü🙂", "\x00", "\ufeff"])
YAML_TEXT = st.one_of(st.text(), st.lists(st.one_of(YAML_PIECES, st.text(max_size=5)), max_size=25).map("".join))


def cli_args(tmp_path, train_text, overrides=()):
    """run.py's parsed arguments for a --cfg_train holding ``train_text`` and a valid --cfg_env."""
    (tmp_path / "env.yaml").write_text("env: {numEnvs: 4, episodeLength: 10}\nsim: {dt: 0.03}\n")
    (tmp_path / "train.yaml").write_text(train_text, encoding="utf-8")
    return run.parse_args(["--cfg_env", str(tmp_path / "env.yaml"), "--cfg_train", str(tmp_path / "train.yaml")]
                          + list(overrides))


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(YAML_TEXT)
def test_any_yaml_text_loads_as_a_mapping_or_fails_naming_the_file(tmp_path, text):
    path = tmp_path / "train.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        data = run.read_yaml(str(path), "--cfg_train")
    except run.UsageError as err:
        assert str(err).startswith("--cfg_train {}: ".format(path))
        return
    assert isinstance(data, dict)


OVERRIDES = st.lists(st.one_of(
    st.builds("{}={}".format, st.sampled_from(["wandb." + k for k in WANDB_KEYS] + [
        "use_wandb", "wandb", "params.config.max_epochs", "params", "a..b", "", "params.config.x.y"]),
              st.one_of(YAML_PIECES, st.text(max_size=8))),
    st.text(max_size=10)), max_size=2)


TRAINABLE = {"algo": {"name": "amp"}, "model": {"name": "amp"}, "network": {"name": "amp"},
             "config": {"name": "x", "horizon_length": 4, "minibatch_size": 16}}
TRAINABLE_CFG = st.fixed_dictionaries({"params": st.just(TRAINABLE)}, optional={
    "use_wandb": st.one_of(st.sampled_from([True, False, "auto"]), YAML_LIKE),
    "wandb": st.dictionaries(st.sampled_from(WANDB_KEYS), SCALARS, max_size=5)})


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(TRAIN_CFG, TRAINABLE_CFG), st.one_of(st.just([]), OVERRIDES))
def test_any_training_yaml_and_overrides_pass_load_configs_or_stop_with_one_clear_error(tmp_path, cfg, overrides):
    args = cli_args(tmp_path, yaml.safe_dump(cfg, allow_unicode=True), ["--"] + overrides)
    try:
        _, cfg_train, s = run.load_configs(args)
    except run.UsageError as err:
        message = str(err)
        assert message.startswith(("--cfg_train {}".format(args.cfg_train), "{}: `".format(args.cfg_train),
                                   "override ", "command line: `", "environment: `")), message
        return
    assert isinstance(cfg_train["params"]["config"], dict) and s.mode in MODES


@pytest.mark.parametrize("content,read", [(b"use_wandb: \xff\xfe True\n", None),
                                          ("use_wandb: True\n".encode("utf-16"), {"use_wandb": True}),
                                          (b"params: " + b"[" * 5000, None)],
                         ids=["not-utf8", "utf16-bom", "deep-nesting"])
def test_undecodable_or_deeply_nested_yaml_fails_naming_the_file(tmp_path, content, read):
    """A UTF-16 file with its BOM is read as it is; the others stop with one error naming the flag and file."""
    path = tmp_path / "train.yaml"
    path.write_bytes(content)
    if read is not None:
        assert run.read_yaml(str(path), "--cfg_train") == read
        return
    with pytest.raises(run.UsageError) as err:
        run.read_yaml(str(path), "--cfg_train")
    assert str(err.value).startswith("--cfg_train {}: ".format(path)) and "\n" not in str(err.value)


ODD_TAGS = ["ü/中文/🙂", "x" * 10000, "a//b", "/", "//", "a/", "/a", " ", "a b", "a\x00b", "a\nb", "a.b", "$x",
            "\u202eRTL", "rewards0/frame", "rewards7/iter", "rewards/über/time", "eval/😀/success_rate", "a/b/c/d/e"]
TAGS = st.one_of(st.sampled_from(ODD_TAGS), st.text(min_size=1, max_size=300))
LINE_BREAKS = "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
"""Characters str.splitlines() breaks on: OfflineRun splits leet's output with it, so they cannot be read back."""
RUN_TAGS = st.one_of(st.sampled_from(ODD_TAGS), st.text(st.characters(exclude_categories=("Cs",),
                                                                      exclude_characters=LINE_BREAKS),
                                                        min_size=1, max_size=300)).filter(lambda t: t != "\\")
VALUES = st.one_of(st.floats(), st.integers(-10 ** 6, 10 ** 6), st.floats(width=32).map(np.float32),
                   st.floats(allow_nan=False).map(torch.tensor))


def same(a, b):
    """Equal as floats (W&B's reader prints integral floats as integers), NaN included."""
    a, b = float(a), float(b)
    return a == b or (math.isnan(a) and math.isnan(b))


def assert_faithful(row, writes):
    """The last value written under each tag is in the row, under its W&B key or its own tag (made W&B-safe)."""
    for tag, value in dict(writes).items():
        value = float(value)
        keys = [safe_key(k) for k in (map_tag(tag).key, tag)]
        assert any(k in row and same(row[k], value) for k in keys), (tag, value, row)


def no_tag_is_another_tags_key(writes):
    """No written tag is the W&B key of another (the collision test below covers that case)."""
    tags = [tag for tag, _ in writes]
    return not any(map_tag(f).key == t for f in tags for t in tags if f != t)


@pytest.mark.filterwarnings("ignore:hsi_wandb")
@given(st.lists(st.tuples(TAGS, VALUES), min_size=1, max_size=12).filter(no_tag_is_another_tags_key))
def test_any_tags_and_values_reach_the_row_faithfully(writes):
    assert_faithful(one_epoch_row(writes, 4096), writes)


@pytest.mark.parametrize("first,second", [("rewards0/frame", "rewards/mean"), ("successes/frame", "successes")])
def test_a_tag_equal_to_another_tags_key_keeps_both_values(first, second):
    writes = [(first, 1.0), (second, 2.0)]
    assert_faithful(one_epoch_row(writes, 4096), writes)


@pytest.mark.slow
def test_odd_tags_reach_an_offline_run_unchanged(tmp_path):
    wandb_run = start_run(resolve_settings({"use_wandb": True, "wandb": {"mode": "offline"}}, SOURCE),
                          str(tmp_path / "exp"), {})
    writer = WandbWriter(RecordingWriter(), wandb_run, tags=rl_games_tags)
    sent = []

    @settings(max_examples=60, deadline=None, database=None)
    @given(st.lists(st.tuples(RUN_TAGS, st.floats(allow_nan=False, allow_infinity=False)), min_size=1,
                    max_size=6).filter(no_tag_is_another_tags_key))
    def one_epoch(writes):
        assume(not any(t.startswith("_") or t in ("frame", "epoch", "wall_time") for t, _ in writes))
        writer.begin_epoch(len(sent) + 1)
        for tag, value in writes:
            writer.add_scalar(tag, value, 10 * (len(sent) + 1))
        sent.append(writes)

    one_epoch()
    writer.close()
    wandb_run.finish(0)
    rows = OfflineRun(wandb_run.sync_dir).history
    assert [r["epoch"] for r in rows] == list(range(1, len(sent) + 1))
    for row, writes in zip(rows, sent):
        assert_faithful(row, writes)


@pytest.mark.slow
def test_tags_named_like_row_or_wandb_keys_are_kept_apart(tmp_path):
    reserved = ["", "frame", "epoch", "wall_time", "_step", "_runtime", "_timestamp"]
    wandb_run = start_run(resolve_settings({"use_wandb": True, "wandb": {"mode": "offline"}}, SOURCE),
                          str(tmp_path / "exp"), {})
    writer = WandbWriter(RecordingWriter(), wandb_run, tags=rl_games_tags)
    for epoch, tag in enumerate(reserved, 1):
        writer.begin_epoch(epoch)
        writer.add_scalar(tag, 1000.5 + epoch, 10 * epoch)
    writer.close()
    wandb_run.finish(0)
    rows = OfflineRun(wandb_run.sync_dir).history
    lost = [tag for (epoch, tag), row in zip(enumerate(reserved, 1), rows)
            if row["frame"] != 10 * epoch or row["epoch"] != epoch or 1000.5 + epoch not in row.values()]
    assert not lost


BACKSLASH_SCRIPT = """
import sys
sys.path[:0] = {paths!r}
from hsi_wandb import WandbWriter, resolve_settings, start_run
from hsi_wandb.adapter import tags as rl_games_tags
from conftest import RecordingWriter

wandb_run = start_run(resolve_settings({{"use_wandb": True, "wandb": {{"mode": "offline"}}}}), "exp", {{}})
writer = WandbWriter(RecordingWriter(), wandb_run, tags=rl_games_tags)
for epoch in range(1, 4):
    writer.begin_epoch(epoch)
    writer.add_scalar("losses/a_loss", 0.5 * epoch, 10 * epoch)
    if epoch == 2:
        writer.add_scalar("\\\\", 7.5, 10 * epoch)
writer.close()
wandb_run.finish(0)
print(wandb_run.sync_dir)
"""


@pytest.mark.slow
def test_a_backslash_tag_does_not_kill_the_wandb_service(monkeypatch):
    proc = run_child(BACKSLASH_SCRIPT, monkeypatch)
    assert proc.returncode == 0, proc.stderr[-2000:]
    wandb_run = OfflineRun(proc.stdout.splitlines()[-1])
    assert [r["epoch"] for r in wandb_run.history] == [1, 2, 3] and wandb_run.exit_code == 0
    assert 7.5 in wandb_run.history[1].values()
