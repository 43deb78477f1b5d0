"""Configs, git commit and the opt-in code snapshot are attached to the run; the API key is never written anywhere."""
import glob
import os
import shutil
import subprocess
import sys

import pytest

from hsi_wandb.provenance import git_state, is_snapshot_file
from conftest import ROOT, TINY
from offline_run import OfflineRun, offline_runs

KEY = "hsiwandbtest" + "0123456789abcdef" * 2 + "feed"


def make_project(tmp_path):
    """A copy of the project's entry point and configs in a fresh git repository, as a user's checkout."""
    os.makedirs(str(tmp_path), exist_ok=True)
    shutil.copy(os.path.join(ROOT, "run.py"), tmp_path / "run.py")
    shutil.copytree(os.path.join(ROOT, "cfg"), tmp_path / "cfg")
    for cmd in (["init", "-q"], ["add", "."], ["-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "x"]):
        subprocess.run(["git"] + cmd, cwd=tmp_path, check=True)
    return git_state(str(tmp_path))


def test_git_state_and_snapshot_filter(tmp_path):
    assert git_state(str(tmp_path)) == {}
    state = make_project(tmp_path)
    assert len(state["commit"]) == 40 and state["dirty"] is False
    assert is_snapshot_file(str(tmp_path / "run.py"), str(tmp_path))
    assert is_snapshot_file(str(tmp_path / "cfg" / "train" / "x.yaml"), str(tmp_path))
    for path in (".env", "venv/lib/x.py", ".venv/x.py", "output/exp/x.yaml", "wandb/x.py", "notes.txt"):
        assert not is_snapshot_file(str(tmp_path / path), str(tmp_path)), path


def run_script(script, cwd, *argv, env=None):
    """``python <script> <TINY> <argv>`` in ``cwd``, hsi_wandb importable from the repository."""
    proc = subprocess.run([sys.executable, str(script)] + TINY + list(argv), capture_output=True, text=True,
                          timeout=600, cwd=str(cwd), env=dict(env or os.environ, PYTHONPATH=ROOT))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.mark.slow
def test_configs_commit_and_code_snapshot_come_from_the_entry_points_repository_wherever_it_is_started(tmp_path):
    state = make_project(tmp_path / "project")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = run_script(tmp_path / "project" / "run.py", elsewhere, "wandb.save_code=true")
    assert "save_code" not in proc.stderr
    (run_dir,) = offline_runs(str(elsewhere / "out"))
    offline = OfflineRun(run_dir)
    assert offline.config["git"] == state
    saved = {f["path"] for record in offline.of_type("files") for f in record["files"]}
    assert {"point_mass_traj_amp.yaml", "point_mass_traj.yaml"} <= saved
    (code,) = [a for a in offline.artifacts if a["type"] == "code"]
    paths = {e["path"] for e in code["manifest"]["contents"]}
    assert paths == {"run.py"} | {os.path.relpath(p, str(tmp_path / "project"))
                                  for p in glob.glob(str(tmp_path / "project" / "cfg" / "**" / "*.yaml"), recursive=True)}


@pytest.mark.slow
def test_a_code_snapshot_with_nothing_to_save_says_why_once(tmp_path):
    """An entry point without a .py name (an installed console script) alone in a folder outside any repository."""
    script = tmp_path / "bin" / "train"
    script.parent.mkdir()
    script.write_text("import sys\nimport run\nsys.exit(run.main())\n")
    proc = run_script(script, tmp_path, "wandb.save_code=true")
    warnings = [line for line in proc.stderr.splitlines() if "RuntimeWarning: hsi_wandb: wandb.save_code" in line]
    assert len(warnings) == 1 and warnings[0].endswith(
        "hsi_wandb: wandb.save_code: no code snapshot, no .py or .yaml file under {0}, the folder of the entry point "
        "{1} (not in a git repository)".format(script.parent, script)), proc.stderr
    (run_dir,) = offline_runs(str(tmp_path / "out"))
    offline = OfflineRun(run_dir)
    assert offline.history and not [a for a in offline.artifacts if a["type"] == "code"]
    assert "git" not in offline.config


@pytest.mark.slow
@pytest.mark.parametrize("where", ["dotenv", "environment"])
def test_the_api_key_is_never_written_or_printed(tmp_path, where, closed_port_url):
    make_project(tmp_path)
    env = dict(os.environ, WANDB_BASE_URL=closed_port_url)
    env.pop("WANDB_MODE")
    if where == "dotenv":
        (tmp_path / ".env").write_text("WANDB_API_KEY={}\n".format(KEY))
    else:
        env["WANDB_API_KEY"] = KEY
    proc = run_script(tmp_path / "run.py", tmp_path, "--max_iterations", "2", "wandb.save_code=true",
                      "wandb.mode=online", env=env)
    assert "logging offline instead" in proc.stderr
    assert KEY not in proc.stdout and KEY not in proc.stderr
    (exp_dir,) = glob.glob("out/*")
    offline = OfflineRun(offline_runs(exp_dir)[0])
    assert offline.history and any(a["type"] == "code" for a in offline.artifacts)
    leaks = []
    for dirpath, _, files in os.walk(exp_dir):
        for name in files:
            with open(os.path.join(dirpath, name), "rb") as f:
                if KEY.encode() in f.read():
                    leaks.append(os.path.join(dirpath, name))
    assert leaks == []
    assert KEY not in repr(offline.records)
