"""Which process is the global rank 0: decided once, from the launcher's environment or torch.distributed."""
import os

_RANK_VARIABLES = ("RANK", "OMPI_COMM_WORLD_RANK", "HOROVOD_RANK", "PMI_RANK", "SLURM_PROCID")


def global_rank() -> int:
    """Return this process's global rank (0 when not distributed)."""
    try:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            return int(dist.get_rank())
    except ImportError:
        pass
    for name in _RANK_VARIABLES:
        value = os.environ.get(name)
        if value not in (None, ""):
            try:
                return int(value)
            except ValueError:
                continue
    return 0


def is_global_rank_zero() -> bool:
    """True on the single process allowed to talk to W&B."""
    return global_rank() == 0
