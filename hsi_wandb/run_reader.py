"""Reading an offline run back as W&B syncs it: its records as ``wandb leet inspect --json`` prints them, one dict
each, from ``wandb leet`` or, on wandb releases without it (those for Python 3.8), from their Python record reader.

The one reader of ``.wandb`` files: ``python -m hsi_wandb sync``, ``docs/eval_curve.py`` and the tests use it.
"""
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
from typing import Any, Dict, Iterator, List, Optional

from ._wandb import record_reader

READ_TIMEOUT = 300


class ReadError(RuntimeError):
    """An offline run that cannot be read: names it and says why."""


def wandb_cli() -> str:
    """The ``wandb`` command beside this interpreter, else on PATH; ReadError when wandb is not installed."""
    beside = os.path.join(os.path.dirname(sys.executable), "wandb")
    found = beside if os.path.isfile(beside) else shutil.which("wandb")
    if not found:
        raise ReadError("wandb is not installed (pip install wandb)")
    return found


def read_records(folder: str, cli: Optional[str] = None) -> List[Dict[str, Any]]:
    """The records of the offline run ``folder`` (an ``offline-run-*`` folder), oldest first.

    With ``cli`` (a ``wandb`` command that has ``leet``, e.g. a newer release's beside a Python 3.8 stack), or when
    the installed wandb has no Python record reader, ``wandb leet inspect --json`` reads them; else the Python
    reader does, and its records are shaped as leet's (history items and config updates as ``{key: value}``)."""
    if cli is None:
        records = _python_records(folder)
        if records is not None:
            return records
    return _leet_records(folder, cli or wandb_cli())


def _leet_records(folder: str, cli: str) -> List[Dict[str, Any]]:
    """``wandb leet inspect --json``, run in an empty folder of its own: the wandb command writes its log into
    ``./wandb``, which may be the folder being read.

    The reader is wandb-core's; the ``wandb`` command only finds the run's file and forwards to it, and spends
    about a second importing wandb to do so. So wandb-core is asked directly, the way the command asks it, where
    the run folder holds one ``.wandb`` file and ``cli``'s own wandb-core is found; should it refuse, the command
    reads the run (and names what is wrong)."""
    with tempfile.TemporaryDirectory(prefix="hsi_wandb-read-") as scratch:
        env = dict(os.environ, WANDB_DIR=scratch)
        core = _core_inspect(folder, cli)
        if core is not None:
            proc = subprocess.run(core, capture_output=True, text=True, cwd=scratch, env=env, timeout=READ_TIMEOUT)
        if core is None or proc.returncode != 0:
            proc = subprocess.run([cli, "leet", "inspect", "--json", os.path.abspath(folder)], capture_output=True,
                                  text=True, cwd=scratch, env=env, timeout=READ_TIMEOUT)
    if proc.returncode != 0:
        raise ReadError("{}: `wandb leet inspect` cannot read it: {}".format(
            folder, (proc.stderr.strip().splitlines() or ["exit code {}".format(proc.returncode)])[-1]))
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def _core_inspect(folder: str, cli: str) -> Optional[List[str]]:
    """The wandb-core command line ``cli leet inspect --json folder`` runs; None where it cannot be told."""
    folder = os.path.abspath(folder)
    runs = glob.glob(os.path.join(glob.escape(folder), "run-*.wandb"))
    prefix = os.path.dirname(os.path.dirname(os.path.abspath(cli)))
    cores = glob.glob(os.path.join(glob.escape(prefix), "lib", "python*", "site-packages", "wandb", "bin",
                                   "wandb-core"))
    if len(runs) != 1 or len(cores) != 1:
        return None
    return [cores[0], "leet", "inspect", "--no-observability", "--json", "--run-file", runs[0],
            os.path.dirname(folder)]


def _python_records(folder: str) -> Optional[List[Dict[str, Any]]]:
    """The records from the Python reader of wandb releases before ``leet``; None where wandb has none."""
    reader = record_reader()
    if reader is None:
        return None
    datastore, messages, json_format = reader
    files = [name for name in os.listdir(folder) if name.startswith("run-") and name.endswith(".wandb")]
    if len(files) != 1:
        raise ReadError("{}: {} run-*.wandb files, expected one".format(folder, len(files)))
    try:
        return [_as_leet(record, json_format) for record in _scan(os.path.join(folder, files[0]), datastore,
                                                                   messages)]
    except (OSError, AssertionError) as exc:
        raise ReadError("{}: wandb cannot read {}: {}".format(folder, files[0], exc)) from None


def _scan(path: str, datastore: Any, messages: Any) -> Iterator[Any]:
    store = datastore.DataStore()
    store.open_for_scan(path)
    try:
        data = store.scan_data()
        while data is not None:
            record = messages.Record()
            record.ParseFromString(data)
            yield record
            data = store.scan_data()
    finally:
        store.close()


def _as_leet(record: Any, json_format: Any) -> Dict[str, Any]:
    """One record as leet prints it: ``{"num": n, "type": kind, kind: fields}``, items of key and JSON value decoded
    (fields at their default value, such as an exit code of 0, are left out, as protobuf leaves them)."""
    kind = record.WhichOneof("record_type")
    fields = json_format.MessageToDict(getattr(record, kind), preserving_proto_field_name=True) if kind else {}
    if kind == "history":
        fields["item"] = _decoded(fields.get("item", []))
    for holder in (fields, fields.get("config") or {}):
        if isinstance(holder.get("update"), list):
            holder["update"] = _decoded(holder["update"])
    return {"num": record.num, "type": kind, kind: fields}


def _decoded(items: List[Dict[str, Any]]) -> Dict[str, Any]:
    return {item.get("key") or "/".join(item.get("nested_key", [])): json.loads(item.get("value_json", "null"))
            for item in items}
