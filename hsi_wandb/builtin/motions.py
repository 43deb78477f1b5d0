"""Demonstration motions for AMP: a waypoint-seeking reference controller, clip files and window sampling.

Regenerate the shipped clip file deterministically with
``python -m hsi_wandb.builtin.motions cfg/motions/point_mass_reference.npz``.
"""

import argparse
from typing import Any, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from .body import amp_frame, integrate
from .inputs import resolve_path

DEFAULT_CONTROLLER = {
    "num_clips": 32,
    "num_frames": 300,
    "seed": 0,
    "dt": 1.0 / 30.0,
    "max_accel": 4.0,
    "damping": 0.5,
    "min_speed": 0.6,
    "max_speed": 1.4,
    "min_leg": 1.0,
    "max_leg": 4.0,
    "max_pause_s": 1.5,
    "speed_gain": 1.5,
    "vel_gain": 3.0,
    "arrive_radius": 0.1,
}


def _uniform(generator: torch.Generator, shape: Tuple[int, ...], low: float, high: float) -> torch.Tensor:
    """Uniform samples in [low, high) drawn from a seeded generator."""
    return low + (high - low) * torch.rand(shape, generator=generator)


def generate_clips(params: Optional[Mapping[str, Any]] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """Simulate the reference controller walking between random waypoints, pausing at each; returns pos, vel (clips, frames, 2)."""
    p = dict(DEFAULT_CONTROLLER)
    p.update(params or {})
    gen = torch.Generator().manual_seed(int(p["seed"]))
    n, frames, dt = int(p["num_clips"]), int(p["num_frames"]), float(p["dt"])
    pos = torch.zeros((n, 2))
    vel = torch.zeros((n, 2))
    speed = _uniform(gen, (n, 1), p["min_speed"], p["max_speed"])

    def new_waypoint(origin: torch.Tensor) -> torch.Tensor:
        """A waypoint a random leg length away from origin in a random direction."""
        angle = _uniform(gen, (origin.shape[0],), 0.0, 2.0 * np.pi)
        leg = _uniform(gen, (origin.shape[0], 1), p["min_leg"], p["max_leg"])
        return origin + leg * torch.stack([torch.cos(angle), torch.sin(angle)], dim=-1)

    waypoint = new_waypoint(pos)
    pause_left = torch.zeros(n)
    all_pos, all_vel = [], []
    for _ in range(frames):
        offset = waypoint - pos
        dist = offset.norm(dim=-1, keepdim=True)
        desired = offset / dist.clamp_min(1e-6) * torch.minimum(speed, p["speed_gain"] * dist)
        desired = torch.where((pause_left > 0).unsqueeze(-1), torch.zeros_like(desired), desired)
        action = (p["vel_gain"] * (desired - vel) + p["damping"] * vel) / p["max_accel"]
        pos, vel = integrate(pos, vel, action, dt, p["max_accel"], p["damping"])
        all_pos.append(pos)
        all_vel.append(vel)
        arrived = (dist.squeeze(-1) < p["arrive_radius"]) & (pause_left <= 0)
        resume = (pause_left > 0) & (pause_left <= dt)
        waypoint = torch.where(resume.unsqueeze(-1), new_waypoint(pos), waypoint)
        pause_left = torch.where(arrived, dt + _uniform(gen, (n,), 0.0, p["max_pause_s"]), pause_left - dt)
    return torch.stack(all_pos, dim=1), torch.stack(all_vel, dim=1)


def save_clips(path: str, pos: torch.Tensor, vel: torch.Tensor, dt: float) -> None:
    """Write clips to a compressed .npz motion file."""
    np.savez_compressed(path, pos=pos.numpy().astype(np.float32), vel=vel.numpy().astype(np.float32),
                        dt=np.float32(dt))


class MotionLibrary:
    """Demonstration clips on a device, sampled as windows of consecutive AMP frames."""

    def __init__(self, vel: torch.Tensor, dt: float, device: Union[str, torch.device]) -> None:
        """Hold clip velocities (clips, frames, 2) recorded at time step dt."""
        self.vel = vel.to(device)
        self.dt = float(dt)
        self.device = device

    @classmethod
    def from_config(cls, env_cfg: Mapping[str, Any], dt: float, device: Union[str, torch.device]) -> "MotionLibrary":
        """Load env_cfg['motion_file'] if set, else run the reference controller with env_cfg['motion_controller'] settings."""
        motion_file = env_cfg.get("motion_file")
        if motion_file:
            data = np.load(resolve_path(motion_file))
            return cls(torch.from_numpy(data["vel"]), float(data["dt"]), device)
        params = dict(env_cfg.get("motion_controller", {}))
        params.setdefault("dt", dt)
        _, vel = generate_clips(params)
        return cls(vel, params["dt"], device)

    def sample_history(self, num_samples: int, num_steps: int) -> torch.Tensor:
        """Random windows of num_steps AMP frames, newest first: (num_samples, num_steps, frame_dim)."""
        num_clips, num_frames = self.vel.shape[:2]
        clip = torch.randint(0, num_clips, (num_samples,), device=self.device)
        last = torch.randint(num_steps - 1, num_frames, (num_samples,), device=self.device)
        frames = last.unsqueeze(-1) - torch.arange(num_steps, device=self.device)
        return amp_frame(self.vel[clip.unsqueeze(-1), frames])

    def sample_amp_obs(self, num_samples: int, num_steps: int) -> torch.Tensor:
        """Flattened AMP observations of random demonstration windows: (num_samples, num_steps * frame_dim)."""
        return self.sample_history(num_samples, num_steps).reshape(num_samples, -1)


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Command line: regenerate a motion file from the reference controller."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="output .npz path")
    for key, value in DEFAULT_CONTROLLER.items():
        parser.add_argument("--" + key, type=type(value), default=value)
    args = vars(parser.parse_args(argv))
    out = args.pop("out")
    pos, vel = generate_clips(args)
    save_clips(out, pos, vel, args["dt"])
    print("wrote {} clips x {} frames to {}".format(pos.shape[0], pos.shape[1], out))


if __name__ == "__main__":
    main()
