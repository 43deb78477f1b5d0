"""A real rl_games PPO agent trained for a few epochs with the mirror, read back with W&B's and TensorBoard's readers."""
import gc
import glob
import hashlib
import os
import subprocess
import sys
import textwrap

import pytest
import torch
from rl_games.algos_torch import a2c_continuous, players
from rl_games.torch_runner import Runner

import tiny_env
from hsi_wandb import ConfigError
from hsi_wandb.adapter import WandbMixin, apply_to_runner, configure
from hsi_wandb.evaluation import load_checkpoint
from conftest import assert_mirrored, tensorboard_scalars
from tiny_env import train
from offline_run import OfflineRun, offline_runs

DESIGN_KEYS = ["performance/step_fps", "losses/a_loss", "losses/c_loss", "losses/entropy", "losses/bounds_loss",
               "info/epochs", "info/last_lr", "info/lr_mul", "info/kl", "info/e_clip", "rewards/mean",
               "episode_lengths/mean"]
ASE_KEYS = ["performance/total_fps", "performance/update_time", "performance/play_time", "losses/disc_loss",
            "info/clip_frac", "info/disc_agent_acc", "info/disc_demo_acc", "info/disc_agent_logit",
            "info/disc_demo_logit", "info/disc_grad_penalty", "info/disc_logit_loss", "info/disc_reward_mean",
            "info/disc_reward_std", "rewards/1"]


@pytest.fixture
def trained(tiny_run):
    """The tiny env's shared offline training run (conftest's ``tiny_run``)."""
    return tiny_run.root, tiny_run.exp_dir, tiny_run.run


@pytest.mark.slow
def test_the_agent_gets_the_yaml_value_unchanged(tiny_run):
    assert tiny_run.cfg["params"]["config"]["learning_rate"] == "3e-4"


@pytest.mark.slow
def test_run_ends_with_exit_code_zero_and_logs_the_config(trained):
    _, _, run = trained
    assert run.exit_code == 0
    assert run.config["params"]["config"]["learning_rate"] == 3e-4, "PyYAML's '3e-4' is logged as a number"
    assert run.config["wandb"]["project"] == "hsi-wandb-tests"


@pytest.mark.slow
def test_every_tensorboard_scalar_is_on_wandb(trained):
    _, exp_dir, run = trained
    rows = run.history
    assert_mirrored(tensorboard_scalars(exp_dir), rows)
    for key in DESIGN_KEYS + ["frame", "epoch", "wall_time"]:
        assert any(key in r for r in rows), key
    frames = [r["frame"] for r in rows]
    assert frames == sorted(frames) and len(set(frames)) == len(frames)
    assert [r["epoch"] for r in rows] == list(range(1, len(rows) + 1))


@pytest.mark.slow
def test_frame_is_the_declared_x_axis(trained):
    _, _, run = trained
    metrics = run.of_type("metric")
    assert {"name": "frame", "options": {"defined": True}} in metrics
    assert any(m.get("glob_name") == "*" and m.get("step_metric") == "frame" for m in metrics)


@pytest.mark.slow
def test_checkpoints_are_self_contained_model_artifacts(trained):
    tmp_path, exp_dir, run = trained
    arts = run.artifacts
    assert len(arts) >= 2
    for art in arts:
        assert art["type"] == "model"
        meta = __import__("json").loads(art["metadata"])
        assert {"epoch", "frame", "reason", "size_bytes"} <= set(meta)
        assert "latest" in art["aliases"] and "epoch-{}".format(meta["epoch"]) in art["aliases"]
        for entry in art["manifest"]["contents"]:
            local = os.path.realpath(tmp_path / entry["local_path"])
            assert local.startswith(os.path.realpath(exp_dir) + os.sep)
            digest = hashlib.md5(open(local, "rb").read()).digest()
            assert __import__("base64").b64encode(digest).decode() == entry["digest"]
            state = load_checkpoint(local)
            assert (state["epoch"], state["frame"]) == (meta["epoch"], meta["frame"])
    assert "final" in arts[-1]["aliases"] and all("final" not in a["aliases"] for a in arts[:-1])


@pytest.mark.slow
def test_one_version_per_save_point_with_unique_meaningful_aliases(trained):
    """rl-games 1.1.4 and 1.6.x: best saves (``<name>.pth``) and save_frequency saves (``last_...``) of one epoch
    are one version; ``final`` is on the file a user loads to continue, with the bytes rl_games wrote last."""
    _, exp_dir, run = trained
    versions = [(__import__("json").loads(a["metadata"]), a) for a in run.artifacts]
    epochs = [meta["epoch"] for meta, _ in versions]
    assert epochs == sorted(set(epochs)) and len(epochs) >= 3
    for meta, artifact in versions:
        assert meta["file"] in meta["files"] and set(meta["files"]) <= set(os.listdir(str(exp_dir / "nn")))
        assert "epoch-{}".format(meta["epoch"]) in artifact["aliases"]
        assert ("best" in artifact["aliases"]) >= (meta["reason"] == "best")
        assert meta["reason"] in ("best", "final") or "best" not in artifact["aliases"]
    assert any(meta["reason"] == "best" for meta, _ in versions)
    final_meta, final = versions[-1]
    assert final_meta["reason"] == "final" and final_meta["file"] == "point.pth" and "final" in final["aliases"]
    (entry,) = final["manifest"]["contents"]
    digest = hashlib.md5(open(str(exp_dir / "nn" / "point.pth"), "rb").read()).digest()
    assert __import__("base64").b64encode(digest).decode() == entry["digest"]


def flush_summary_writers():
    """Flush every SummaryWriter still open in this process. rl_games never closes its writer, and tensorboardX
    writes a file's tail only on its 120 s timer or a flush (the mirror flushes at the end of training): without
    this, a plain run's last epoch may or may not be on disk yet, as the machine's load decides."""
    for obj in gc.get_objects():
        if type(obj).__name__ == "SummaryWriter" and callable(getattr(obj, "flush", None)):
            obj.flush()


@pytest.mark.slow
def test_tensorboard_output_is_unchanged_by_the_mirror(tmp_path, monkeypatch, trained):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    plain_dir = train(tmp_path, save_best_after=2)
    flush_summary_writers()
    assert not (plain_dir / "wandb").exists()
    _, mirrored_dir, _ = trained
    plain, mirrored = tensorboard_scalars(plain_dir), tensorboard_scalars(mirrored_dir)
    assert plain.keys() == mirrored.keys()
    for tag in plain:
        assert [s for s, _ in plain[tag]] == [s for s, _ in mirrored[tag]] or tag.endswith("/time"), tag
        if not tag.startswith("performance/") and not tag.endswith("/time"):
            assert plain[tag] == mirrored[tag], tag


class AseStyleAgent(a2c_continuous.A2CAgent):
    """Writes the tags ASE/TokenHSI AMP agents write, from its own write_stats."""

    def write_stats(self, total_time, epoch_num, step_time, play_time, update_time, a_losses, c_losses, entropies,
                    kls, last_lr, lr_mul, frame, scaled_time, scaled_play_time, curr_frames, *rest):
        w = self.writer
        w.add_scalar("performance/total_fps", curr_frames / scaled_time, frame)
        w.add_scalar("performance/step_fps", curr_frames / scaled_play_time, frame)
        w.add_scalar("performance/update_time", update_time, frame)
        w.add_scalar("performance/play_time", play_time, frame)
        w.add_scalar("losses/a_loss", torch.stack(a_losses).mean().item(), frame)
        w.add_scalar("losses/c_loss", torch.stack(c_losses).mean().item(), frame)
        w.add_scalar("losses/disc_loss", 0.25, frame)
        w.add_scalar("info/clip_frac", 0.1, frame)
        w.add_scalar("info/epochs", epoch_num, frame)
        for name in ("agent_acc", "demo_acc", "agent_logit", "demo_logit", "grad_penalty", "logit_loss",
                     "reward_mean", "reward_std"):
            w.add_scalar("info/disc_" + name, 0.5, frame)
        for i in range(2):
            w.add_scalar("rewards{}/frame".format(i), float(i + epoch_num), frame)
            w.add_scalar("rewards{}/iter".format(i), float(i + epoch_num), epoch_num)
            w.add_scalar("rewards{}/time".format(i), float(i + epoch_num), total_time)
        w.add_scalar("episode_lengths/frame", 30.0, frame)
        w.add_scalar("episode_lengths/iter", 30.0, epoch_num)


class WandbAseAgent(WandbMixin, AseStyleAgent):
    """The mixin used by subclassing, as a user's own agent would."""


@pytest.mark.slow
def test_ase_style_tags_map_to_design_keys_with_the_subclass_mixin(tmp_path):
    cfg = tiny_env.train_config(tmp_path / "runs", max_epochs=3)
    configure(cfg, source="ase.yaml")
    tiny_env.register()
    runner = Runner()
    runner.algo_factory.register_builder("a2c_continuous", lambda **kw: WandbAseAgent(**kw))
    runner.load(cfg)
    runner.run({"train": True, "play": False, "checkpoint": None})
    exp_dir = tmp_path / "runs" / "point"
    (run_dir,) = offline_runs(exp_dir)
    rows = OfflineRun(run_dir).history
    for key in ASE_KEYS + ["rewards/mean", "episode_lengths/mean"]:
        assert all(key in r for r in rows), key
    assert all("rewards0/iter" not in r and "rewards1/time" not in r for r in rows)
    assert [r["rewards/1"] for r in rows] == [r["epoch"] + 1.0 for r in rows] and len(rows) >= 3
    assert_mirrored(tensorboard_scalars(exp_dir), rows)


@pytest.mark.slow
def test_training_error_finishes_the_run_with_nonzero_exit_and_propagates(tmp_path):
    tiny_env.register()
    cfg = tiny_env.train_config(tmp_path / "runs", max_epochs=50, save_best_after=1)
    calls = {"n": 0}
    original = a2c_continuous.A2CAgent.train_epoch

    def failing_train_epoch(self):
        calls["n"] += 1
        if calls["n"] == 4:
            raise RuntimeError("simulated CUDA error")
        return original(self)

    runner = Runner()
    runner.algo_factory.register_builder("a2c_continuous", lambda **kw: type(
        "Failing", (a2c_continuous.A2CAgent,), {"train_epoch": failing_train_epoch})(**kw))
    apply_to_runner(runner, cfg, source="tiny.yaml")
    runner.load(cfg)
    with pytest.raises(RuntimeError, match="simulated CUDA error"):
        runner.run({"train": True, "play": False, "checkpoint": None})
    (run_dir,) = offline_runs(tmp_path / "runs" / "point")
    run = OfflineRun(run_dir)
    assert run.exit_code == 1
    assert [r["epoch"] for r in run.history] == [1, 2, 3]
    assert run.artifacts and all("final" not in a["aliases"] for a in run.artifacts)


def test_bad_config_stops_before_training(tmp_path):
    cfg = tiny_env.train_config(tmp_path / "runs")
    cfg["wandb"]["mode"] = "sometimes"
    with pytest.raises(ConfigError, match="tiny.yaml: `wandb.mode`"):
        apply_to_runner(Runner(), cfg, source="tiny.yaml")
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_checkpoint_policy_none_and_metadata(tmp_path):
    for policy in ("none", "metadata", "last"):
        cfg = tiny_env.train_config(tmp_path / policy, max_epochs=3, save_best_after=1)
        cfg["wandb"]["checkpoints"] = policy
        train(tmp_path / policy, cfg)
        (run_dir,) = offline_runs(tmp_path / policy)
        arts = OfflineRun(run_dir).artifacts
        if policy == "none":
            assert arts == []
        elif policy == "last":
            *earlier, last = arts
            assert earlier and all(e["ref"].startswith("file://") for a in earlier for e in a["manifest"]["contents"])
            assert "ref" not in last["manifest"]["contents"][0] and "final" in last["aliases"]
            assert [os.path.basename(p) for p in glob.glob(os.path.join(run_dir, "checkpoints", "*"))] == [
                os.path.basename(last["manifest"]["contents"][0]["local_path"])]
        else:
            assert arts and all(e.get("ref", "").startswith("file://") for a in arts for e in a["manifest"]["contents"])
            assert not os.path.exists(os.path.join(run_dir, "checkpoints"))


@pytest.mark.slow
def test_without_wandb_installed_training_goes_on_with_one_warning(tmp_path):
    script = textwrap.dedent("""
        import sys, warnings
        sys.modules["wandb"] = None
        sys.path[:0] = {paths!r}
        import tiny_env
        from rl_games.torch_runner import Runner
        from hsi_wandb.adapter import apply_to_runner
        tiny_env.register()
        cfg = tiny_env.train_config({runs!r}, max_epochs=3)
        runner = Runner()
        apply_to_runner(runner, cfg, source="tiny.yaml")
        runner.load(cfg)
        runner.run({{"train": True, "play": False, "checkpoint": None}})
    """).format(paths=[os.path.dirname(__file__), os.path.dirname(os.path.dirname(__file__))],
                runs=str(tmp_path / "runs"))
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stderr.count("the `wandb` package is not installed") == 1
    assert tensorboard_scalars(tmp_path / "runs" / "point")["losses/a_loss"]


@pytest.mark.slow
def test_a_run_the_user_started_is_reused_and_left_open(tmp_path):
    import wandb

    user_run = wandb.init(project="mine", dir=str(tmp_path), mode="offline")
    try:
        exp_dir = train(tmp_path, max_epochs=2)
        assert wandb.run is user_run
        user_run.log({"after_training": 1.0})
    finally:
        user_run.finish()
    (run_dir,) = offline_runs(tmp_path)
    run = OfflineRun(run_dir)
    assert run.run_id == user_run.id and run.exit_code == 0
    assert run.config["params"]["config"]["name"] == "point"
    assert any("losses/a_loss" in r for r in run.history) and any("after_training" in r for r in run.history)
    assert (exp_dir / "summaries").is_dir()


@pytest.mark.slow
def test_a_user_run_with_sync_tensorboard_is_not_logged_twice(tmp_path):
    import wandb

    user_run = wandb.init(project="mine", dir=str(tmp_path), mode="offline", sync_tensorboard=True)
    try:
        train(tmp_path, max_epochs=2)
    finally:
        user_run.finish()
    (run_dir,) = offline_runs(tmp_path)
    run = OfflineRun(run_dir)
    rows = run.history
    assert not any("frame" in r and "epoch" in r and "wall_time" in r for r in rows)
    assert any("losses/a_loss" in r for r in rows), "W&B's TensorBoard patch logs the scalars itself"
    assert run.artifacts, "checkpoints are still logged"

    later = train(tmp_path / "later", max_epochs=2)
    (later_dir,) = offline_runs(later)
    assert [r["epoch"] for r in OfflineRun(later_dir).history if "losses/a_loss" in r][:2] == [1, 2], \
        "W&B leaves its TensorBoard patch in place after that run; our own later runs still mirror every scalar"


class ReturningPlayer(players.PpoPlayerContinuous):
    """A player whose evaluation returns its results instead of writing a file (the other way players report)."""

    results = None

    def restore(self, fn):
        """rl_games' restore loading the whole pickle (plain rl_games checkpoints hold numpy scalars); the input
        normaliser is outside the model on rl-games 1.1.4, inside it on 1.6."""
        checkpoint = load_checkpoint(fn)
        self.model.load_state_dict(checkpoint["model"])
        if "running_mean_std" in checkpoint:
            self.running_mean_std.load_state_dict(checkpoint["running_mean_std"])

    def run(self):
        if self.config.get("eval"):
            return self.run_eval()
        return super().run()

    def run_eval(self):
        obs = self.env_reset(self.env)
        self.get_batch_size(obs, 1)
        done_any = torch.zeros(self.env.num_envs, dtype=torch.bool)
        reached = torch.zeros(self.env.num_envs, dtype=torch.bool)
        for _ in range(40):
            obs, _, done, info = self.env_step(self.env, self.get_action(obs, True))
            reached |= info["success"] & ~done_any
            done_any |= done.bool()
        ReturningPlayer.results = {"exp0": {"num_trials": int(done_any.sum()), "success_trials": int(reached.sum()),
                                            "success_rate": float(reached.float().mean()), "note": "first episodes"}}
        return ReturningPlayer.results


@pytest.mark.slow
def test_a_player_that_returns_its_results_logs_them_to_the_training_group(trained, tmp_path):
    _, exp_dir, train_run = trained
    cfg = tiny_env.train_config(exp_dir.parent, device_name="cpu", eval=True)
    runner = Runner()
    runner.player_factory.register_builder("a2c_continuous", lambda **kw: ReturningPlayer(**kw))
    apply_to_runner(runner, cfg, source="tiny.yaml")
    runner.load(cfg)
    runner.run({"train": False, "play": True, "checkpoint": str(exp_dir / "nn" / "point.pth")})
    (evaluated,) = [OfflineRun(d) for d in offline_runs(exp_dir) if OfflineRun(d).run_id != train_run.run_id]
    assert evaluated.of_type("run")[0]["run_group"] == train_run.of_type("run")[0]["run_group"]
    (row,) = [r for r in evaluated.history if "eval/exp0/num_trials" in r]
    for key in ("num_trials", "success_trials", "success_rate"):
        assert row["eval/exp0/" + key] == pytest.approx(ReturningPlayer.results["exp0"][key])
    assert "eval/exp0/note" not in row


def test_the_public_names_resolve_from_the_adapter_and_from_the_import_path_users_run_py_files_have():
    """README, run.py and the benchmark import these from ``hsi_wandb.adapter``; users' ``run.py`` files written
    before it have ``hsi_wandb.rl_games_mixin``: the same objects."""
    from hsi_wandb import adapter, rl_games_mixin
    from hsi_wandb.adapter import mixin, options

    names = {"WandbMixin", "WandbOptions", "apply_to_runner", "attach", "configure", "make_options"}
    assert set(adapter.__all__) == set(rl_games_mixin.__all__) == names
    assert all(getattr(rl_games_mixin, name) is getattr(adapter, name) for name in names)
    assert adapter.configure is options.configure and mixin.default_options is options.default_options, \
        "configure sets the options WandbMixin reads"


PRELOAD_SCRIPT = """
import sys
sys.path[:0] = {paths!r}
from rl_games.torch_runner import Runner
from hsi_wandb.adapter import apply_to_runner

before = "wandb" in sys.modules
apply_to_runner(Runner(), {{"use_wandb": True, "wandb": {{"mode": "offline"}}}}, source="tiny.yaml")
print(before, sorted(name for name in ("wandb", "wandb.sdk.launch") if name in sys.modules))
"""


@pytest.mark.slow
@pytest.mark.parametrize("environ,loaded", [({}, "['wandb', 'wandb.sdk.launch']"),
                                            ({"WANDB_MODE": "disabled"}, "[]"),
                                            ({"RANK": "1", "WORLD_SIZE": "2"}, "[]")],
                         ids=["rank-0", "disabled", "rank-1"])
def test_apply_to_runner_loads_wandb_before_the_agent_is_built_where_a_run_will_start(monkeypatch, environ, loaded):
    """W&B is imported with what ``wandb.init`` imports first (before torch's compiler stack makes that dearer), on
    global rank 0 with W&B on; elsewhere it is never imported."""
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    here = os.path.dirname(os.path.abspath(__file__))
    proc = subprocess.run([sys.executable, "-c", PRELOAD_SCRIPT.format(paths=[here, os.path.dirname(here)])],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["False"] + loaded.split(), proc.stdout
