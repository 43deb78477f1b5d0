"""Rollout videos of the built-in tasks: a few envs recorded for some steps, written as .mp4 files (the ``video``
extra: imageio-ffmpeg and the ffmpeg it ships), which ``wandb.videos`` then picks up like any simulator's videos."""
import os
from typing import Any, List, Optional, Tuple

import numpy as np

from ..warn_once import WarnOnce
from ..worker import Worker
from .render import render_envs

EXTRA_MISSING = '--capture_video needs the video extra: pip install -e ".[video]" (imageio-ffmpeg, with its ffmpeg)'


def encoder_missing() -> Optional[str]:
    """Why videos cannot be written here (the extra is not installed), or None."""
    try:
        import imageio_ffmpeg  # noqa: F401
    except ImportError:
        return EXTRA_MISSING
    return None


class RolloutRecorder:
    """Records the first ``envs`` envs of a built-in task for ``length`` steps from each :meth:`start`.

    The task calls :meth:`after_step` each step. A finished recording is encoded on a thread, under a temporary
    name renamed when complete, so training does not wait and a watcher never sees half a file. A recording that
    cannot be written is one warning; training goes on.
    """

    def __init__(self, folder: str, length: int, fps: float, envs: int = 4) -> None:
        self.folder = folder
        self.length = length
        self.fps = fps
        self.envs = envs
        self._name: Optional[str] = None
        self._frames: List[np.ndarray] = []
        self._encoder = Worker("hsi_wandb-video-encoder", self._write)
        self._once = WarnOnce()
        self.written: List[str] = []

    @property
    def recording(self) -> bool:
        """True between :meth:`start` and the last frame of that recording."""
        return self._name is not None

    def start(self, name: str) -> bool:
        """Record the next ``length`` steps as ``<folder>/<name>.mp4``; False when a recording is under way."""
        if self.recording:
            return False
        self._name, self._frames = name, []
        return True

    def after_step(self, task: Any) -> None:
        """Add the picture of the task's state now, while recording."""
        if not self.recording:
            return
        self._frames.append(render_envs(task, range(min(self.envs, task.num_envs))))
        if len(self._frames) >= self.length:
            self._finish()

    def close(self) -> None:
        """Write what a recording under way has so far; wait for every file to be written."""
        if self.recording and self._frames:
            self._finish()
        self._name = None
        self._encoder.close()

    def _finish(self) -> None:
        self._encoder.submit((os.path.join(self.folder, self._name + ".mp4"), self._frames))
        self._name, self._frames = None, []

    def _write(self, item: Tuple[str, List[np.ndarray]]) -> None:
        path, frames = item
        partial = path + ".part"
        try:
            import imageio_ffmpeg

            os.makedirs(self.folder, exist_ok=True)
            height, width = frames[0].shape[:2]
            encoder = imageio_ffmpeg.write_frames(partial, (width, height), fps=self.fps, codec="libx264",
                                                  pix_fmt_out="yuv420p", output_params=["-f", "mp4"],
                                                  macro_block_size=16, ffmpeg_log_level="error")
            encoder.send(None)
            try:
                for frame in frames:
                    encoder.send(np.ascontiguousarray(frame))
            finally:
                encoder.close()
            os.replace(partial, path)
            self.written.append(path)
        except Exception as exc:
            if os.path.isfile(partial):
                os.remove(partial)
            self._once.warn("video", "could not write video {} ({}: {}); training goes on (further video "
                            "problems are not reported)".format(path, type(exc).__name__, exc))
