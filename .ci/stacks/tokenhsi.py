"""TokenHSI's own imports still work beside hsi_wandb: numpy aliases its code and rl-games 1.1.4 use, gym 0.26."""
import warnings

import gym
import numpy
from rl_games.torch_runner import Runner

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    assert numpy.int is int and numpy.long is not None  # tokenhsi/utils/traj_generator.py, rl-games' discrete path
assert Runner().model_builder.network_factory is not None and gym.__version__ == "0.26.2"
print("TokenHSI imports: ok")
