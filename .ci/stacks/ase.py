"""ASE's own imports still work beside hsi_wandb: rl-games 1.1.4's Runner with model_builder, tensorboard 1.15."""
import numpy
import torch
from rl_games.torch_runner import Runner
from tensorboard.backend.event_processing import event_accumulator  # noqa: F401 (needs numpy.object, protobuf 3)

assert Runner().model_builder.model_factory is not None
assert numpy.object is object and torch.__version__.startswith("1.8.1")
print("ASE imports: ok")
