"""``python -m hsi_wandb sync PATH... [--dry_run]``: upload offline runs from any directory (see hsi_wandb.sync)."""
import sys

from .sync import main

if __name__ == "__main__":
    sys.exit(main())
