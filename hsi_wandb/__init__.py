"""hsi_wandb: mirror rl_games / IsaacGym-style training (TensorBoard scalars, checkpoints) to Weights & Biases.

The core here is framework-agnostic; the rl_games adapter is ``hsi_wandb.adapter`` and the built-in
tasks and AMP agent are ``hsi_wandb.builtin``. Any trainer with a SummaryWriter drives a :class:`TrainingSession`
(the rl_games mixin is one binding of it): scalars one row per epoch with gradient and parameter norms, a JSONL
backup and a progress bar; each checkpoint a version of a ``model`` artifact (the last one ``final``, an interrupt
checkpoint on Ctrl-C or SIGTERM); the README shows the same example::

    import torch
    from torch.utils.tensorboard import SummaryWriter

    from hsi_wandb import TrainingSession, resolve_settings

    cfg = {"use_wandb": True, "wandb": {"project": "my-project", "mode": "offline"}}  # your training YAML, loaded
    model = torch.nn.Linear(4, 2)
    optimizer = torch.optim.Adam(model.parameters())
    session = TrainingSession(resolve_settings(cfg, "train.yaml"), config=cfg)
    epoch, frame = 0, 0


    def save(path, reason="save"):
        torch.save(dict(model=model.state_dict(), **session.state(frame)), path)
        session.checkpoint(path, epoch=epoch, frame=frame, reason=reason)
        return path


    with session.running(save_interrupt=lambda: save("runs/exp/interrupt.pth", "interrupt")):
        writer = session.start(SummaryWriter("runs/exp/summaries"), "runs/exp", max_epochs=3, model=model,
                               optimizer=optimizer)
        for epoch in range(1, 4):
            session.begin_epoch(epoch)
            loss = model(torch.randn(64, 4)).pow(2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            frame += 4096
            writer.add_scalar("losses/a_loss", loss.item(), frame)
            save("runs/exp/model_{}.pth".format(epoch))

Environment:
    WANDB_MODE      online | offline | disabled, or W&B's run | dryrun (any case; empty is unset); overrides
                    ``wandb.mode``.
    WANDB_API_KEY   credentials (also read from ./.env); without them online falls back to offline.
    WANDB_BASE_URL  the W&B server; probed before an online start.
"""
from .adapter.checkpoints import checkpoint_path
from .adapter.tags import map_tag
from .artifacts import CheckpointLogger
from .config import ConfigError, WandbConfig, WandbSettings, resolve_settings
from .evaluation import EvalRun, NoCheckpoints, checkpoint_origin, find_checkpoints, in_epoch_order, log_eval
from .lifecycle import NullRun, WandbRun, load_run_record, save_run_record, start_run
from .ranks import global_rank, is_global_rank_zero
from .session import TrainingSession
from .writer import WandbWriter

__version__ = "0.1.0"

__all__ = [
    "CheckpointLogger",
    "ConfigError",
    "EvalRun",
    "NoCheckpoints",
    "NullRun",
    "TrainingSession",
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
