"""Checkpoints overwritten at one path: each logged artifact holds exactly the bytes of its own save.

rl_games and ASE-style agents save every checkpoint to the same file; the artifact of an earlier save is logged
on a background thread, possibly after the file was written again. Read back with ``wandb leet inspect --json``.
"""
import base64
import hashlib
import json
import os

import pytest

from hsi_wandb import CheckpointLogger, resolve_settings, start_run
from hsi_wandb.artifacts import unshare
from hsi_wandb.builtin import registry
from hsi_wandb.builtin.amp_agent import AMPAgent
from hsi_wandb.adapter import apply_to_runner
from conftest import builtin_rl_config
from offline_run import OfflineRun, offline_runs

pytestmark = pytest.mark.slow
WANDB_CFG = {"use_wandb": True, "wandb": {"project": "hsi-wandb-tests", "mode": "offline"}}


def md5(path):
    """Hex MD5 of a file's bytes."""
    with open(path, "rb") as f:
        return hashlib.md5(f.read()).hexdigest()


def logged_files(run_dir):
    """(file name, epoch) -> (manifest digest as hex, MD5 of the run's copy) for every artifact of the run."""
    logged = {}
    for artifact in OfflineRun(run_dir).artifacts:
        meta = json.loads(artifact["metadata"])
        (entry,) = artifact["manifest"]["contents"]
        key = (meta["file"], meta["epoch"])
        assert key not in logged, "logged twice: {}".format(key)
        logged[key] = (base64.b64decode(entry["digest"]).hex(), md5(entry["local_path"]))
    return logged


class RecordingAMPAgent(AMPAgent):
    """The built-in ASE-style AMP agent, noting the MD5 of each checkpoint right after rl_games wrote it."""

    saved = []

    def save(self, fn):
        """Save as the agent does, then record (file name, epoch, MD5 of the bytes written)."""
        super().save(fn)
        path = fn + ".pth"
        RecordingAMPAgent.saved.append((os.path.basename(path), self.epoch_num, md5(path)))


def test_ase_agent_saving_to_one_path_logs_the_bytes_of_every_save(tmp_path):
    RecordingAMPAgent.saved = []
    config = builtin_rl_config(tmp_path / "runs", epochs=4, num_envs=64)
    config["params"]["config"].update(save_frequency=1, save_intermediate=False)
    runner = registry.build_runner()
    runner.algo_factory.register_builder("amp", lambda **kwargs: RecordingAMPAgent(**kwargs))
    apply_to_runner(runner, dict(WANDB_CFG, params=config["params"]), source="amp.yaml", task="PointMassTraj")
    runner.load(config)
    runner.run({"train": True, "play": False, "checkpoint": None})

    saved = RecordingAMPAgent.saved
    assert [(name, epoch) for name, epoch, _ in saved] == [("PointMassTraj.pth", e) for e in (1, 2, 3, 4)]
    assert len({digest for _, _, digest in saved}) == len(saved), "every save writes different bytes"
    (run_dir,) = offline_runs(tmp_path / "runs")
    logged = logged_files(run_dir)
    assert sorted(logged) == sorted((name, epoch) for name, epoch, _ in saved)
    for name, epoch, digest in saved:
        assert logged[(name, epoch)] == (digest, digest), "epoch {}".format(epoch)


def test_checkpoint_logger_keeps_each_save_when_the_file_is_rewritten_in_place(tmp_path):
    run = start_run(resolve_settings(WANDB_CFG, "test.yaml"), str(tmp_path / "exp"), {})
    checkpoints = CheckpointLogger(run, "files")
    path = str(tmp_path / "exp" / "nn" / "agent.pth")
    os.makedirs(os.path.dirname(path))
    saved = {}
    for epoch in range(1, 7):
        unshare(path)
        with open(path, "wb") as f:  # truncates and rewrites the same file, as torch.save does
            f.write(bytes([epoch]) * (4 << 20))
        saved[("agent.pth", epoch)] = md5(path)
        checkpoints.add(path, {"epoch": epoch, "frame": 100 * epoch})
    checkpoints.close(final=True)
    run.finish(0)

    logged = logged_files(run.sync_dir)
    assert sorted(logged) == sorted(saved)
    for key, digest in saved.items():
        assert logged[key] == (digest, digest), key
    assert md5(path) == saved[("agent.pth", 6)], "the agent's own file keeps the last save"


def test_a_direct_caller_s_bad_metadata_costs_that_checkpoint_only(tmp_path, recwarn):
    """``CheckpointLogger`` is the core's for any trainer: a bad reason or a missing epoch is one warning naming the
    file and the key, never an exception into the trainer's save; the good checkpoints around it are logged."""
    run = start_run(resolve_settings(WANDB_CFG, "test.yaml"), str(tmp_path / "exp"), {})
    checkpoints = CheckpointLogger(run, "files")
    os.makedirs(tmp_path / "exp" / "nn")
    bad = [{"epoch": 2, "frame": 200, "reason": "bogus"}, {"frame": 300}, {"epoch": "4", "frame": 400}]
    for epoch, metadata in enumerate([{"epoch": 1, "frame": 100}] + bad + [{"epoch": 5, "frame": 500}], 1):
        path = str(tmp_path / "exp" / "nn" / "agent_{}.pth".format(epoch))
        with open(path, "wb") as f:
            f.write(bytes([epoch]) * 1024)
        checkpoints.add(path, metadata)
    checkpoints.close(final=True)
    run.finish(0)
    warned = [str(w.message) for w in recwarn if str(w.message).startswith("hsi_wandb:")]
    assert [w.split(": its metadata ")[1].split(";")[0] for w in warned] == [
        "has reason 'bogus'; allowed: interrupt, final, best, save_frequency, save".split(";")[0],
        "lacks a whole-number 'epoch' (got None)", "lacks a whole-number 'epoch' (got '4')"]
    assert all("agent_{}.pth is not logged".format(n) in w for n, w in zip((2, 3, 4), warned))
    logged = OfflineRun(run.sync_dir).artifacts
    assert [json.loads(a["metadata"])["epoch"] for a in logged] == [1, 5]
    assert "final" in logged[-1]["aliases"]
