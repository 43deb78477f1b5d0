"""Train the tiny env with the W&B mirror on every rank of a torchrun (gloo, CPU)::

    torchrun --standalone --nproc_per_node=2 tests/ddp_train.py <train_dir> [none|own]

rl-games 1.1.4 synchronises ranks through horovod only, so the config says ``multi_gpu: False`` and a gloo
stand-in gives its multi-GPU loop what it calls (parameter broadcast, averaged gradients and statistics, rank
0's stop signal). Rank 1 gets no writer, as rl_games gives non-zero ranks (``none``), or keeps its own
(``own``), so that only hsi_wandb's global-rank check stands between it and W&B. Each rank trains in
``<train_dir>/rank<N>`` and writes ``<train_dir>/rank<N>.json``: its epochs and whether it imported wandb.
"""
import contextlib
import faulthandler
import json
import os
import sys

import torch
import torch.distributed as dist

TESTS = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [TESTS, os.path.dirname(TESTS)]

import tiny_env  # noqa: E402
from rl_games.algos_torch import a2c_continuous  # noqa: E402
from rl_games.torch_runner import Runner  # noqa: E402

from hsi_wandb.adapter import apply_to_runner  # noqa: E402


class GlooSync:
    """What rl_games 1.1.4's loop calls on its HorovodWrapper and DistributedOptimizer, over torch.distributed."""

    def __init__(self):
        self.rank, self.rank_size = dist.get_rank(), dist.get_world_size()

    def setup_algo(self, algo):
        for tensor in algo.model.state_dict().values():
            dist.broadcast(tensor, 0)
        algo.optimizer.synchronize = lambda: self.average_gradients(algo.model)
        algo.optimizer.skip_synchronize = contextlib.nullcontext
        self.sync_stats(algo)

    def average_gradients(self, model):
        for param in model.parameters():
            if param.grad is not None:
                param.grad.copy_(self.average_value(param.grad))

    def sync_stats(self, algo):
        for stats in algo.get_stats_weights().values():
            for tensor in stats.values():
                tensor.copy_(self.average_value(tensor))
        frames = torch.tensor(algo.curr_frames)
        dist.all_reduce(frames)
        algo.curr_frames = int(frames)

    def broadcast_value(self, value, name=None):
        dist.broadcast(value, 0)

    def average_value(self, value, name=None):
        total = value.detach().clone()
        dist.all_reduce(total)
        return total / self.rank_size


def distributed_agent(rank1_writer, built):
    """A builder of PPO agents that join the process group; rank 1 drops its writer unless ``rank1_writer``."""

    def build(**kwargs):
        agent = a2c_continuous.A2CAgent(**kwargs)
        agent.multi_gpu, agent.hvd = True, GlooSync()
        agent.rank, agent.rank_size = agent.hvd.rank, agent.hvd.rank_size
        if agent.rank != 0 and rank1_writer == "none":
            agent.writer.close()
            agent.writer = None
        built.append(agent)
        return agent

    return build


HANG_REPORT_S = 200
"""A rank still running after this prints every thread's stack and exits, so a hang shows where it is (the test
waits 300 s)."""


def main(train_dir, rank1_writer="none"):
    faulthandler.dump_traceback_later(HANG_REPORT_S, exit=True)
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    tiny_env.register()
    cfg = tiny_env.train_config(os.path.join(train_dir, "rank{}".format(rank)), max_epochs=3, multi_gpu=False)
    built = []
    runner = Runner()
    runner.algo_factory.register_builder("a2c_continuous", distributed_agent(rank1_writer, built))
    apply_to_runner(runner, cfg, source="tiny.yaml")
    runner.load(cfg)
    runner.run({"train": True, "play": False, "checkpoint": None})
    wandb = sys.modules.get("wandb")
    if rank != 0:
        assert wandb is None or wandb.run is None
    with open(os.path.join(train_dir, "rank{}.json".format(rank)), "w") as f:
        json.dump({"rank": rank, "world_size": dist.get_world_size(), "epochs": built[0].epoch_num,
                   "wandb_imported": wandb is not None, "has_writer": built[0].writer is not None}, f)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(*sys.argv[1:])
