"""Offline runs in three segments, moved elsewhere and synced from anywhere: plan, file checks, exact steps, versions.

No W&B server is reachable here: the upload itself is proven up to the real ``wandb sync`` call, which runs from
the prepared working directory and fails cleanly against a closed port.
"""
import base64
import glob
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest

from hsi_wandb import sync
from hsi_wandb.evaluation import load_checkpoint
import run
from conftest import TINY, run_main, run_py, working_in
from offline_run import OfflineRun, offline_runs

pytestmark = pytest.mark.slow
SEGMENT_EPOCHS = (4, 6, 7)


def md5(path):
    """MD5 of a file's bytes, as W&B's manifest digest (base64)."""
    with open(path, "rb") as f:
        return base64.b64encode(hashlib.md5(f.read()).digest()).decode()


def contents(folder):
    """MD5 of every file in ``folder``, less W&B's links to its service's log (which is outside the folder, and goes
    on while the service serves later runs of this process)."""
    return {p: md5(p) for p in glob.glob(os.path.join(folder, "**"), recursive=True)
            if os.path.isfile(p) and not os.path.islink(p)}


def offline_env(tmp):
    """W&B offline, no credentials, W&B's own folders in ``tmp``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(WANDB_MODE="offline", WANDB_SILENT="true", NETRC=str(tmp / "no.netrc"),
               WANDB_CONFIG_DIR=str(tmp / "wandb-config"), WANDB_CACHE_DIR=str(tmp / "wandb-cache"),
               WANDB_DATA_DIR=str(tmp / "wandb-data"))
    return env


@pytest.fixture(scope="module")
def segments(tmp_path_factory):
    """Train to epoch 4 (a save point every 2 epochs, ASE's two files each) and resume to 6, in this process; then
    resume to 7 in a new one, whose last lines print the sync command."""
    tmp = tmp_path_factory.mktemp("segments")
    saved = {}
    for number, epochs in enumerate(SEGMENT_EPOCHS):
        resume = ["--checkpoint", glob.glob(str(tmp / "out/*/nn/PointMassTraj.pth"))[0], "--resume", "1"] if number else []
        argv = [*TINY, "--max_iterations", str(epochs), "params.config.save_frequency=2",
                "params.config.save_intermediate=True", *resume]
        if number < len(SEGMENT_EPOCHS) - 1:
            with working_in(tmp), pytest.MonkeyPatch.context() as patch:
                for name, value in offline_env(tmp).items():
                    if name.startswith("WANDB_") or name == "NETRC":
                        patch.setenv(name, value)
                assert run.main(argv) == 0
        else:
            stderr = run_py(*argv, env=offline_env(tmp), cwd=tmp).stderr
        saved.update({os.path.basename(p): md5(p) for p in glob.glob(str(tmp / "out/*/nn/*_000000*.pth"))})
    (exp_dir,) = glob.glob(str(tmp / "out/*"))
    saved["PointMassTraj.pth"] = md5(os.path.join(exp_dir, "nn", "PointMassTraj.pth"))
    return tmp, exp_dir, stderr, saved


def test_three_offline_segments_repeat_no_step_and_keep_every_row(segments):
    _, exp_dir, _, _ = segments
    runs = [OfflineRun(d) for d in offline_runs(exp_dir)]
    assert len(runs) == 3 and len({r.run_id for r in runs}) == 1
    steps = [h["step"].get("num", 0) for r in runs for h in r.of_type("history")]
    assert steps == list(range(len(steps)))
    epochs = [row["epoch"] for r in runs for row in r.history]
    assert epochs == [1, 2, 3, 4, 5, 6, 7]
    wall_times = [row["wall_time"] for r in runs for row in r.history]
    assert wall_times == sorted(wall_times), "wall_time continues in each resumed segment"
    record = json.load(open(os.path.join(exp_dir, "wandb_run.json")))
    assert record["last_step"] == steps[-1]


def test_one_artifact_version_per_save_point_with_meaningful_aliases(segments):
    _, exp_dir, _, saved = segments
    first, second, third = (OfflineRun(d).artifacts for d in offline_runs(exp_dir))
    versions = [(json.loads(a["metadata"]), a) for a in first + second + third]
    assert [m["epoch"] for m, _ in versions] == [2, 4, 6, 7]
    for meta, artifact in versions:
        (entry,) = artifact["manifest"]["contents"]
        assert entry["skip_cache"] is True and entry["path"] == meta["file"]
        assert md5(os.path.join(segments[0], entry["local_path"])) == entry["digest"]
    meta2, art2 = versions[0]
    assert meta2["files"] == ["PointMassTraj.pth", "PointMassTraj_00000002.pth"]
    assert meta2["file"] == "PointMassTraj_00000002.pth" and meta2["reason"] == "save_frequency"
    assert art2["manifest"]["contents"][0]["digest"] == saved["PointMassTraj_00000002.pth"]
    assert sorted(art2["aliases"]) == ["epoch-2", "latest"]
    for meta, artifact in versions[1:]:
        assert meta["reason"] == "final" and meta["file"] == "PointMassTraj.pth"
        assert sorted(artifact["aliases"]) == sorted(["latest", "epoch-{}".format(meta["epoch"]), "final"])
    assert versions[-1][1]["manifest"]["contents"][0]["digest"] == saved["PointMassTraj.pth"]


def test_training_leaves_no_artifact_bytes_in_the_cache_and_no_second_copy_of_kept_files(segments):
    tmp, exp_dir, _, _ = segments
    cached = [p for p in glob.glob(str(tmp / "wandb-cache/**"), recursive=True)
              if os.path.isfile(p) and not p.endswith(".log")]
    assert cached == []
    snapshots = glob.glob(os.path.join(exp_dir, "wandb/offline-run-*/checkpoints/*.pth"))
    extra = [p for p in snapshots if os.stat(p).st_nlink == 1]
    assert len(snapshots) == 4
    assert sorted(os.path.basename(p)[6:] for p in extra) == ["PointMassTraj.pth"] * 2, \
        "only the final snapshots of the two earlier segments outlive the file rl_games rewrote"


def test_the_printed_sync_command_works_as_printed_from_another_directory(segments, tmp_path):
    _, exp_dir, stderr, _ = segments
    printed = re.search(r"from any directory: (python -m hsi_wandb sync .*?) \(or, from this directory only",
                        stderr).group(1)
    command = shlex.split(printed)
    assert command[-1] == exp_dir
    proc = subprocess.run([sys.executable] + command[1:], capture_output=True, text=True, cwd=str(tmp_path),
                          env=offline_env(tmp_path), timeout=300)
    run_id = json.load(open(os.path.join(exp_dir, "wandb_run.json")))["run_id"]
    assert "run {}: 3 segment(s)".format(run_id) in proc.stdout, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "hsi_wandb sync: error: no W&B API key (set WANDB_API_KEY, put it in ./.env, or run `wandb login`)"]


def test_dry_run_from_a_third_directory_finds_every_segment_of_a_moved_copy(segments, tmp_path):
    _, exp_dir, _, _ = segments
    moved = tmp_path / "laptop" / "runs" / "renamed"
    shutil.copytree(exp_dir, str(tmp_path / "first"), symlinks=True)
    shutil.copytree(str(tmp_path / "first"), str(moved), symlinks=True)
    shutil.rmtree(str(tmp_path / "first"))
    third = tmp_path / "third"
    third.mkdir()
    proc = subprocess.run([sys.executable, "-m", "hsi_wandb", "sync", str(moved.parent), "--dry_run"],
                          capture_output=True, text=True, cwd=str(third), timeout=300)
    assert proc.returncode == 0, proc.stderr
    run_id = json.load(open(os.path.join(exp_dir, "wandb_run.json")))["run_id"]
    assert "run {}: 3 segment(s)".format(run_id) in proc.stdout
    folders = [os.path.basename(d) for d in offline_runs(exp_dir)]
    assert [line.split()[1] for line in proc.stdout.splitlines() if line.startswith("  ") and line[2].isdigit()] == [
        str(moved / "wandb" / f) for f in folders]
    entries = ["{} (model, {:.1f} MB)".format(entry["path"], int(entry["size"]) / 1e6)
               for folder in offline_runs(exp_dir) for artifact in OfflineRun(folder).artifacts
               for entry in artifact["manifest"]["contents"]]
    listed = [line.strip() for line in proc.stdout.splitlines() if line.startswith("     ")]
    assert listed == entries and "dry run, nothing uploaded: 3 segment(s) to upload" in proc.stdout

    pending = [s for segs in sync.plan([str(moved)]).values() for s in segs]
    workdir = sync.prepare_workdir(pending, str(tmp_path / "prepared"))
    for segment in pending:
        for f in segment.files:
            assert os.path.samefile(os.path.join(workdir, f.recorded), f.found), "wandb sync resolves it there"

    first = pending[0]
    open(os.path.join(first.folder, "run-{}.wandb.synced".format(first.run_id)), "w").close()
    proc = subprocess.run([sys.executable, "-m", "hsi_wandb", "sync", str(moved), "--dry_run"],
                          capture_output=True, text=True, cwd=str(third), timeout=300)
    assert "  1. {} (already synced, skipped)".format(first.folder) in proc.stdout
    assert "2 segment(s) to upload, 1 already synced" in proc.stdout

    victim = sorted(glob.glob(str(moved / "wandb/offline-run-*/checkpoints/*.pth")))[-1]
    os.unlink(victim)
    proc = subprocess.run([sys.executable, "-m", "hsi_wandb", "sync", str(moved), "--dry_run"],
                          capture_output=True, text=True, cwd=str(third), timeout=300)
    assert proc.returncode == 1
    assert "hsi_wandb sync: missing {}".format(victim) in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        "hsi_wandb sync: error: 1 file(s) the runs' artifacts refer to are missing; nothing uploaded")


def test_no_credentials_unreachable_server_and_a_failing_wandb_sync_each_end_in_one_line(segments, tmp_path,
                                                                                          closed_port_url):
    _, exp_dir, _, _ = segments
    copy = str(tmp_path / "copy")
    shutil.copytree(exp_dir, copy, symlinks=True)
    env = offline_env(tmp_path)
    command = [sys.executable, "-m", "hsi_wandb", "sync", copy]
    proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 1 and proc.stderr.strip().splitlines()[-1].startswith(
        "hsi_wandb sync: error: no W&B API key")
    env.update(WANDB_API_KEY="x" * 40, WANDB_BASE_URL=closed_port_url)
    proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("hsi_wandb sync: error: W&B server 127.0.0.1:")

    (first,) = sync.find_segments([copy])[:1]
    first.files = sync.recorded_files(first.folder)
    with pytest.raises(sync.SyncError, match="wandb sync of .* failed: W&B server 127.0.0.1:.* unreachable"):
        sync.upload([first], sync.wandb_cli(), env)
    assert not first.synced


def test_without_wandb_the_command_says_so(tmp_path):
    script = "import sys; sys.executable = {!r}; from hsi_wandb.sync import main; sys.exit(main(['sync', '.']))"
    env = dict(os.environ, PATH=str(tmp_path))
    proc = subprocess.run([sys.executable, "-c", script.format(str(tmp_path / "python"))], capture_output=True,
                          text=True, env=env, cwd=str(tmp_path))
    assert proc.returncode == 1
    assert proc.stderr.strip() == "hsi_wandb sync: error: wandb is not installed (pip install wandb)"


def test_a_dry_run_of_a_resume_from_the_experiment_folder_names_no_scratch_folder(segments, capsys):
    _, exp_dir, _, _ = segments
    before = contents(exp_dir)
    checkpoint = os.path.join(exp_dir, "nn", "PointMassTraj.pth")
    assert run.main(TINY + ["--checkpoint", checkpoint, "--resume", "1", "--dry_run"]) == 0
    out, err = capsys.readouterr()
    run_id = json.load(open(os.path.join(exp_dir, "wandb_run.json")))["run_id"]
    assert "hsi_wandb: dry run: resuming W&B run {} at frame".format(run_id) in err
    assert "not in the run's own experiment folder" not in err and "new experiment folder" not in err
    assert "sync" not in err and "dry_run-" not in out + err, "the scratch folder is deleted: nothing to sync there"
    assert "W&B run: {} (offline, in the scratch folder)".format(run_id) in out
    after = contents(exp_dir)
    assert after == before


def test_resume_from_a_copied_checkpoint_continues_the_run_in_a_new_folder_and_a_dry_run_touches_nothing(
        segments, monkeypatch, capfd):
    tmp, exp_dir, _, _ = segments
    monkeypatch.chdir(tmp)
    copied = str(tmp / "downloaded.pth")
    shutil.copyfile(os.path.join(exp_dir, "nn", "PointMassTraj_00000006.pth"), copied)
    before = contents(exp_dir)

    dry = run_main(capfd, *TINY, "--checkpoint", copied, "--resume", "1", "--dry_run")
    assert "the run it resumes left untouched" in dry.stdout
    assert glob.glob(str(tmp / "out/*")) == [exp_dir]
    after = contents(exp_dir)
    assert after == before

    state = load_checkpoint(copied)
    proc = run_main(capfd, *TINY, "--checkpoint", copied, "--resume", "1", "--max_iterations", "8")
    (new_dir,) = set(glob.glob(str(tmp / "out/*"))) - {exp_dir}
    record = json.load(open(os.path.join(exp_dir, "wandb_run.json")))
    assert "resuming W&B run {} at frame".format(record["run_id"]) in proc.stderr
    assert "a new experiment folder" in proc.stderr and not os.path.exists(str(tmp / "nn"))
    (segment,) = [OfflineRun(d) for d in offline_runs(new_dir)]
    assert segment.run_id == record["run_id"]
    rows, steps = segment.history, [h["step"]["num"] for h in segment.of_type("history")]
    assert [r["epoch"] for r in rows] == [7, 8]
    assert steps[0] == state["wandb_run"]["last_step"] + 1 and steps[0] > 5, "after every row the checkpoint's run had"
    assert rows[0]["wall_time"] > state["wandb_run"]["wall_time"] > 0, "wall_time continues from the checkpoint"
