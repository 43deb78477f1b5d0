"""rl_games adapter for players: the results a player's evaluation computes reach W&B, the player left unchanged.

TokenHSI's players evaluate in ``run()`` -> ``run_eval()`` when ``eval: True`` is in ``params.config``: they print
each experiment, write ``<checkpoint dir>/../metrics/<checkpoint name>/[<eval task>/]metrics_<time>.json`` and return
nothing. The results are taken from what ``run_eval`` returns when it returns them, else from that JSON file.

Given a folder or a glob pattern as its checkpoint (``--checkpoint output/<exp>/nn/``), the player evaluates every
checkpoint there in epoch order, restored one after the other into the same player, into one eval run: success
rate against training progress.
"""
import glob
import json
import os
import time
import warnings
from typing import Any, Dict, List, Optional

from ..evaluation import (CheckpointOrigin, EvalRun, NoCheckpoints, check_results, find_checkpoints,
                         in_epoch_order)
from ..interrupts import Terminated, sigterm_as_interrupt
from ..lifecycle import say
from .mixing import Mixin, mix_into
from ..sinks import ProgressBar

METRICS_FOLDER = os.path.join(os.pardir, "metrics")
"""Where TokenHSI's players write results, relative to the checkpoint's folder."""


def results_written_since(checkpoint: str, since: float) -> Optional[Dict[str, Any]]:
    """The newest results JSON a TokenHSI-style player wrote for ``checkpoint`` at or after ``since``, if any."""
    stem = os.path.splitext(os.path.basename(checkpoint))[0]
    folder = os.path.join(os.path.dirname(os.path.abspath(checkpoint)), METRICS_FOLDER, stem)
    files = [f for f in glob.glob(os.path.join(folder, "**", "*.json"), recursive=True)
             if os.path.getmtime(f) >= since - 1.0]
    if not files:
        return None
    newest = max(files, key=os.path.getmtime)
    with open(newest) as f:
        return check_results(json.load(f))


class WandbPlayerMixin(Mixin):
    """Wraps a player's ``restore`` (to know the checkpoints), ``run`` and, where it exists, ``run_eval``."""

    _wandb_optional = ("run_eval",)

    def _wandb_attach(self, options: Any) -> None:
        self._wandb_options = options
        self._wandb_target: Optional[str] = None
        self._wandb_checkpoints: List[str] = []
        self._wandb_restored: Optional[str] = None
        self._wandb_results: Optional[Any] = None

    def restore(self, fn: str) -> Any:
        """Restore as the player does and remember the checkpoint; of a folder or pattern naming several, remember
        them all (``run()`` restores each in turn). NoCheckpoints when it names none."""
        self._wandb_target, self._wandb_checkpoints = fn, find_checkpoints(fn)
        if len(self._wandb_checkpoints) > 1:
            self._wandb_restored = None
            return None
        self._wandb_restored = os.path.abspath(fn)
        return self._wandb_next().restore(fn)

    def run_eval(self, *args: Any, **kwargs: Any) -> Any:
        """Evaluate as the player does and keep what it returns when that is a results mapping."""
        result = self._wandb_next().run_eval(*args, **kwargs)
        try:
            self._wandb_results = check_results(result)
        except ValueError:
            self._wandb_results = None
        return result

    def run(self, *args: Any, **kwargs: Any) -> Any:
        """Run as the player does, once per checkpoint in epoch order; the results of each go to one eval run
        grouped with the training run. An interrupted evaluation, started again, continues that run (EvalRun).

        Of several checkpoints, one the player cannot restore (another task's or network's) is named in one line
        and skipped; when it cannot restore any, the first error is raised. Their progress shows as a bar on a
        terminal, else as a line per checkpoint."""
        options = self._wandb_options
        origins = self._wandb_in_epoch_order()
        evaluation = EvalRun(options.settings, options.config, origins, options.task, target=self._wandb_target)
        pending, several = evaluation.pending, len(origins) > 1
        bar = ProgressBar(len(origins), len(origins) - len(pending), unit="checkpoint") if (
            several and options.settings.wandb.progress) else None
        result, errors = None, []
        with sigterm_as_interrupt():
            try:
                with evaluation:
                    for count, origin in enumerate(pending, len(origins) - len(pending) + 1):
                        if several and not (bar is not None and bar.enabled):
                            say("checkpoint {}/{}: {} (epoch {})".format(count, len(origins), origin.path,
                                                                         origin.epoch))
                        error = self._wandb_restore(origin, evaluation, several)
                        if error is None:
                            result = self._wandb_run_one(origin, evaluation, args, kwargs)
                        errors.append(error)
                        if bar is not None:
                            bar.advance(epoch=origin.epoch if origin else None)
            except Terminated as exc:
                exc.hand_on()
            finally:
                if bar is not None:
                    bar.close()
        if errors and all(errors):
            raise errors[0]
        return result

    def _wandb_in_epoch_order(self) -> List[Optional[CheckpointOrigin]]:
        """The checkpoints restore() was given, in epoch order, each file left out named in one line; ``[None]``
        when it was given none (or one the evaluation cannot read: the player is run on it all the same)."""
        checkpoints = self._wandb_checkpoints
        origins, notes = in_epoch_order(checkpoints)
        if len(checkpoints) > 1:
            for note in notes:
                say(note)
            if not origins:
                raise NoCheckpoints("{}: none of its {} files is a checkpoint".format(self._wandb_target,
                                                                                     len(checkpoints)))
        return list(origins) or [None]

    def _wandb_restore(self, origin: Optional[CheckpointOrigin], evaluation: EvalRun,
                       several: bool) -> Optional[Exception]:
        """Restore ``origin`` unless it is restored already; the error that made it skipped, if any."""
        if origin is None or origin.path == self._wandb_restored:
            return None
        try:
            self._wandb_next().restore(origin.path)
        except Exception as exc:
            if not several:
                raise
            say("skipped {}: the player cannot restore it ({}: {})".format(
                origin.path, type(exc).__name__, (str(exc).strip().splitlines() or [""])[0]))
            evaluation.skip(origin)
            return exc
        self._wandb_restored = origin.path
        return None

    def _wandb_run_one(self, origin: Optional[CheckpointOrigin], evaluation: EvalRun, args: Any, kwargs: Any) -> Any:
        """Run the player on the restored checkpoint and log what it evaluated (a failure to log only warns)."""
        started, self._wandb_results = time.time(), None
        result = self._wandb_next().run(*args, **kwargs)
        try:
            results = self._wandb_results
            if results is None and origin is not None and os.path.isfile(origin.path):
                results = results_written_since(origin.path, started)
            if results is not None:
                evaluation.log(origin, results, videos_since=started)
        except Exception as exc:
            warnings.warn("hsi_wandb: could not log the evaluation results to W&B ({}: {}); the player's own output "
                          "is unaffected".format(type(exc).__name__, exc), RuntimeWarning)
        return result


def attach_player(player: Any, options: Any) -> Any:
    """Give an already built player the mixin (its class becomes ``Wandb<Class>``) with ``options``."""
    mix_into(player, WandbPlayerMixin)._wandb_attach(options)
    return player
