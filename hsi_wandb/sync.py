"""Upload offline runs copied anywhere, checkpoints included: plan, check every file, then ``wandb sync`` each segment.

W&B records an artifact file's path relative to the directory training ran in, and ``wandb sync`` resolves it
against its own working directory. This module finds every offline segment under the given folders, groups
them by run id in the order they were written, checks that every file their artifacts refer to is there, and
runs ``wandb sync`` from a prepared working directory in which the recorded paths lead to the run folders.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Mapping, Optional

from .config import dotenv_api_key
from .lifecycle import _offline_reason
from .run_reader import ReadError, read_records, wandb_cli

SEGMENT = re.compile(r"^offline-run-(\d{8}_\d{6})-([0-9a-z]+)$")
PROBE_INTERVAL = 5.0
_UP = ".up"


class SyncError(Exception):
    """A problem that stops the sync, reported in one line."""


@dataclass
class ArtifactFile:
    """A file an artifact of a segment refers to."""

    recorded: str
    """Its path as W&B recorded it (relative to the directory training ran in, or absolute)."""
    entry: str
    """Its name inside the artifact (``PointMassTraj.pth``, ``eval/results.table.json``): what the plan shows."""
    kind: str
    """The artifact's type (``model``, ``run_table``)."""
    found: str
    """Where the file is now."""


@dataclass
class Segment:
    """One offline run folder (``offline-run-<time>-<id>``): one segment of a run, and the files it refers to."""

    folder: str
    run_id: str
    started: str
    files: List[ArtifactFile] = field(default_factory=list)

    @property
    def synced(self) -> bool:
        """``wandb sync`` marks a segment it uploaded with ``run-<id>.wandb.synced``."""
        return os.path.exists(os.path.join(self.folder, "run-{}.wandb.synced".format(self.run_id)))

    @property
    def missing(self) -> List[str]:
        """The files the segment's artifacts refer to that are not there."""
        return [f.found for f in self.files if not os.path.isfile(f.found)]


def find_segments(paths: Iterable[str]) -> List[Segment]:
    """Every offline segment under ``paths`` (experiment folders, folders of them, or segment folders)."""
    found: Dict[str, str] = {}
    for path in paths:
        if not os.path.isdir(path):
            raise SyncError("{}: not a folder".format(path))
        for dirpath, dirnames, _ in os.walk(os.path.abspath(path)):
            names = [os.path.basename(dirpath)] if SEGMENT.match(os.path.basename(dirpath)) else []
            names += [d for d in dirnames if SEGMENT.match(d)]
            for name in names:
                folder = dirpath if name == os.path.basename(dirpath) else os.path.join(dirpath, name)
                if found.get(name, folder) != folder:
                    raise SyncError("segment {} found twice, {} and {}: give the path of one copy".format(
                        name, found[name], folder))
                found[name] = folder
            dirnames[:] = [d for d in dirnames if not SEGMENT.match(d)]
    segments = []
    for name in sorted(found, key=lambda n: SEGMENT.match(n).group(1)):
        started, run_id = SEGMENT.match(name).groups()
        segments.append(Segment(found[name], run_id, started))
    return segments


def recorded_files(folder: str) -> List[ArtifactFile]:
    """The local files that the artifacts of a segment refer to, located, read with the one run reader."""
    entries = [(entry["local_path"], entry.get("path", ""), record["artifact"].get("type", ""))
               for record in read_records(folder) if record.get("type") == "artifact"
               for entry in record["artifact"].get("manifest", {}).get("contents", []) if entry.get("local_path")]
    return [ArtifactFile(recorded, entry, kind, locate(recorded, folder)) for recorded, entry, kind in entries]


def _parts(recorded: str) -> List[str]:
    return os.path.normpath(recorded).split(os.sep)


def locate(recorded: str, folder: str) -> str:
    """Where a recorded file is now: below the segment folder wherever it was moved, else where it was."""
    parts = _parts(recorded)
    name = os.path.basename(folder)
    if name in parts:
        return os.path.join(folder, *parts[len(parts) - parts[::-1].index(name):])
    return recorded if os.path.isabs(recorded) else os.path.abspath(recorded)


def plan(paths: Iterable[str]) -> Dict[str, List[Segment]]:
    """Segments by run id, each run's segments in the order they were written, with their files located."""
    runs: Dict[str, List[Segment]] = {}
    for segment in find_segments(paths):
        segment.files = recorded_files(segment.folder)
        runs.setdefault(segment.run_id, []).append(segment)
    return runs


def describe(runs: Mapping[str, List[Segment]]) -> List[str]:
    """The plan as lines: runs, segments in order with their state, artifact files and sizes."""
    lines = []
    for run_id, segments in runs.items():
        lines.append("run {}: {} segment(s)".format(run_id, len(segments)))
        for number, segment in enumerate(segments, 1):
            state = "already synced, skipped" if segment.synced else "to upload"
            lines.append("  {}. {} ({})".format(number, segment.folder, state))
            for f in segment.files:
                lines.append("     {} ({}, {})".format(f.entry, f.kind, _size(f.found)))
    return lines


def _size(path: str) -> str:
    """The size of a file in kB below 0.1 MB, else in MB; MISSING when it is not there."""
    if not os.path.isfile(path):
        return "MISSING: {}".format(path)
    size = os.path.getsize(path)
    return "{:.1f} MB".format(size / 1e6) if size >= 1e5 else "{:.1f} kB".format(size / 1e3)


def prepare_workdir(segments: List[Segment], root: str) -> str:
    """Make ``root`` a tree in which every recorded relative path leads into its segment; return the directory
    ``wandb sync`` must run in (below ``root`` as deep as the recorded paths climb with ``..``)."""
    links: Dict[str, str] = {}
    depth = 0
    for segment in segments:
        name = os.path.basename(segment.folder)
        for f in segment.files:
            parts = _parts(f.recorded)
            if os.path.isabs(f.recorded) or name not in parts:
                continue
            prefix = parts[:len(parts) - 1 - parts[::-1].index(name)]
            ups = prefix.count(os.pardir)
            depth = max(depth, ups)
            links[json.dumps([ups] + prefix[ups:] + [name])] = segment.folder
    workdir = os.path.join(root, *[_UP] * depth)
    os.makedirs(workdir, exist_ok=True)
    for key, folder in links.items():
        spec = json.loads(key)
        link = os.path.join(root, *([_UP] * (depth - spec[0]) + spec[1:]))
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(folder, link)
    return workdir


def missing_files(runs: Mapping[str, List[Segment]]) -> List[str]:
    """Every file that a segment still to upload refers to and that is not there, with its run and segment."""
    return ["{} (run {}, segment {})".format(path, segment.run_id, os.path.basename(segment.folder))
            for segments in runs.values() for segment in segments if not segment.synced
            for path in segment.missing]


def upload(segments: List[Segment], cli: str, environ: Mapping[str, str]) -> None:
    """``wandb sync`` each segment in order from a prepared working directory; SyncError when one fails."""
    env = {k: v for k, v in environ.items() if k != "WANDB_MODE"}
    key = dotenv_api_key()
    if key and not env.get("WANDB_API_KEY"):
        env["WANDB_API_KEY"] = key
    with tempfile.TemporaryDirectory(prefix="hsi_wandb-sync-") as root:
        workdir = prepare_workdir(segments, root)
        for segment in segments:
            print("hsi_wandb sync: uploading {}".format(segment.folder), flush=True)
            _run_sync([cli, "sync", segment.folder], workdir, env, segment)


def _run_sync(command: List[str], workdir: str, env: Dict[str, str], segment: Segment) -> None:
    """Run ``wandb sync``; stop it when the server stops answering (it would retry for minutes)."""
    with tempfile.TemporaryFile(mode="w+") as log:
        proc = subprocess.Popen(command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
        reason = None
        while reason is None:
            try:
                proc.wait(timeout=PROBE_INTERVAL)
                break
            except subprocess.TimeoutExpired:
                reason = _offline_reason(env)
        if reason:
            proc.terminate()
            proc.wait()
        log.seek(0)
        last = (log.read().strip().splitlines() or ["exit code {}".format(proc.returncode)])[-1]
    if reason or proc.returncode != 0 or not segment.synced:
        raise SyncError("wandb sync of {} failed: {}".format(segment.folder, reason or last))


def main(argv: Optional[List[str]] = None) -> int:
    """``sync PATH... [--dry_run]``; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m hsi_wandb", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    sync = commands.add_parser("sync", help="upload offline runs, checkpoints included, from any directory")
    sync.add_argument("paths", nargs="+", metavar="PATH",
                      help="an experiment folder, a folder of experiments, or an offline-run folder")
    sync.add_argument("--dry_run", action="store_true", help="print the plan and check the files; upload nothing")
    args = parser.parse_args(argv)
    try:
        cli = wandb_cli()
        runs = plan(args.paths)
        if not runs:
            raise SyncError("no offline runs (offline-run-* folders) under {}".format(" ".join(args.paths)))
        print("\n".join(describe(runs)), flush=True)
        missing = missing_files(runs)
        for path in missing:
            print("hsi_wandb sync: missing {}".format(path), file=sys.stderr)
        if missing:
            raise SyncError("{} file(s) the runs' artifacts refer to are missing; nothing uploaded".format(
                len(missing)))
        pending = [s for segments in runs.values() for s in segments if not s.synced]
        if args.dry_run or not pending:
            print("hsi_wandb sync: {}{} segment(s) to upload, {} already synced; every file is there".format(
                "dry run, nothing uploaded: " if args.dry_run else "", len(pending),
                sum(map(len, runs.values())) - len(pending)))
            return 0
        problem = _offline_reason(os.environ, dotenv_api_key())
        if problem:
            raise SyncError(problem)
        upload(pending, cli, os.environ)
        print("hsi_wandb sync: {} segment(s) uploaded".format(len(pending)))
    except (SyncError, ReadError) as exc:
        print("hsi_wandb sync: error: {}".format(exc), file=sys.stderr)
        return 1
    return 0
