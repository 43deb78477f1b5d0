"""Base class for a task objective: goal state, observation, reward and failure of every env, batched."""

import math
from typing import Any, Mapping, Tuple, Union

import torch

from .. import render
from ..body import PointMassBody


def random_directions(num: int, device: Union[str, torch.device]) -> torch.Tensor:
    """num random unit vectors in the plane."""
    angle = torch.rand(num, device=device) * 2.0 * math.pi
    return torch.stack([torch.cos(angle), torch.sin(angle)], dim=-1)


def uniform(num: int, low: float, high: float, device: Union[str, torch.device]) -> torch.Tensor:
    """num uniform samples in [low, high)."""
    return low + (high - low) * torch.rand(num, device=device)


class Objective:
    """Goal of one task for all envs; the env decides per env which objective applies.

    Subclasses set ``name``, ``obs_dim`` and ``DEFAULTS`` (settings overridable under ``env.<name>`` in the env config).
    """

    name = ""
    obs_dim = 0
    DEFAULTS = {}

    def __init__(self, env_cfg: Mapping[str, Any], num_envs: int, device: Union[str, torch.device], dt: float) -> None:
        """Read settings from env_cfg[name] over DEFAULTS and allocate goal buffers."""
        self.params = dict(self.DEFAULTS)
        self.params.update(env_cfg.get(self.name, {}))
        self.num_envs = num_envs
        self.device = device
        self.dt = dt

    def reset(self, env_ids: torch.Tensor, body: PointMassBody) -> None:
        """Sample new goals for env_ids around the freshly reset bodies."""
        raise NotImplementedError

    def post_step(self, body: PointMassBody, progress: torch.Tensor) -> None:
        """Update goal-tracking state after the bodies moved."""

    def observe(self, body: PointMassBody, progress: torch.Tensor) -> torch.Tensor:
        """Goal observation in the body's frame: (num_envs, obs_dim)."""
        raise NotImplementedError

    def reward(self, body: PointMassBody, progress: torch.Tensor) -> torch.Tensor:
        """Task reward of this step: (num_envs,)."""
        raise NotImplementedError

    def failed(self, body: PointMassBody, progress: torch.Tensor) -> torch.Tensor:
        """Envs whose episode ends in failure now: (num_envs,) bool."""
        return torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)

    def draw(self, view: render.View, env_id: int, progress: int) -> None:
        """Draw env ``env_id``'s goal into a render.View (metres); nothing by default."""

    def outcome(self, body: PointMassBody) -> Tuple[torch.Tensor, torch.Tensor]:
        """Per env, how the episode so far measures up: (success flags, precision), both (num_envs,).

        Evaluation reads it for the step an episode ends on, as TokenHSI reads ``success`` and ``precision``.
        """
        raise NotImplementedError
