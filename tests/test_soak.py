"""Soak: 20,000 rows through WandbWriter into a real offline run; memory stays flat and every row is kept."""
import gc

import psutil
import pytest

from hsi_wandb.adapter import tags as rl_games_tags
from hsi_wandb import WandbWriter, resolve_settings, start_run
from offline_run import OfflineRun

ROWS = 20000
BASELINE = 5000
"""Memory is compared between this row and the last: 15,000 rows of growth."""
TAGS = ["performance/step_fps", "losses/a_loss", "losses/c_loss", "losses/entropy", "info/kl", "info/last_lr",
        "rewards/step", "rewards/iter", "rewards/time", "episode_lengths/step"]
MIB = 1 << 20


class NullWriter:
    """A SummaryWriter that keeps nothing, so only the mirror and W&B can grow."""

    def add_scalar(self, *args, **kwargs):
        pass

    def close(self):
        pass


def rss(process):
    gc.collect()
    return process.memory_info().rss


@pytest.mark.slow
def test_long_run_keeps_memory_flat_and_loses_no_row(tmp_path):
    run = start_run(resolve_settings({"use_wandb": True, "wandb": {"mode": "offline"}}, "soak.yaml"),
                    str(tmp_path / "exp"), {})
    writer = WandbWriter(NullWriter(), run, tags=rl_games_tags)
    me = psutil.Process()
    (service,) = [p for p in me.children(recursive=True) if p.name() == "wandb-core"]
    memory = {}
    for epoch in range(1, ROWS + 1):
        writer.begin_epoch(epoch)
        for i, tag in enumerate(TAGS):
            writer.add_scalar(tag, epoch * 1e-3 + i, epoch * 4096)
        if epoch in (BASELINE, ROWS):
            memory[epoch] = (rss(me), service.memory_info().rss)
    writer.close()
    run.finish(0)
    (ours_start, service_start), (ours_end, service_end) = memory[BASELINE], memory[ROWS]
    assert ours_end - ours_start < 8 * MIB, memory
    assert service_end - service_start < 64 * MIB, memory
    rows = OfflineRun(run.sync_dir).history
    assert [r["epoch"] for r in rows] == list(range(1, ROWS + 1))
    assert rows[-1]["frame"] == ROWS * 4096 and rows[-1]["rewards/mean"] == pytest.approx(ROWS * 1e-3 + 6)
