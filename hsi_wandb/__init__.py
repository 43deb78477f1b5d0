"""hsi_wandb: mirror rl_games / IsaacGym-style training (TensorBoard scalars, checkpoints) to Weights & Biases.

The core here is framework-agnostic; the rl_games adapter is ``hsi_wandb.rl_games_mixin`` and the built-in
tasks and AMP agent are ``hsi_wandb.builtin``. Example with any SummaryWriter: scalars one row per epoch, each
checkpoint a version of a ``model`` artifact (the last one ``final``)::

    import torch
    from torch.utils.tensorboard import SummaryWriter

    from hsi_wandb import CheckpointLogger, WandbWriter, resolve_settings, start_run

    cfg = {"use_wandb": True, "wandb": {"project": "my-project", "mode": "offline"}}  # your training YAML, loaded
    model = torch.nn.Linear(4, 2)
    run = start_run(resolve_settings(cfg, "train.yaml"), run_dir="runs/exp", config=cfg)
    writer = WandbWriter(SummaryWriter("runs/exp/summaries"), run)
    checkpoints = CheckpointLogger(run)
    for epoch in range(1, 3):
        frame = 4096 * epoch
        writer.begin_epoch(epoch)
        writer.add_scalar("losses/a_loss", 0.1 / epoch, frame)
        torch.save(model.state_dict(), "runs/exp/model.pth")
        checkpoints.add("runs/exp/model.pth", {"epoch": epoch, "frame": frame})
    writer.close()
    checkpoints.close(final=True)
    run.finish(0)

Environment:
    WANDB_MODE      online | offline | disabled, or W&B's run | dryrun (any case; empty is unset); overrides
                    ``wandb.mode``.
    WANDB_API_KEY   credentials (also read from ./.env); without them online falls back to offline.
    WANDB_BASE_URL  the W&B server; probed before an online start.
"""
from .artifacts import CheckpointLogger, checkpoint_path
from .config import ConfigError, WandbConfig, WandbSettings, resolve_settings
from .evaluation import EvalRun, NoCheckpoints, checkpoint_origin, find_checkpoints, in_epoch_order, log_eval
from .lifecycle import NullRun, WandbRun, load_run_record, save_run_record, start_run
from .ranks import global_rank, is_global_rank_zero
from .tags import map_tag
from .writer import WandbWriter

__version__ = "0.1.0"

__all__ = [
    "CheckpointLogger",
    "ConfigError",
    "EvalRun",
    "NoCheckpoints",
    "NullRun",
    "WandbConfig",
    "WandbRun",
    "WandbSettings",
    "WandbWriter",
    "checkpoint_origin",
    "checkpoint_path",
    "find_checkpoints",
    "global_rank",
    "in_epoch_order",
    "is_global_rank_zero",
    "load_run_record",
    "log_eval",
    "map_tag",
    "resolve_settings",
    "save_run_record",
    "start_run",
]
