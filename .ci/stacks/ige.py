"""IsaacGymEnvs' own imports still work beside hsi_wandb: rl-games 1.6's model_builder functions, hydra, gym 0.23."""
import gym
import hydra  # noqa: F401
from omegaconf import OmegaConf  # noqa: F401
from rl_games.algos_torch import model_builder
from rl_games.common.algo_observer import AlgoObserver  # noqa: F401

assert callable(model_builder.register_model) and callable(model_builder.register_network)
assert gym.__version__ == "0.23.1"
print("IsaacGymEnvs imports: ok")
