"""Heading: move with a commanded planar velocity (direction and speed)."""

from typing import Any, Mapping, Tuple, Union

import torch

from .. import render
from ..body import PointMassBody
from .objective import Objective, random_directions, uniform


class HeadingObjective(Objective):
    """Match a target velocity sampled per episode.

    Success: the mean velocity error over the episode is at most successVelErr; precision: that mean error.
    """

    name = "heading"
    obs_dim = 2
    DEFAULTS = {"minSpeed": 0.5, "maxSpeed": 1.3, "rewardScale": 2.0, "successVelErr": 0.35}

    def __init__(self, env_cfg: Mapping[str, Any], num_envs: int, device: Union[str, torch.device], dt: float) -> None:
        """Allocate target velocities."""
        super().__init__(env_cfg, num_envs, device, dt)
        self.target_vel = torch.zeros((num_envs, 2), device=device)
        self.sum_err = torch.zeros(num_envs, device=device)
        self.steps = torch.zeros(num_envs, device=device)

    def reset(self, env_ids: torch.Tensor, body: PointMassBody) -> None:
        """Random direction and speed per env."""
        num = env_ids.shape[0]
        speed = uniform(num, self.params["minSpeed"], self.params["maxSpeed"], self.device).unsqueeze(-1)
        self.target_vel[env_ids] = speed * random_directions(num, self.device)
        self.sum_err[env_ids] = 0.0
        self.steps[env_ids] = 0.0

    def post_step(self, body: PointMassBody, progress: torch.Tensor) -> None:
        """Accumulate the velocity error of the episode."""
        self.sum_err += (body.vel - self.target_vel).norm(dim=-1)
        self.steps += 1.0

    def outcome(self, body: PointMassBody) -> Tuple[torch.Tensor, torch.Tensor]:
        """Success: mean velocity error at most successVelErr; precision: the mean velocity error."""
        mean_err = self.sum_err / self.steps.clamp(min=1.0)
        return mean_err <= self.params["successVelErr"], mean_err

    def draw(self, view: render.View, env_id: int, progress: int) -> None:
        """The commanded velocity as an arrow from the mass (half a metre per m/s, as the mass's own)."""
        start = view.centre
        end = start + 0.5 * self.target_vel[env_id].cpu().numpy()
        view.polyline([start, end], render.GOAL)
        view.disc(end, 0.06, render.GOAL)

    def observe(self, body: PointMassBody, progress: torch.Tensor) -> torch.Tensor:
        """The target velocity."""
        return self.target_vel

    def reward(self, body: PointMassBody, progress: torch.Tensor) -> torch.Tensor:
        """exp(-scale * |velocity error|^2)."""
        return torch.exp(-self.params["rewardScale"] * ((body.vel - self.target_vel) ** 2).sum(dim=-1))
