"""Trajectory following (the HumanoidTraj analogue): stay on a target point moving along a wavy path."""

from typing import Any, Mapping, Sequence, Tuple, Union

import torch

from .. import render
from ..body import PointMassBody
from ..vec_task import VecTask
from .objective import Objective, random_directions, uniform


class TrajObjective(Objective):
    """Follow a target moving at walking speed along a sinusoid; fail when too far from it.

    Success (TokenHSI's trajectory evaluation in spirit): the mass stayed within successRadius of the moving
    target over the whole episode; precision: its mean distance to the target over the episode.
    """

    name = "traj"
    DEFAULTS = {
        "minSpeed": 0.7, "maxSpeed": 1.2, "maxSwayVel": 0.5, "minFreq": 0.4, "maxFreq": 1.2,
        "lookAheadS": [0.0, 0.5, 1.0], "failDist": 1.5, "rewardScale": 2.0, "successRadius": 0.5,
    }

    def __init__(self, env_cfg: Mapping[str, Any], num_envs: int, device: Union[str, torch.device], dt: float) -> None:
        """Allocate per-env path parameters."""
        super().__init__(env_cfg, num_envs, device, dt)
        self.look_ahead = torch.tensor(self.params["lookAheadS"], device=device)
        self.obs_dim = 2 * len(self.params["lookAheadS"])
        self.origin = torch.zeros((num_envs, 2), device=device)
        self.forward = torch.zeros((num_envs, 2), device=device)
        self.speed = torch.zeros(num_envs, device=device)
        self.amp = torch.zeros(num_envs, device=device)
        self.freq = torch.zeros(num_envs, device=device)
        self.phase = torch.zeros(num_envs, device=device)
        self.max_dist = torch.zeros(num_envs, device=device)
        self.sum_dist = torch.zeros(num_envs, device=device)
        self.steps = torch.zeros(num_envs, device=device)

    def reset(self, env_ids: torch.Tensor, body: PointMassBody) -> None:
        """Random heading, speed and sway per env, starting at the body."""
        p, num = self.params, env_ids.shape[0]
        self.origin[env_ids] = body.pos[env_ids]
        self.forward[env_ids] = random_directions(num, self.device)
        self.speed[env_ids] = uniform(num, p["minSpeed"], p["maxSpeed"], self.device)
        self.freq[env_ids] = uniform(num, p["minFreq"], p["maxFreq"], self.device)
        self.amp[env_ids] = uniform(num, 0.0, p["maxSwayVel"], self.device) / self.freq[env_ids]
        self.phase[env_ids] = uniform(num, 0.0, 6.2832, self.device)
        self.max_dist[env_ids] = 0.0
        self.sum_dist[env_ids] = 0.0
        self.steps[env_ids] = 0.0

    def target(self, time: torch.Tensor, env_ids: Union[slice, Sequence[int]] = slice(None)) -> torch.Tensor:
        """Target positions of env_ids (all envs by default) at times (len(env_ids), k) in seconds: (..., k, 2)."""
        forward, phase0 = self.forward[env_ids], self.phase[env_ids]
        side = torch.stack([-forward[:, 1], forward[:, 0]], dim=-1)
        phase = self.freq[env_ids].unsqueeze(-1) * time + phase0.unsqueeze(-1)
        along = (self.speed[env_ids].unsqueeze(-1) * time).unsqueeze(-1) * forward.unsqueeze(1)
        sway = (self.amp[env_ids].unsqueeze(-1) * (torch.sin(phase) - torch.sin(phase0).unsqueeze(-1))).unsqueeze(-1)
        return self.origin[env_ids].unsqueeze(1) + along + sway * side.unsqueeze(1)

    def _distance(self, body: PointMassBody, progress: torch.Tensor) -> torch.Tensor:
        """Distance of each body to its current target point."""
        now = (progress.float() * self.dt).unsqueeze(-1)
        return (self.target(now)[:, 0] - body.pos).norm(dim=-1)

    def post_step(self, body: PointMassBody, progress: torch.Tensor) -> None:
        """Track the largest and the summed distance to the target over the episode."""
        dist = self._distance(body, progress)
        self.max_dist = torch.maximum(self.max_dist, dist)
        self.sum_dist += dist
        self.steps += 1.0

    def outcome(self, body: PointMassBody) -> Tuple[torch.Tensor, torch.Tensor]:
        """Success: never farther than successRadius from the target; precision: the mean distance."""
        return self.max_dist <= self.params["successRadius"], self.sum_dist / self.steps.clamp(min=1.0)

    def draw(self, view: render.View, env_id: int, progress: int) -> None:
        """The path from a second ago to three seconds ahead, the target point and the success radius around it."""
        now, start = progress * self.dt, max(0.0, progress * self.dt - 1.0)
        times = torch.cat([torch.tensor([now]), torch.arange(start, now + 3.0, 0.1)]).to(self.device).unsqueeze(0)
        points = self.target(times, [env_id])[0].cpu().numpy()
        target = points[0]
        view.polyline(points[1:], render.PATH)
        view.disc(target, 0.08, render.GOAL)
        view.disc(target, self.params["successRadius"], render.GOAL, ring=True)

    def observe(self, body: PointMassBody, progress: torch.Tensor) -> torch.Tensor:
        """Target positions now and at the look-ahead times, relative to the body."""
        times = progress.float().unsqueeze(-1) * self.dt + self.look_ahead
        return (self.target(times) - body.pos.unsqueeze(1)).reshape(self.num_envs, -1)

    def reward(self, body: PointMassBody, progress: torch.Tensor) -> torch.Tensor:
        """exp(-scale * distance^2) to the current target point."""
        return torch.exp(-self.params["rewardScale"] * self._distance(body, progress) ** 2)

    def failed(self, body: PointMassBody, progress: torch.Tensor) -> torch.Tensor:
        """Fell more than failDist behind (or off) the path."""
        return self._distance(body, progress) > self.params["failDist"]


class PointMassTraj(VecTask):
    """Point masses following moving targets along wavy paths."""

    def __init__(self, cfg: Mapping[str, Any], device: Union[str, torch.device]) -> None:
        """Single-objective env with TrajObjective."""
        env = cfg["env"]
        super().__init__(cfg, [TrajObjective(env, int(env["numEnvs"]), device, float(cfg["sim"]["dt"]))], device)
