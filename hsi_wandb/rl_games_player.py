"""rl_games adapter for players: the results a player's evaluation computes reach W&B, the player left unchanged.

TokenHSI's players evaluate in ``run()`` -> ``run_eval()`` when ``eval: True`` is in ``params.config``: they print
each experiment, write ``<checkpoint dir>/../metrics/<checkpoint name>/[<eval task>/]metrics_<time>.json`` and return
nothing. The results are taken from what ``run_eval`` returns when it returns them, else from that JSON file.
"""
import glob
import json
import os
import time
import warnings
from typing import Any, Dict, Optional

from .evaluation import check_results, log_results
from .mixing import Mixin, mix_into

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
    """Wraps a player's ``restore`` (to know the checkpoint), ``run`` and, where it exists, ``run_eval``."""

    _wandb_optional = ("run_eval",)

    def _wandb_attach(self, options: Any) -> None:
        self._wandb_options = options
        self._wandb_checkpoint: Optional[str] = None
        self._wandb_results: Optional[Any] = None

    def restore(self, fn: str) -> Any:
        """Restore as the player does and remember the checkpoint."""
        self._wandb_checkpoint = fn
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
        """Run as the player does; evaluation results it produced go to an eval run grouped with the training run."""
        started, self._wandb_results = time.time(), None
        result = self._wandb_next().run(*args, **kwargs)
        try:
            self._wandb_log_results(started)
        except Exception as exc:
            warnings.warn("hsi_wandb: could not log the evaluation results to W&B ({}: {}); the player's own output "
                          "is unaffected".format(type(exc).__name__, exc), RuntimeWarning)
        return result

    def _wandb_log_results(self, started: float) -> None:
        results, checkpoint = self._wandb_results, self._wandb_checkpoint
        if results is None and checkpoint and os.path.isfile(checkpoint):
            results = results_written_since(checkpoint, started)
        if results is None:
            return
        options = self._wandb_options
        checkpoint = checkpoint if checkpoint and os.path.isfile(checkpoint) else None
        log_results(options.settings, options.config, results, checkpoint, options.task, videos_since=started)


def attach_player(player: Any, options: Any) -> Any:
    """Give an already built player the mixin (its class becomes ``Wandb<Class>``) with ``options``."""
    mix_into(player, WandbPlayerMixin)._wandb_attach(options)
    return player
