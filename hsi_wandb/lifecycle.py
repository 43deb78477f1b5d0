"""The W&B run lifecycle: start (rank 0 only, offline fallback), every W&B call guarded, finish with an exit code."""
import http.client
import json
import os
import queue
import shlex
import shutil
import ssl
import sys
import threading
import warnings
from typing import Any, Dict, List, Mapping, Optional, Tuple
from urllib.parse import urlparse

from ._wandb import live_run, load_wandb, preload
from .config import WandbSettings
from .ranks import is_global_rank_zero
from .warn_once import WarnOnce
from .worker import Worker

DEFAULT_BASE_URL = "https://api.wandb.ai"
RUN_RECORD = "wandb_run.json"
_DATA_DIR = "WANDB_DATA_DIR"
PROBE_TIMEOUT = 3.0
OUTBOX_ROWS = 1000
SEND_STALL_TIMEOUT = 60.0
CALL_TIMEOUT = 60.0
"""Seconds a W&B call made on the training thread (the axes, a reused run's config, ``use_artifact``, finish, the
rows still queued at the end) may take before W&B is given up, so that none can hold training or the process."""
_SERVICE_GONE = (ConnectionError, TimeoutError)
"""What a W&B call raises when W&B itself is unusable (its service died, or it takes nothing): later calls are
skipped. Any other failure costs only the item that failed."""


def say(message: str) -> None:
    """Print one hsi_wandb line to stderr."""
    print("hsi_wandb: " + message, file=sys.stderr, flush=True)


class NullRun:
    """Stands in for a W&B run on non-zero ranks, when disabled, or without wandb: every call does nothing."""

    mode = "disabled"
    run_id: Optional[str] = None
    last_step: Optional[int] = None
    sync_dir: Optional[str] = None
    mirrors_scalars = False

    def log_row(self, row: Mapping[str, Any]) -> None:
        """Drop the row."""

    def log_checkpoint(self, name: str, path: str, metadata: Mapping[str, Any], aliases: List[str],
                       reference: bool = False) -> None:
        """Drop the checkpoint."""

    def log_histograms(self, frame: int, epoch: int, arrays: Mapping[str, Any]) -> None:
        """Drop the histograms."""

    def attach_files(self, paths: List[str], code: Optional[Tuple[str, str]] = None) -> None:
        """Nothing to attach."""

    def log_table(self, key: str, columns: List[str], rows: List[List[Any]]) -> None:
        """Drop the table."""

    def log_video(self, key: str, path: str, frame: int, epoch: int) -> None:
        """Drop the video."""

    def identity(self) -> Dict[str, Any]:
        """No identity."""
        return {}

    def use_artifact(self, name: str) -> bool:
        """Nothing to record."""
        return False

    def set_config(self, values: Mapping[str, Any]) -> None:
        """Nothing to set."""

    def describe(self) -> Dict[str, Any]:
        """Nothing to describe."""
        return {}

    def finish(self, exit_code: int = 0, sync_hint: bool = True) -> None:
        """Nothing to finish."""


def _netrc_has_key(host: str) -> bool:
    import netrc

    path = os.environ.get("NETRC") or os.path.expanduser("~/.netrc")
    try:
        return bool(netrc.netrc(path).authenticators(host))
    except (OSError, netrc.NetrcParseError):
        return False


def _offline_reason(environ: Mapping[str, str], api_key: Optional[str] = None) -> Optional[str]:
    """Why an online run cannot start here, or None when it can.

    No credentials, or a server that does not answer an HTTP request within PROBE_TIMEOUT seconds: one that is
    down, or one that accepts connections and never answers (W&B's own login and init would wait far longer, and
    wandb 0.24, the newest for Python 3.8, leaves its service busy with such a start: every later start in the
    process would wait out its own timeout).
    """
    url = urlparse(environ.get("WANDB_BASE_URL") or DEFAULT_BASE_URL)
    host = url.hostname or ""
    if not (api_key or environ.get("WANDB_API_KEY") or environ.get("WANDB_IDENTITY_TOKEN_FILE")
            or _netrc_has_key(host)):
        return "no W&B API key (set WANDB_API_KEY, put it in ./.env, or run `wandb login`)"
    port = url.port or (443 if url.scheme == "https" else 80)
    if url.scheme == "https":
        unverified = ssl.create_default_context()
        unverified.check_hostname, unverified.verify_mode = False, ssl.CERT_NONE
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(host, port, timeout=PROBE_TIMEOUT,
                                                                             context=unverified)
    else:
        connection = http.client.HTTPConnection(host, port, timeout=PROBE_TIMEOUT)
    try:
        connection.request("HEAD", "/")
        connection.getresponse()
    except (OSError, http.client.HTTPException) as exc:
        return "W&B server {}:{} unreachable or not answering ({}: {})".format(host, port, type(exc).__name__, exc)
    finally:
        connection.close()
    return None


def _probe_key(environ: Mapping[str, str], api_key: Optional[str]) -> tuple:
    """What the probe's answer depends on: the server and the credentials it could find."""
    return (environ.get("WANDB_BASE_URL") or DEFAULT_BASE_URL, api_key, environ.get("WANDB_API_KEY"),
            environ.get("WANDB_IDENTITY_TOKEN_FILE"), environ.get("NETRC"))


class _Probe:
    """:func:`_offline_reason` on a thread of its own, started while the trainer builds its environment and agent."""

    def __init__(self, environ: Mapping[str, str], api_key: Optional[str]):
        self.key = _probe_key(environ, api_key)
        self._answer: List[Optional[str]] = []
        self._thread = threading.Thread(target=lambda: self._answer.append(_offline_reason(environ, api_key)),
                                        name="hsi_wandb-probe", daemon=True)
        self._thread.start()

    def answer(self) -> List[Optional[str]]:
        """[the reason, or None], once the probe is done; empty if it failed."""
        self._thread.join()
        return self._answer


_prepared: List[_Probe] = []


def _probed_reason(environ: Mapping[str, str], api_key: Optional[str]) -> Optional[str]:
    """The answer of the probe :func:`prepare_start` started for this server and these credentials, else a probe
    now. Each prepared answer serves one start."""
    prepared = _prepared.pop() if _prepared else None
    if prepared is not None and prepared.key == _probe_key(environ, api_key):
        answer = prepared.answer()
        if answer:
            return answer[0]
    return _offline_reason(environ, api_key)


def _relative_if_inside(path: str) -> str:
    absolute = os.path.abspath(path)
    relative = os.path.relpath(absolute)
    return absolute if relative.startswith(os.pardir) else relative


class WandbRun:
    """A live W&B run. A W&B call that fails costs only its item (a row, a histogram, a table, a video, a
    checkpoint), with one warning per kind of call; when W&B itself is gone (its service died, or it takes no row
    for ``SEND_STALL_TIMEOUT`` s) one warning says so and nothing more is sent. Training always goes on.

    Rows (and histograms, tables) are handed to W&B by a sender thread, in order: ``run.log`` waits for
    W&B's client thread to take each record, and that wait (and a W&B service that stops reading) must not
    hold up training. At most ``OUTBOX_ROWS`` rows wait, so memory stays flat when W&B's client is slower
    than training; past that, training waits for W&B, and gives W&B up (one warning) when it takes no row
    for ``SEND_STALL_TIMEOUT`` seconds. :meth:`finish` sends whatever is queued first. Rows may come from
    several threads (videos are picked up on their own); steps follow the order they enter the outbox.

    An offline run numbers W&B's steps itself, and a segment resumed from an earlier one (``previous``, a run
    record) continues after that segment's last step: offline folders restart W&B's step at 0, and ``wandb
    sync`` of a later folder would otherwise overwrite the earlier rows. Online, W&B continues the step itself.
    """

    def __init__(self, wandb: Any, run: Any, owned: bool, previous: Optional[Mapping[str, Any]] = None):
        self._wandb = wandb
        self._run = run
        self._owned = owned
        self._failed = False
        self._once = WarnOnce()
        self.mode = "offline" if run.offline else "online"
        self.run_id: Optional[str] = run.id
        self.sync_dir: Optional[str] = run.settings.sync_dir
        self.mirrors_scalars = not getattr(run.settings, "sync_tensorboard", False)
        previous = dict(previous or {})
        self._sync_dirs = [d for d in previous.get("sync_dirs", []) if d != self.sync_dir] + [self.sync_dir]
        self.last_step: Optional[int] = previous.get("last_step")
        self._next_step: Optional[int] = None
        if owned and self.mode == "offline":
            self._next_step = 0 if self.last_step is None else int(self.last_step) + 1
        self.last_frame: Optional[int] = previous.get("last_frame")
        self._identity = {"run_id": run.id, "project": run.project, "entity": run.entity, "group": run.group,
                          "name": run.name, "mode": self.mode}
        self._data_dir_before: Optional[str] = None
        self._sender = Worker("hsi_wandb-rows", self._send, OUTBOX_ROWS)
        self._log_lock = threading.Lock()
        if owned and self.mode == "offline":
            self._stage_inside_run_folder()

    def _forget_dead_run(self) -> None:
        """Stop W&B offering this run as the current one, so the next start begins afresh with a new service.

        A run whose service died stays ``wandb.run`` after its failed finish; the next start would reuse it.
        """
        if getattr(self._wandb, "run", None) is self._run:
            self._wandb.run = None

    def _restore_data_dir(self) -> None:
        """Give WANDB_DATA_DIR back the value it had before this run."""
        if self._data_dir_before is not None:
            if self._data_dir_before:
                os.environ[_DATA_DIR] = self._data_dir_before
            else:
                os.environ.pop(_DATA_DIR, None)
            self._data_dir_before = None

    def _stage_inside_run_folder(self) -> None:
        """W&B stages files it copies (tables, media artifacts) under WANDB_DATA_DIR; keep them in the run folder."""
        self._data_dir_before = os.environ.get(_DATA_DIR, "")
        os.environ[_DATA_DIR] = os.path.join(self.sync_dir, "data")

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Call ``fn`` unless W&B is gone; a failure is reported (see :meth:`_attempt`) and returns None."""
        return self._attempt(what, fn, *args, **kwargs) if not self._failed else None

    def _attempt(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Call ``fn``. A failure of W&B itself (``_SERVICE_GONE``) stops every later call, with one warning; any
        other costs this item only, with one warning per ``what``."""
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            self._report(what, exc, gone=isinstance(exc, _SERVICE_GONE))
            return None

    def _report(self, what: str, exc: BaseException, gone: bool) -> None:
        if self._failed:
            return
        if gone:
            self._failed = True
            warnings.warn("hsi_wandb: W&B failed to {} ({}: {}); training continues, TensorBoard and "
                          "checkpoints are unaffected, nothing more is sent to W&B".format(
                              what, type(exc).__name__, exc), RuntimeWarning)
        else:
            self._once.warn(what, "W&B failed to {} ({}: {}); that item is not on W&B (later failures of it are not "
                            "reported), the rest of the run goes on".format(what, type(exc).__name__, exc))

    def log_row(self, row: Mapping[str, Any]) -> None:
        """Log one row (one epoch); its ``frame`` is the x-axis."""
        self._log("log a row", dict(row))
        if "frame" in row:
            self.last_frame = int(row["frame"])

    def _log(self, what: str, data: Dict[str, Any]) -> None:
        """Queue ``data`` for the sender thread; nothing once W&B failed."""
        if self._failed:
            return
        with self._log_lock:
            step = self._next_step
            if step is not None:
                self._next_step = step + 1
                self.last_step = step
            try:
                self._sender.submit((what, data, step), timeout=SEND_STALL_TIMEOUT)
            except queue.Full:
                self._attempt(what, self._stalled)

    @staticmethod
    def _stalled() -> None:
        raise TimeoutError("W&B took no row for {:g} s while {} waited".format(SEND_STALL_TIMEOUT, OUTBOX_ROWS))

    def _send(self, item: Tuple[str, Dict[str, Any], Optional[int]]) -> None:
        what, data, step = item
        if step is None:
            self._call(what, self._run.log, data)
        else:
            self._call(what, self._run.log, data, step=step)

    def _flush(self) -> bool:
        """Wait until every queued row has been handed to W&B, at most ``CALL_TIMEOUT`` s; False when W&B did not
        take them (it is then given up: a stuck call would hold the process forever)."""
        if self._sender.close(CALL_TIMEOUT):
            return True
        self._report("take the last rows", TimeoutError("W&B took no row for {:g} s at the end; they are in "
                                                         "metrics.jsonl".format(CALL_TIMEOUT)), gone=True)
        return False

    def _bounded(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Optional[bool]:
        """Call ``fn`` on a thread of its own and wait at most ``CALL_TIMEOUT`` s for it: True when it returned,
        False when it raised (reported), None when it has not returned by then (W&B is given up, one warning)."""
        done, outcome = threading.Event(), []

        def call() -> None:
            try:
                fn(*args, **kwargs)
                outcome.append(True)
            except Exception as exc:
                self._report(what, exc, gone=isinstance(exc, _SERVICE_GONE))
                outcome.append(False)
            finally:
                done.set()

        threading.Thread(target=call, name="hsi_wandb-call", daemon=True).start()
        if done.wait(CALL_TIMEOUT):
            return outcome[0]
        self._report(what, TimeoutError("no answer from W&B in {:g} s".format(CALL_TIMEOUT)), gone=True)
        return None

    def log_checkpoint(self, name: str, path: str, metadata: Mapping[str, Any], aliases: List[str],
                       reference: bool = False) -> None:
        """Log a checkpoint file as a ``model`` artifact; ``reference`` records only its local path and metadata."""
        self._call("log checkpoint {}".format(path), self._log_checkpoint, name, path, metadata, aliases, reference)

    def _log_checkpoint(self, name: str, path: str, metadata: Mapping[str, Any], aliases: List[str],
                        reference: bool) -> None:
        artifact = self._wandb.Artifact(name, type="model", metadata=dict(metadata))
        entry = metadata.get("file") or os.path.basename(path)
        if reference:
            artifact.add_reference("file://" + os.path.abspath(path), name=entry, checksum=False)
        else:
            artifact.add_file(os.path.relpath(path), name=entry, skip_cache=True, policy="immutable")
        self._run.log_artifact(artifact, aliases=list(aliases))

    def attach_files(self, paths: List[str], code: Optional[Tuple[str, str]] = None) -> None:
        """Attach config files to the run, and with ``code`` (a folder and what it is, see
        :func:`provenance.code_root`) a snapshot of its .py/.yaml files."""
        for path in paths:
            self._call("attach {}".format(path), self._attach_copy, path)
        if code:
            self._call("snapshot the code", self._snapshot_code, *code)

    def _snapshot_code(self, root: str, origin: str) -> None:
        """Log the .py/.yaml files under ``root`` as a ``code`` artifact; one warning when there is none."""
        from .provenance import is_snapshot_file

        if self._run.log_code(root, include_fn=lambda p, top=root: is_snapshot_file(p, top)) is None:
            warnings.warn("hsi_wandb: wandb.save_code: no code snapshot, no .py or .yaml file under {}, {}".format(
                root, origin), RuntimeWarning)

    def _attach_copy(self, path: str) -> None:
        """Copy ``path`` into the run's files folder (a link would point outside it) and save it from there."""
        copy = os.path.join(self._run.dir, os.path.basename(path))
        shutil.copyfile(path, copy)
        self._run.save(copy, base_path=self._run.dir, policy="now")

    def log_histograms(self, frame: int, epoch: int, arrays: Mapping[str, Any]) -> None:
        """Log numpy arrays as W&B histograms in a row of their own at ``frame``; an array W&B cannot bin (a NaN
        in a diverging parameter) is left out of it, the others go."""
        histograms = {}
        for key, value in arrays.items():
            histogram = self._call("make the histogram of {}".format(key), self._wandb.Histogram, value)
            if histogram is not None:
                histograms[key] = histogram
        if histograms:
            self._log("log histograms", dict(histograms, frame=frame, epoch=epoch))

    def log_video(self, key: str, path: str, frame: int, epoch: int) -> None:
        """Log a video file in a row of its own at ``frame``; W&B copies it into the run (offline: the run folder).

        OSError or ValueError when the file cannot be read: a bad video is the caller's to report, not a W&B failure.
        """
        if not self._failed:
            self._log("log video {}".format(path), {key: self._wandb.Video(path), "frame": frame, "epoch": epoch})

    def log_table(self, key: str, columns: List[str], rows: List[List[Any]]) -> None:
        """Log a W&B table (e.g. evaluation results per experiment)."""
        self._call("log table {}".format(key), lambda: self._log(key, {key: self._wandb.Table(columns=columns,
                                                                                             data=rows)}))

    def define_axes(self) -> None:
        """Declare ``frame`` the x-axis of every key (rows never pass ``step``, so a resume drops none)."""
        self._bounded("define the frame axis", _define_axes, self._run)

    def add_config(self, config: Mapping[str, Any]) -> None:
        """Add the keys of ``config`` the run's config lacks (a run the user started keeps the values it has)."""
        self._bounded("add the config", lambda: self._run.config.update(
            {key: value for key, value in config.items() if key not in self._run.config}))

    def set_config(self, values: Mapping[str, Any]) -> None:
        """Set the config keys in ``values``, replacing what they held (a run's own keys, such as an eval run's list
        of checkpoints, once it is known)."""
        self._bounded("update the config", lambda: self._run.config.update(dict(values), allow_val_change=True))

    def identity(self) -> Dict[str, Any]:
        """Which run this is: id, project, entity, group, name and mode."""
        return dict(self._identity)

    def use_artifact(self, name: str) -> bool:
        """Record that this run consumed artifact ``name`` (lineage); False where W&B cannot (offline: the artifact
        is not on the server yet) or the call failed (one warning)."""
        if self.mode != "online" or self._failed:
            return False
        return bool(self._bounded("record the use of {}".format(name), self._run.use_artifact, name))

    def describe(self) -> Dict[str, Any]:
        """Identity and progress of the run, stored beside the experiment so evaluation and resume find it."""
        return dict(self._identity, sync_dir=self.sync_dir, sync_dirs=self._sync_dirs, last_step=self.last_step,
                    last_frame=self.last_frame)

    def finish(self, exit_code: int = 0, sync_hint: bool = True) -> None:
        """Send the queued rows (bounded by ``CALL_TIMEOUT``); finish the run if hsi_wandb started it, and print
        how to sync an offline run that has rows (unless ``sync_hint`` is False: a run in a folder about to be deleted)."""
        flushed = self._flush()
        if not self._owned:
            return
        if not flushed:
            self._forget_dead_run()
            self._restore_data_dir()
            return
        if self._next_step is None:
            step = self._call("read the step", lambda: self._run.step)
            if step:
                self.last_step = step - 1
        finished = self._bounded("finish the run", self._run.finish, exit_code=exit_code)
        if finished is False and not self._failed:  # it raised, W&B still answers: once more, for the exit record
            finished = self._bounded("finish the run once more", self._run.finish, exit_code=exit_code)
        if finished is None:
            self._forget_dead_run()
            self._restore_data_dir()
            return
        if self._failed:
            self._bounded("tear down", self._wandb.teardown)
        if self._failed or not finished:
            self._forget_dead_run()
        self._restore_data_dir()
        if self.mode == "offline" and sync_hint and self.last_step is not None:
            experiment_dir = os.path.dirname(os.path.dirname(self.sync_dir))
            say("offline run saved; to upload it with its checkpoints, from any directory: python -m hsi_wandb sync "
                "{} (or, from this directory only: wandb sync {})".format(
                    shlex.quote(os.path.abspath(experiment_dir)),
                    " ".join(shlex.quote(_relative_if_inside(d)) for d in self._sync_dirs)))


def _define_axes(run: Any) -> None:
    run.define_metric("frame")
    run.define_metric("*", step_metric="frame", step_sync=True)


def prepare_start(settings: WandbSettings, environ: Optional[Mapping[str, str]] = None) -> None:
    """Get ready, before the trainer builds its environment and agent, for the run :func:`start_run` will start
    (global rank 0, W&B enabled; other ranks never import W&B): load W&B, and on a thread while the trainer builds,
    for an online run check the server (start_run waits for the answer and says what it means, as it would have),
    for an offline one start W&B's service."""
    if not settings.enabled or not is_global_rank_zero():
        return
    preload()
    del _prepared[:]
    if live_run() is not None:
        return
    if settings.mode == "online":
        _prepared.append(_Probe(dict(os.environ if environ is None else environ), settings.api_key))
    elif settings.mode == "offline":
        threading.Thread(target=_start_offline_service, name="hsi_wandb-service", daemon=True).start()


def _start_offline_service() -> None:
    """Start W&B's service process, offline, as :func:`start_run` does before ``wandb.init``: spawning it and waiting
    for it to listen is mostly waiting, done while the trainer builds. The start's own ``wandb.setup`` then finds it
    running (or waits for it under W&B's setup lock); a failure here is met again, and reported, there."""
    wandb = sys.modules.get("wandb")
    if wandb is None:
        return
    try:
        wandb.setup(settings=wandb.Settings(mode="offline"))
    except Exception:
        return


def start_run(settings: WandbSettings, run_dir: str, config: Mapping[str, Any], name: Optional[str] = None,
              job_type: Optional[str] = None, group: Optional[str] = None,
              previous: Optional[Mapping[str, Any]] = None, environ: Optional[Mapping[str, str]] = None) -> Any:
    """Start (or reuse) the W&B run on global rank 0; every other case gets a :class:`NullRun`.

    ``previous`` (a run record with ``run_id``) continues that run instead of creating a second one. A run the user
    started is reused as they configured it: its axes are not redefined, its config only gains the keys it lacks.
    An eval run is never that run: inside a live training process it is a run of its own beside it (W&B's
    ``reinit="create_new"``), which leaves the live run, its steps and ``wandb.run`` as they were.
    """
    environ = os.environ if environ is None else environ
    if not settings.enabled or not is_global_rank_zero():
        return NullRun()
    wandb = load_wandb()
    if wandb is None:
        return NullRun()
    live = wandb.run
    if live is not None and job_type != "eval":
        reused = WandbRun(wandb, live, owned=False)
        reused.add_config(config)
        return reused
    section = settings.wandb
    mode = settings.mode
    if mode == "online":
        reason = _probed_reason(environ, settings.api_key)
        if reason:
            say("{}; logging offline instead".format(reason))
            mode = "offline"
    os.makedirs(run_dir, exist_ok=True)
    kwargs: Dict[str, Any] = dict(project=section.project, entity=section.entity, name=name or section.name,
                                  group=section.group or group, tags=list(section.tags) or None, notes=section.notes,
                                  job_type=job_type, dir=os.path.abspath(run_dir), config=dict(config))
    if previous and previous.get("run_id"):
        kwargs.update(id=previous["run_id"], resume="allow")
    if live is not None:
        kwargs.update(reinit="create_new")
    extra = dict(section.init_kwargs)
    run_settings: Dict[str, Any] = dict({"init_timeout": section.init_timeout}, **extra.pop("settings", {}))
    if settings.api_key:
        run_settings["api_key"] = settings.api_key
    kwargs.update(extra)
    if live is None:
        _drop_tensorboard_patch(wandb)
    try:
        if mode == "offline" and live is None:  # W&B's process-wide mode rules its telemetry, which calls the server
            wandb.setup(settings=wandb.Settings(mode="offline"))
        run = wandb.init(mode=mode, settings=wandb.Settings(**run_settings), **kwargs)
    except Exception as exc:
        if mode != "online":
            warnings.warn("hsi_wandb: could not start a W&B run ({}); training continues with TensorBoard "
                          "only".format(exc), RuntimeWarning)
            return NullRun()
        say("online start failed ({}: {}); logging offline instead".format(type(exc).__name__, exc))
        return start_run(WandbSettings("offline", section, settings.source), run_dir, config, name, job_type,
                         group, previous, environ)
    started = WandbRun(wandb, run, owned=True, previous=previous)
    started.define_axes()
    if mode == "online" and getattr(getattr(run, "settings", None), "silent", False):
        say("W&B run {}: {}".format(getattr(run, "name", ""), getattr(run, "url", "")))
    return started


def _drop_tensorboard_patch(wandb: Any) -> None:
    """Remove the TensorBoard patch an earlier ``sync_tensorboard`` run of this process left (W&B never removes it):
    while it is in place, W&B ignores the step of every row, and a resumed offline segment's rows would take the
    steps of the segment before."""
    if not getattr(wandb, "patched", {}).get("tensorboard"):
        return
    try:
        wandb.tensorboard.unpatch()
    except Exception as exc:
        warnings.warn("hsi_wandb: could not remove W&B's TensorBoard patch of an earlier sync_tensorboard run ({}); "
                      "W&B may ignore this run's row steps".format(exc), RuntimeWarning)
        return
    say("removed W&B's TensorBoard patch that an earlier sync_tensorboard run in this process left (it makes W&B "
        "ignore row steps); this run mirrors the scalars itself")


def save_run_record(experiment_dir: str, run: Any) -> None:
    """Write the run's identity to ``<experiment_dir>/wandb_run.json`` (nothing for a NullRun)."""
    record = run.describe()
    if record:
        with open(os.path.join(experiment_dir, RUN_RECORD), "w") as f:
            json.dump(record, f, indent=1)


def load_run_record(experiment_dir: str) -> Dict[str, Any]:
    """The identity of the run that trained in ``experiment_dir``; empty when there was none."""
    try:
        with open(os.path.join(experiment_dir, RUN_RECORD)) as f:
            return dict(json.load(f))
    except (OSError, ValueError):
        return {}
