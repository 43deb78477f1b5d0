"""Reach and hold (the sit/reach analogue): get within a radius of a target and stay there for K steps."""

from typing import Any, Mapping, Tuple, Union

import torch

from .. import render
from ..body import PointMassBody
from ..vec_task import VecTask
from .objective import Objective, random_directions, uniform


class ReachObjective(Objective):
    """Reach a target and hold within successRadius for holdSteps consecutive steps; leaving the arena fails.

    Success is the completed hold, precision the distance to the target at the end of the episode.
    """

    name = "reach"
    obs_dim = 3
    DEFAULTS = {"minDist": 1.0, "maxDist": 4.0, "successRadius": 0.25, "holdSteps": 30, "arenaSize": 8.0}

    def __init__(self, env_cfg: Mapping[str, Any], num_envs: int, device: Union[str, torch.device], dt: float) -> None:
        """Allocate target, hold counter and success flags."""
        super().__init__(env_cfg, num_envs, device, dt)
        self.target = torch.zeros((num_envs, 2), device=device)
        self.hold = torch.zeros(num_envs, device=device)
        self.succeeded = torch.zeros(num_envs, dtype=torch.bool, device=device)

    def reset(self, env_ids: torch.Tensor, body: PointMassBody) -> None:
        """Place a target minDist..maxDist away from each body in a random direction."""
        num = env_ids.shape[0]
        dist = uniform(num, self.params["minDist"], self.params["maxDist"], self.device).unsqueeze(-1)
        self.target[env_ids] = body.pos[env_ids] + dist * random_directions(num, self.device)
        self.hold[env_ids] = 0.0
        self.succeeded[env_ids] = False

    def _distance(self, body: PointMassBody) -> torch.Tensor:
        """Distance of each body to its target."""
        return (self.target - body.pos).norm(dim=-1)

    def post_step(self, body: PointMassBody, progress: torch.Tensor) -> None:
        """Count consecutive steps inside the radius and latch success once holdSteps is reached."""
        inside = self._distance(body) < self.params["successRadius"]
        self.hold = torch.where(inside, self.hold + 1.0, torch.zeros_like(self.hold))
        self.succeeded |= self.hold >= self.params["holdSteps"]

    def draw(self, view: render.View, env_id: int, progress: int) -> None:
        """The target, its success radius, and the arena's edge."""
        target = self.target[env_id].cpu().numpy()
        view.disc(target, 0.08, render.GOAL)
        view.disc(target, self.params["successRadius"], render.GOAL, ring=True)
        edge = self.params["arenaSize"]
        view.polyline([(-edge, -edge), (edge, -edge), (edge, edge), (-edge, edge), (-edge, -edge)], render.GOAL)

    def observe(self, body: PointMassBody, progress: torch.Tensor) -> torch.Tensor:
        """Target relative to the body and the fraction of the hold completed."""
        hold_frac = (self.hold / self.params["holdSteps"]).clamp(max=1.0).unsqueeze(-1)
        return torch.cat([self.target - body.pos, hold_frac], dim=-1)

    def reward(self, body: PointMassBody, progress: torch.Tensor) -> torch.Tensor:
        """Coarse and fine closeness terms, each in [0, 0.5]."""
        dist_sq = self._distance(body) ** 2
        return 0.5 * torch.exp(-0.5 * dist_sq) + 0.5 * torch.exp(-8.0 * dist_sq)

    def failed(self, body: PointMassBody, progress: torch.Tensor) -> torch.Tensor:
        """Left the square arena."""
        return body.pos.abs().max(dim=-1).values > self.params["arenaSize"]

    def outcome(self, body: PointMassBody) -> Tuple[torch.Tensor, torch.Tensor]:
        """Success: the hold was completed during the episode; precision: the distance to the target now."""
        return self.succeeded.clone(), self._distance(body)


class PointMassReach(VecTask):
    """Point masses reaching a target and holding still on it."""

    def __init__(self, cfg: Mapping[str, Any], device: Union[str, torch.device]) -> None:
        """Single-objective env with ReachObjective."""
        env = cfg["env"]
        super().__init__(cfg, [ReachObjective(env, int(env["numEnvs"]), device, float(cfg["sim"]["dt"]))], device)
