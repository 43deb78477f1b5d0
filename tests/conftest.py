"""Shared fixtures: every test runs in its own folder with W&B offline and no credentials."""
import contextlib
import os
import socket
import sys
from importlib.metadata import version

import pytest

sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault("WANDB_SILENT", "true")  # W&B reads it once per process, maybe in a module-scoped fixture

from hsi_wandb.builtin.inputs import BUILTIN_RL_GAMES  # noqa: E402

needs_builtin_runner = pytest.mark.skipif(
    version("rl-games") != BUILTIN_RL_GAMES,
    reason="the built-in runner is written for rl-games {} (the adapter tests run on every line)".format(BUILTIN_RL_GAMES))


@pytest.fixture(autouse=True)
def isolated_wandb(tmp_path, monkeypatch):
    """Run in ``tmp_path`` with W&B offline, no API key and W&B's own folders inside ``tmp_path``."""
    monkeypatch.chdir(tmp_path)
    for name in ("WANDB_API_KEY", "WANDB_BASE_URL", "WANDB_RUN_ID", "WANDB_RESUME", "WANDB_PROJECT",
                 "WANDB_ENTITY", "WANDB_NAME", "WANDB_TAGS", "WANDB_NOTES", "WANDB_RUN_GROUP",
                 "RANK", "LOCAL_RANK", "WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("NETRC", str(tmp_path / "no.netrc"))
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "wandb-config"))
    monkeypatch.setenv("WANDB_CACHE_DIR", str(tmp_path / "wandb-cache"))
    monkeypatch.setenv("WANDB_DATA_DIR", str(tmp_path / "wandb-data"))
    yield tmp_path


@pytest.fixture
def closed_port_url():
    """``http://127.0.0.1:<port>`` of a port nothing listens on: a W&B server that is down."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return "http://127.0.0.1:{}".format(port)


@contextlib.contextmanager
def working_in(path):
    """Run the block in ``path`` (module-scoped fixtures, which the per-test ``isolated_wandb`` does not cover)."""
    old = os.getcwd()
    os.chdir(path)
    try:
        yield path
    finally:
        os.chdir(old)
