"""Row sinks: the JSONL backup, the progress bar and the fan-out that keeps one failure from the others."""
import io
import json

from hsi_wandb.sinks import JsonlBackup, ProgressBar, RowFanout
from conftest import Terminal


ROW = {"frame": 4096, "epoch": 3, "rewards/mean": 12.5, "performance/total_fps": 40000.0,
       "losses/a_loss": -0.01, "losses/c_loss": float("nan"), "info/last_lr": 0.0003, "info/grad_norm": 1.25}


def test_progress_bar_shows_epoch_frame_fps_reward_losses_lr_and_grad_norm_on_a_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    out = Terminal()
    bar = ProgressBar(total_epochs=10, stream=out)
    assert bar.enabled
    bar.log_row(ROW)
    bar.close()
    text = out.getvalue()
    assert "3/10" in text
    for piece in ("frame=4096", "rew=12.5", "fps=4e+04", "a_loss=-0.01", "lr=0.0003", "grad_norm=1.25"):
        assert piece in text, text
    assert "c_loss" not in text


def test_an_80_column_terminal_keeps_the_bar_visible_and_drops_postfix_fields_from_the_end(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    out = Terminal()
    bar = ProgressBar(total_epochs=10, stream=out)
    bar.log_row(ROW)
    bar.close()
    line = out.getvalue().split("\r")[-1].strip()
    postfix = line[line.index("frame="):].rstrip("]")
    assert len(postfix) <= 80 - 50 and "frame=4096" in postfix and "grad_norm" not in postfix, line


def test_progress_bar_counts_the_checkpoints_of_an_evaluation_from_those_already_done():
    out = Terminal()
    bar = ProgressBar(3, 1, stream=out, unit="checkpoint")
    bar.advance(epoch=40)
    bar.close()
    text = out.getvalue()
    assert "1/3" in text and "2/3" in text and "checkpoint" in text and "epoch=40" in text, text


def test_progress_bar_is_silent_off_a_terminal():
    out = io.StringIO()
    bar = ProgressBar(total_epochs=10, stream=out)
    assert not bar.enabled
    bar.log_row(ROW)
    bar.close()
    assert out.getvalue() == ""


def test_jsonl_backup_appends_one_object_per_row(tmp_path):
    backup = JsonlBackup(str(tmp_path / "exp" / "metrics.jsonl"))
    backup.log_row({"frame": 1, "x": 0.5})
    backup.log_row({"frame": 2, "x": float("inf")})
    backup.close()
    rows = [json.loads(line) for line in open(tmp_path / "exp" / "metrics.jsonl")]
    assert rows == [{"frame": 1, "x": 0.5}, {"frame": 2, "x": float("inf")}]


def test_a_failing_sink_is_reported_once_and_the_others_go_on(recwarn):
    class Broken:
        def log_row(self, row):
            raise OSError("disk full")

    class Keeper:
        rows = []

        def log_row(self, row):
            self.rows.append(row)

    keeper = Keeper()
    fanout = RowFanout([Broken(), keeper])
    for i in range(3):
        fanout.log_row({"frame": i})
    assert len(keeper.rows) == 3
    assert len([w for w in recwarn if "Broken failed" in str(w.message)]) == 1
