"""rl_games vec-env adapter for the built-in tasks (the RLGPUEnv analogue): torch tensors in, torch tensors out."""

from typing import Any, Dict, Tuple

import torch

from rl_games.common import env_configurations
from rl_games.common.ivecenv import IVecEnv


class BuiltinVecEnv(IVecEnv):
    """Wraps one batched task created by the registered env_creator; num_actors must equal its numEnvs."""

    def __init__(self, config_name: str, num_actors: int, **kwargs: Any) -> None:
        """Create the task through env_configurations[config_name]['env_creator'](**kwargs)."""
        self.env = env_configurations.configurations[config_name]["env_creator"](**kwargs)
        assert self.env.num_envs == num_actors, "num_actors ({}) must equal numEnvs ({})".format(
            num_actors, self.env.num_envs)

    def step(self, actions: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, Dict[str, Any]]:
        """Step the task; returns obs, rewards, dones, extras."""
        return self.env.step(actions)

    def reset(self) -> torch.Tensor:
        """Reset every env; returns obs."""
        return self.env.reset()

    def get_number_of_agents(self) -> int:
        """One agent per env."""
        return 1

    def get_env_info(self) -> Dict[str, Any]:
        """Spaces for rl_games, including amp_observation_space (as ASE) and the task names."""
        return {
            "action_space": self.env.action_space,
            "observation_space": self.env.observation_space,
            "amp_observation_space": self.env.amp_observation_space,
            "task_names": self.env.task_names,
            "agents": 1,
            "value_size": 1,
        }
