"""Read an offline W&B run back with W&B's own reader, ``wandb leet inspect --json``.

The reader is the ``wandb`` executable named by ``HSI_WANDB_READER``, by default the one beside the running Python:
wandb releases older than ``leet`` (the newest for Python 3.8) are read back with a newer wandb's reader.
"""
import os
import sys

from hsi_wandb.run_reader import read_records


_NON_FINITE = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


def wandb_cli():
    """The ``wandb`` command that reads runs back: ``HSI_WANDB_READER``, else the running interpreter's own."""
    return os.environ.get("HSI_WANDB_READER") or os.path.join(os.path.dirname(sys.executable), "wandb")


_read = {}
"""(run folder, reader, the state of its ``.wandb`` files) -> its records: a run read again unchanged (by several
tests, or several times in one) costs no second ``wandb`` process."""


def _state(path):
    """Name, size and modification time of each ``.wandb`` file in the run folder ``path``: a run still written to,
    or resumed into, reads anew."""
    found = []
    with os.scandir(path) as entries:
        for entry in entries:
            if entry.name.endswith(".wandb"):
                stat = entry.stat()
                found.append((entry.name, stat.st_size, stat.st_mtime_ns))
    return tuple(sorted(found))


def records(path):
    """The records of the run folder ``path`` (hsi_wandb's run reader, with ``wandb_cli()``), read once per state
    of its files."""
    key = (os.path.realpath(path), wandb_cli(), _state(path))
    if key not in _read:
        _read[key] = read_records(path, wandb_cli())
    return _read[key]


class OfflineRun:
    """The records of one offline run, as ``wandb leet inspect --json`` prints them."""

    def __init__(self, path):
        self.path = os.fspath(path)
        self.records = records(self.path)

    def of_type(self, kind):
        return [r[kind] for r in self.records if r.get("type") == kind]

    @property
    def history(self):
        """History rows; W&B writes non-finite floats as the strings NaN, Infinity and -Infinity."""
        return [{k: _NON_FINITE.get(v, v) if isinstance(v, str) else v for k, v in h["item"].items()}
                for h in self.of_type("history")]

    @property
    def artifacts(self):
        return self.of_type("artifact")

    @property
    def exit_code(self):
        exits = self.of_type("exit")
        return exits[-1].get("exit_code", 0) if exits else None

    @property
    def config(self):
        merged = {}
        for run in self.of_type("run"):
            merged.update(run.get("config", {}).get("update", {}))
        for cfg in self.of_type("config"):
            merged.update(cfg.get("update", {}))
        return merged

    @property
    def run_id(self):
        return self.of_type("run")[0]["run_id"]


def offline_runs(root):
    """Every offline run folder below ``root``."""
    found = []
    for dirpath, dirnames, _ in os.walk(root):
        found += [os.path.join(dirpath, d) for d in dirnames if d.startswith("offline-run-")]
    return sorted(found)
