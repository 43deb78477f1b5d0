"""Policy player for AMP checkpoints, shaped like TokenHSI's: ``run()`` evaluates through ``run_eval()`` in eval mode."""
import json
import os
import time
from typing import Any, Dict, Optional

import torch
from rl_games.algos_torch import players

from hsi_wandb.evaluation import checkpoint_origin, load_checkpoint, run_folder

from .success import evaluate
from .inputs import fitting
from .rollout_video import RolloutRecorder


class AMPPlayer(players.PpoPlayerContinuous):
    """rl_games' continuous player acting deterministically on a batched built-in task.

    With ``eval`` set in the config (``--test --eval``) ``run()`` calls ``run_eval()``, which measures success rates
    (``config['evaluation']``: num_trials, num_repeats, exp_names, seed), prints them, writes
    ``<checkpoint>_eval.json`` and returns them; without it ``run()`` only prints them.
    """

    def __init__(self, config: Dict[str, Any]) -> None:
        """The rl_games player plus the evaluation switch and settings."""
        self._eval = bool(config.get("eval", False))
        self._evaluation = dict(config.get("evaluation") or {})
        self._task = config.get("env_config", {}).get("task", "")
        self._video_len = int(config.get("capture_video_len", 100)) if config.get("capture_video") else None
        self._checkpoint_fn = ""
        super().__init__(config)

    def act(self, obs: torch.Tensor) -> torch.Tensor:
        """Deterministic (mean) actions for a batch of observations, rescaled to the action space."""
        self.has_batch_dimension = True
        return self.get_action(obs, is_determenistic=True)

    def restore(self, fn: str) -> None:
        """Load actor weights and observation normaliser from an AMPAgent checkpoint onto this player's device."""
        self._checkpoint_fn = fn
        checkpoint = load_checkpoint(fn)
        with fitting(fn, self._task):
            self.model.load_state_dict(checkpoint["model"])
            if self.normalize_input:
                self.running_mean_std.load_state_dict(checkpoint["running_mean_std"])

    def run(self) -> Any:
        """Evaluate with ``eval`` set (TokenHSI's switch), else run the trials and only print them."""
        if self._eval:
            return self.run_eval()
        self._print(self._trials())
        return None

    def run_eval(self) -> Dict[str, Dict[str, Any]]:
        """Run the trials, print them, write ``<checkpoint>_eval.json`` and return the results.

        With ``capture_video`` the first ``capture_video_len`` steps are recorded to ``videos/eval/`` in the
        experiment folder of the checkpoint's training run.
        """
        origin = checkpoint_origin(self._checkpoint_fn)
        recorder = self._recorder(origin)
        try:
            results = self._trials()
        finally:
            if recorder is not None:
                recorder.close()
                self.env.recorder = None
        self._print(results)
        for path in recorder.written if recorder is not None else []:
            print("evaluation video written to {}".format(path))
        out_path = os.path.splitext(self._checkpoint_fn)[0] + "_eval.json"
        with open(out_path, "w") as f:
            json.dump({"checkpoint": origin.path, "epoch": origin.epoch, "frame": origin.frame, "task": self._task,
                       "results": results}, f, indent=1)
        print("evaluation written to {}".format(out_path))
        return results

    def _recorder(self, origin: Any) -> Optional[RolloutRecorder]:
        if self._video_len is None:
            return None
        recorder = RolloutRecorder(os.path.join(run_folder(origin), "videos", "eval"), self._video_len,
                                   fps=1.0 / self.env.dt)
        stem = os.path.splitext(os.path.basename(self._checkpoint_fn))[0]
        recorder.start("{}-{}".format(stem, time.strftime("%Y%m%d-%H%M%S")))
        self.env.recorder = recorder
        return recorder

    def _trials(self) -> Dict[str, Dict[str, Any]]:
        settings = self._evaluation
        return evaluate(self, int(settings.get("num_trials") or self.env.num_envs),
                        num_repeats=int(settings.get("num_repeats") or 1), exp_names=settings.get("exp_names"),
                        seed=int(settings.get("seed") or 0))

    @staticmethod
    def _print(results: Dict[str, Dict[str, Any]]) -> None:
        for name, metrics in results.items():
            print("eval {}: {}".format(name, ", ".join("{}={}".format(k, v) for k, v in metrics.items())))
