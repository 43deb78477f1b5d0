"""Video files a simulator writes during a real rl_games training reach the offline W&B run once each, complete,
at the frame of the epoch they were finished in (``wandb.videos``)."""
import glob
import hashlib
import os
import sys
import threading
import time
import warnings

import imageio.v2 as imageio
import numpy as np
import pytest
import torch
import yaml
from rl_games.algos_torch import a2c_continuous
from rl_games.torch_runner import Runner

import tiny_env
from conftest import working_in
from hsi_wandb import ConfigError, resolve_settings, videos
from hsi_wandb.builtin import registry
from hsi_wandb.builtin.rollout_video import RolloutRecorder
from hsi_wandb.adapter import apply_to_runner
import run
from offline_run import OfflineRun, offline_runs

EPOCHS = 8
WRITES = {2: "train/rl-video-step-0.mp4", 4: "train/rl-video-step-1000.mp4"}
GROWING = "eval_cam/clip.gif"
"""Written by a slow encoder from epoch GROWING_FROM, finished at epoch GROWING_DONE: it changes every 50 ms, however
long the epochs in between take."""
GROWING_FROM, GROWING_DONE = 3, 6


def frames(seed, count=12):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 255, (64, 64, 3), dtype=np.uint8) for _ in range(count)]


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class SlowEncoder(threading.Thread):
    """Appends a few bytes of ``data`` to ``path`` every 50 ms until told to finish, then writes the rest."""

    def __init__(self, path, data):
        super().__init__(daemon=True)
        self.path, self.data, self.finish = path, data, threading.Event()

    def run(self):
        written = 0
        with open(self.path, "wb", buffering=0) as f:
            while not self.finish.wait(0.05):
                f.write(self.data[written:written + 64])
                written += 64
            f.write(self.data[written:])


class WritesVideos(a2c_continuous.A2CAgent):
    """Writes video files under ``<experiment>/videos`` while it trains, as gym's RecordVideo would."""

    gif_bytes = b""

    def update_epoch(self):
        epoch = super().update_epoch()
        folder = os.path.join(self.experiment_dir, "videos")
        time.sleep(0.05)  # file times come from a coarser clock than time.time(): keep clear of the row just sent
        if epoch in WRITES:
            path = os.path.join(folder, WRITES[epoch])
            os.makedirs(os.path.dirname(path), exist_ok=True)
            imageio.mimwrite(path, frames(epoch), fps=10, macro_block_size=1)
            with open(path[:-4] + ".meta.json", "w") as f:
                f.write('{"step_id": %d}' % epoch)
        if epoch == GROWING_FROM:
            os.makedirs(os.path.join(folder, os.path.dirname(GROWING)), exist_ok=True)
            self.encoder = SlowEncoder(os.path.join(folder, GROWING), self.gif_bytes)
            self.encoder.start()
        if epoch == GROWING_DONE:
            self.encoder.finish.set()
            self.encoder.join()
        return epoch


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("videos")
    gif = tmp_path / "source.gif"
    imageio.mimwrite(gif, frames(0, 40), duration=0.1)
    WritesVideos.gif_bytes = gif.read_bytes()
    with working_in(tmp_path), pytest.MonkeyPatch.context() as patch:
        patch.setattr(videos, "SCAN_INTERVAL", 0.1)
        patch.setattr(videos, "SETTLE", 1.5)
        tiny_env.register()
        cfg = tiny_env.train_config(tmp_path / "runs", max_epochs=EPOCHS)
        cfg["wandb"]["videos"] = "videos"
        exp_dir = tmp_path / "runs" / "point"
        old = exp_dir / "videos" / "train" / "from-an-earlier-run.mp4"
        old.parent.mkdir(parents=True)
        imageio.mimwrite(old, frames(99), fps=10, macro_block_size=1)
        os.utime(old, (time.time() - 60, time.time() - 60))
        runner = Runner()
        runner.algo_factory.register_builder("a2c_continuous", lambda **kw: WritesVideos(**kw))
        apply_to_runner(runner, cfg, source="tiny.yaml")
        runner.load(cfg)
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always")
            runner.run({"train": True, "play": False, "checkpoint": None})
        (run_dir,) = offline_runs(exp_dir)
        yield exp_dir, run_dir, OfflineRun(run_dir), [str(w.message) for w in warned if "hsi_wandb" in str(w.message)]


def video_rows(run):
    """(key, row) for each video; W&B's reader flattens a video's fields (``videos/train.path``) into the row."""
    found = []
    for row in run.history:
        for key in sorted({k.split(".")[0] for k in row if k.startswith("videos/")}):
            found.append((key, dict(row, **{key: {k.split(".", 1)[1]: v for k, v in row.items()
                                                  if k.startswith(key + ".")}})))
    return found


@pytest.mark.slow
def test_each_new_video_is_logged_once_at_the_frame_of_the_epoch_it_was_finished_in(trained):
    exp_dir, _, run, warned = trained
    assert not warned
    frame_of = {row["epoch"]: row["frame"] for row in run.history if "losses/a_loss" in row}
    assert sorted(frame_of)[:EPOCHS] == list(range(1, EPOCHS + 1))
    logged = [(key, row["epoch"], row["frame"]) for key, row in video_rows(run)]
    expected = [("videos/train", e, frame_of[e]) for e in WRITES] + [("videos/eval_cam", GROWING_DONE,
                                                                      frame_of[GROWING_DONE])]
    assert sorted(logged, key=lambda k: k[1]) == expected, "once each, in order, the older file and .json left out"


@pytest.mark.slow
def test_the_uploaded_copy_is_the_complete_file_inside_the_run_folder(trained):
    exp_dir, run_dir, run, _ = trained
    sources = {e: exp_dir / "videos" / name for e, name in WRITES.items()}
    sources[GROWING_DONE] = exp_dir / "videos" / GROWING
    assert sha256(sources[GROWING_DONE]) == hashlib.sha256(WritesVideos.gif_bytes).hexdigest()
    for key, row in video_rows(run):
        media = row[key]
        assert media["_type"] == "video-file"
        copy = os.path.join(run_dir, "files", media["path"])
        assert os.path.isfile(copy), "offline, the video lives inside the run folder"
        assert sha256(copy) == media["sha256"] == sha256(sources[row["epoch"]]), "never a half-written file"
        assert media["path"].endswith(os.path.splitext(str(sources[row["epoch"]]))[1])


class Recorder:
    def __init__(self, fail=False):
        self.fail, self.logged = fail, []

    def log_video(self, key, path, frame, epoch):
        if self.fail:
            raise OSError("unreadable")
        self.logged.append((key, os.path.basename(path), frame, epoch))


def test_a_file_that_cannot_be_read_is_one_warning_and_the_others_still_go(tmp_path):
    for name in ("a.mp4", "b.gif", "notes.txt"):
        (tmp_path / "cam" / name).parent.mkdir(exist_ok=True)
        (tmp_path / "cam" / name).write_bytes(b"x")
    os.mkfifo(tmp_path / "cam" / "pipe.mp4")
    broken = videos.VideoWatcher(Recorder(fail=True), "cam", str(tmp_path), since=0, watch=False)
    with pytest.warns(RuntimeWarning) as warned:
        broken.log_row({"frame": 10, "epoch": 1})
        broken.close()
    assert len(warned) == 1 and "could not read video" in str(warned[0].message)
    recorder = Recorder()
    glob_watcher = videos.VideoWatcher(recorder, "cam/*", str(tmp_path), since=0, watch=False)
    glob_watcher.log_row({"frame": 10, "epoch": 1})
    glob_watcher.close()
    assert recorder.logged == [("videos/cam", "a.mp4", 10, 1), ("videos/cam", "b.gif", 10, 1)], \
        "a glob works like a folder; a pipe or a text file is not a video"


def small_task(num_envs=8):
    cfg_env = yaml.safe_load(open(registry.default_config_paths("PointMassMultiTask")[0]))
    cfg_env["env"]["numEnvs"] = num_envs
    return registry.create_task("PointMassMultiTask", cfg_env, "cpu", seed=0)


def test_a_video_that_cannot_be_written_is_one_warning_and_the_task_goes_on(tmp_path):
    (tmp_path / "taken").write_text("a file where the video folder should be")
    recorder = RolloutRecorder(str(tmp_path / "taken" / "videos"), length=3, fps=30)
    task = small_task()
    task.recorder = recorder
    with pytest.warns(RuntimeWarning) as warned:
        for name in ("first", "second"):
            recorder.start(name)
            for _ in range(4):
                task.step(torch.zeros(task.num_envs, 2))
        recorder.close()
    assert len(warned) == 1 and "could not write video" in str(warned[0].message)
    assert recorder.written == [] and os.listdir(tmp_path) == ["taken"], "no partial file left behind"


def test_a_recording_under_way_is_written_complete_and_not_restarted(tmp_path):
    recorder = RolloutRecorder(str(tmp_path / "videos"), length=6, fps=30)
    task = small_task(num_envs=3)
    task.recorder = recorder
    assert recorder.start("a")
    for _ in range(4):
        task.step(torch.zeros(task.num_envs, 2))
    assert not recorder.start("b"), "a recording under way goes on"
    for _ in range(4):
        task.step(torch.zeros(task.num_envs, 2))
    recorder.close()
    assert sorted(os.listdir(tmp_path / "videos")) == ["a.mp4"]
    with imageio.get_reader(tmp_path / "videos" / "a.mp4") as reader:
        assert [frame.shape for frame in reader] == [(192, 192, 3)] * 6, "three envs fill three of four tiles"


def test_capture_video_without_the_extra_is_one_line_before_anything_starts(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)
    assert run.main(["--capture_video", "--output_path", "out"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ['run.py: error: --capture_video needs the video extra: pip install -e ".[video]" (imageio-ffmpeg, '
                   'with its ffmpeg)']
    assert not os.path.exists("out")


@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_videos_key_is_refused(value):
    with pytest.raises(ConfigError, match="wandb.videos"):
        resolve_settings({"wandb": {"videos": value}}, "train.yaml")


@pytest.mark.slow
def test_with_wandb_off_the_first_epoch_is_recorded_whatever_the_frequency(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run.main(["--no_wandb", "--capture_video", "--capture_video_len", "4",
                     "--max_iterations", "1", "--num_envs", "64", "--minibatch_size", "1024", "--output_path", "out",
                     "--no_progress", "params.config.amp_obs_demo_buffer_size=4096",
                     "params.config.amp_replay_buffer_size=4096", "params.config.amp_minibatch_size=512"]) == 0
    (video,) = glob.glob("out/*/videos/train/*.mp4")
    assert os.path.basename(video) == "epoch_00001.mp4" and not glob.glob("out/*/wandb")
