"""Planar point-mass body shared by the built-in tasks and the reference controller."""

from typing import Tuple, Union

import torch


def integrate(pos: torch.Tensor, vel: torch.Tensor, action: torch.Tensor, dt: float, max_accel: float,
              damping: float) -> Tuple[torch.Tensor, torch.Tensor]:
    """Advance point masses one step under a normalised acceleration command (semi-implicit Euler)."""
    accel = torch.clamp(action, -1.0, 1.0) * max_accel - damping * vel
    new_vel = vel + accel * dt
    return pos + new_vel * dt, new_vel


def amp_frame(vel: torch.Tensor) -> torch.Tensor:
    """Per-frame AMP features of a body state: its planar velocity."""
    return vel


AMP_FRAME_DIM = 2


class PointMassBody:
    """Batched planar point masses (position, velocity) stepped together on one device."""

    def __init__(self, num_bodies: int, device: Union[str, torch.device], dt: float, max_accel: float,
                 damping: float) -> None:
        """Allocate state tensors for num_bodies bodies at rest at the origin."""
        self.dt = dt
        self.max_accel = max_accel
        self.damping = damping
        self.pos = torch.zeros((num_bodies, 2), device=device)
        self.vel = torch.zeros((num_bodies, 2), device=device)

    def step(self, actions: torch.Tensor) -> None:
        """Apply one normalised acceleration command per body."""
        self.pos, self.vel = integrate(self.pos, self.vel, actions, self.dt, self.max_accel, self.damping)

    def reset(self, env_ids: torch.Tensor, pos: torch.Tensor, vel: torch.Tensor) -> None:
        """Place the bodies env_ids at the given positions and velocities."""
        self.pos[env_ids] = pos
        self.vel[env_ids] = vel
