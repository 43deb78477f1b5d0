"""The SummaryWriter mirror in isolation: delegation, one row per epoch, per-axis collapse."""
import math

import numpy as np
import torch
from hypothesis import given, strategies as st

from hsi_wandb.adapter import tags as rl_games_tags
from hsi_wandb import WandbWriter
from hsi_wandb.adapter.tags import map_tag
from conftest import RecordingWriter, RowSink, one_epoch_row


def test_every_call_reaches_the_wrapped_writer_unchanged():
    inner, sink = RecordingWriter(), RowSink()
    writer = WandbWriter(inner, sink, tags=rl_games_tags)
    value = torch.tensor(1.5)
    assert writer.add_scalar("losses/a_loss", value, 10, walltime=3.0) == "written"
    writer.add_histogram("w", [1, 2], 10)
    writer.close()
    assert inner.calls == [("add_scalar", ("losses/a_loss", value, 10), {"walltime": 3.0}),
                           ("add_histogram", ("w", [1, 2], 10), {}), ("close", (), {})]


def test_one_row_per_epoch_with_frame_epoch_and_collapsed_axes():
    sink = RowSink()
    writer = WandbWriter(RecordingWriter(), sink, tags=rl_games_tags)
    for epoch, frame in ((1, 0), (2, 4096)):
        writer.begin_epoch(epoch)
        writer.add_scalar("losses/a_loss", np.float32(0.5 * epoch), frame)
        writer.add_scalar("rewards0/frame", 2.0 * epoch, frame)
        writer.add_scalar("rewards0/iter", 2.0 * epoch, epoch)
        writer.add_scalar("rewards0/time", 2.0 * epoch, 12.5 * epoch)
        writer.add_scalar("Episode/success", 0.1, epoch)
    writer.flush_row()
    assert [(r["epoch"], r["frame"]) for r in sink.rows] == [(1, 0), (2, 4096)]
    assert sink.rows[1]["rewards/mean"] == 4.0 and sink.rows[1]["losses/a_loss"] == 1.0
    assert "rewards0/iter" not in sink.rows[1] and sink.rows[1]["Episode/success"] == 0.1
    assert all(r["wall_time"] >= 0 for r in sink.rows)


def test_conflicting_duplicate_is_kept_under_its_own_tag():
    sink = RowSink()
    writer = WandbWriter(RecordingWriter(), sink, tags=rl_games_tags)
    writer.begin_epoch(1)
    writer.add_scalar("rewards/step", 1.0, 100)
    writer.add_scalar("rewards/iter", 2.0, 1)
    writer.flush_row()
    assert sink.rows[0]["rewards/mean"] == 1.0 and sink.rows[0]["rewards/iter"] == 2.0


def test_without_epoch_marks_a_new_frame_starts_a_new_row():
    sink = RowSink()
    writer = WandbWriter(RecordingWriter(), sink, tags=rl_games_tags)
    for frame in (0, 100, 200):
        writer.add_scalar("a", frame / 100, frame)
        writer.add_scalar("b", -frame, frame)
    writer.close()
    assert [(r["frame"], r["epoch"], r["a"]) for r in sink.rows] == [(0, 1, 0.0), (100, 2, 1.0), (200, 3, 2.0)]


def test_a_failing_sink_never_breaks_the_writer(recwarn):
    class Broken:
        def log_row(self, row):
            raise OSError("disk full")

    inner = RecordingWriter()
    writer = WandbWriter(inner, Broken(), tags=rl_games_tags)
    for epoch in range(3):
        writer.begin_epoch(epoch)
        writer.add_scalar("x", epoch, epoch)
    writer.close()
    assert len(inner.calls) == 4
    assert len([w for w in recwarn if "hsi_wandb" in str(w.message)]) == 1


@given(st.lists(st.tuples(st.sampled_from(["losses/a_loss", "rewards0/frame", "rewards0/iter", "info/kl",
                                           "odd tag/ü/" + "x" * 200, "eval/sit/success_rate", "a/b/c/d"]),
                          st.floats(allow_nan=True, allow_infinity=True, width=32)), min_size=1, max_size=30))
def test_last_value_of_every_tag_is_in_the_row(writes):
    row = one_epoch_row(writes, 10)

    def same(a, b):
        return a == b or (math.isnan(a) and math.isnan(b))

    for tag, value in dict(writes).items():
        assert any(k in row and same(row[k], value) for k in (map_tag(tag).key, tag)), (tag, value, row)
