"""The run reader: wandb-core's record reader asked directly reads a run as ``wandb leet inspect --json`` prints it,
and where wandb-core refuses, the ``wandb`` command reads it; a run that cannot be read is one error naming it."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from hsi_wandb.run_reader import ReadError, _core_inspect, read_records
from offline_run import wandb_cli

pytestmark = pytest.mark.slow


def leet(folder):
    """What the ``wandb`` command prints for the run folder."""
    proc = subprocess.run([wandb_cli(), "leet", "inspect", "--json", folder], capture_output=True, text=True,
                          timeout=300, check=True)
    return proc.stdout


def refusing_install(tmp_path):
    """A ``wandb`` command (the real one, linked) whose wandb-core refuses the reader's arguments."""
    core = tmp_path / "env" / "lib" / "python{}.{}".format(*sys.version_info[:2]) / "site-packages" / "wandb" / "bin"
    core.mkdir(parents=True)
    (core / "wandb-core").write_text("#!/bin/sh\necho 'flag provided but not defined: -run-file' >&2\nexit 2\n")
    (core / "wandb-core").chmod(0o755)
    (tmp_path / "env" / "bin").mkdir()
    cli = tmp_path / "env" / "bin" / "wandb"
    cli.symlink_to(wandb_cli())
    return str(cli)


def test_wandb_core_asked_directly_reads_what_the_wandb_command_prints(tiny_run):
    folder = tiny_run.run.path
    core = _core_inspect(folder, wandb_cli())
    assert core[0].endswith(os.path.join("wandb", "bin", "wandb-core"))
    printed = leet(folder)
    direct = subprocess.run(core, capture_output=True, text=True, timeout=300)
    assert direct.returncode == 0 and direct.stdout == printed, "the arguments the wandb command gives wandb-core"
    assert read_records(folder, wandb_cli()) == [json.loads(line) for line in printed.splitlines() if line]


def test_a_wandb_core_that_refuses_leaves_the_read_to_the_wandb_command(tiny_run, tmp_path):
    cli = refusing_install(tmp_path)
    assert _core_inspect(tiny_run.run.path, cli)[0].startswith(str(tmp_path))
    assert read_records(tiny_run.run.path, cli) == read_records(tiny_run.run.path, wandb_cli())


def test_a_run_that_cannot_be_read_is_one_error_naming_it(tiny_run, tmp_path):
    broken = tmp_path / "offline-run-20260101_000000-broken"
    shutil.copytree(tiny_run.run.path, str(broken))
    (wandb_file,) = broken.glob("run-*.wandb")
    wandb_file.write_bytes(b"not a W&B transaction log" * 10)
    for cli in (wandb_cli(), refusing_install(tmp_path)):
        with pytest.raises(ReadError, match="^{}: `wandb leet inspect` cannot read it: .+".format(broken)):
            read_records(str(broken), cli)
