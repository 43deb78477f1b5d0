"""IsaacGym-style batched task base: point-mass bodies, objectives, AMP observation history, auto-reset."""

from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

import gym
import numpy as np
import torch

from .body import AMP_FRAME_DIM, PointMassBody
from .motions import MotionLibrary

BODY_OBS_DIM = 2


def _box(dim: int, bound: float = np.inf) -> gym.spaces.Box:
    """A symmetric float32 gym Box of the given size."""
    return gym.spaces.Box(-bound, bound, (dim,), dtype=np.float32)


class VecTask:
    """num_envs planar point masses, each pursuing one of the given objectives, stepped as one batch.

    step(actions) returns obs, reward, reset flags and an extras dict with ``amp_obs`` (AMP observation
    of the state reached), ``terminate`` (episode ended by failure), ``time_outs``, each env's own objective's
    ``success`` and ``precision`` so far, the ``task_ids`` the step ran with, and per-task finished episode
    rewards ``task_episode_rewards``.
    Finished environments are reset inside step, so returned observations start their next episode.
    A ``recorder`` (rollout_video.RolloutRecorder) set on the task sees each step's state before that reset.
    """

    def __init__(self, cfg: Mapping[str, Any], objectives: List[Any], device: Union[str, torch.device]) -> None:
        """Build buffers for cfg['env'] / cfg['sim'] (ASE layout) with a list of objectives, on device."""
        env_cfg = cfg["env"]
        self.cfg = cfg
        self.device = torch.device(device)
        self.num_envs = int(env_cfg["numEnvs"])
        self.max_episode_length = int(env_cfg["episodeLength"])
        self.dt = float(cfg["sim"]["dt"])
        self.num_amp_obs_steps = int(env_cfg.get("numAMPObsSteps", 2))
        self.objectives = objectives
        self.task_names = [objective.name for objective in objectives]
        probs = env_cfg.get("taskProbs", {})
        self.task_probs = torch.tensor([float(probs.get(name, 1.0)) for name in self.task_names], device=self.device)
        self.body = PointMassBody(self.num_envs, self.device, self.dt, float(env_cfg.get("maxAccel", 4.0)),
                                  float(env_cfg.get("damping", 0.5)))
        self.motion_lib = MotionLibrary.from_config(env_cfg, self.dt, self.device)
        self.task_obs_dim = max(objective.obs_dim for objective in objectives)
        self.num_obs = BODY_OBS_DIM + self.task_obs_dim + (len(objectives) if len(objectives) > 1 else 0)
        self.num_actions = 2
        self.observation_space = _box(self.num_obs)
        self.action_space = _box(self.num_actions, 1.0)
        self.amp_observation_space = _box(self.num_amp_obs_steps * AMP_FRAME_DIM)

        n = self.num_envs
        self.task_ids = torch.zeros(n, dtype=torch.long, device=self.device)
        self.progress_buf = torch.zeros(n, dtype=torch.long, device=self.device)
        self.rew_buf = torch.zeros(n, device=self.device)
        self.reset_buf = torch.ones(n, dtype=torch.bool, device=self.device)
        self.episode_reward = torch.zeros(n, device=self.device)
        self.amp_hist = torch.zeros((n, self.num_amp_obs_steps, AMP_FRAME_DIM), device=self.device)
        self.extras = {}
        self.recorder = None
        self.reset()

    def _per_task(self, values: List[torch.Tensor]) -> torch.Tensor:
        """Pick, for each env, the value computed by its own objective (values: one (num_envs, ...) tensor per objective)."""
        if len(values) == 1:
            return values[0]
        stacked = torch.stack(values)
        index = self.task_ids.view(1, -1, *([1] * (stacked.dim() - 2))).expand(1, *stacked.shape[1:])
        return stacked.gather(0, index).squeeze(0)

    def _compute_observations(self) -> None:
        """Body velocity, the own objective's observation (zero padded) and, with several tasks, a one-hot task id."""
        task_obs = [torch.nn.functional.pad(o.observe(self.body, self.progress_buf), (0, self.task_obs_dim - o.obs_dim))
                    for o in self.objectives]
        parts = [self.body.vel, self._per_task(task_obs)]
        if len(self.objectives) > 1:
            parts.append(torch.nn.functional.one_hot(self.task_ids, len(self.objectives)).float())
        self.obs_buf = torch.cat(parts, dim=-1)

    def reset_idx(self, env_ids: torch.Tensor) -> None:
        """Start new episodes for env_ids: sample tasks, initialise bodies from demonstration states, reset goals."""
        num = env_ids.shape[0]
        if num == 0:
            return
        self.task_ids[env_ids] = torch.multinomial(self.task_probs, num, replacement=True)
        hist = self.motion_lib.sample_history(num, self.num_amp_obs_steps)
        self.body.reset(env_ids, torch.zeros((num, 2), device=self.device), hist[:, 0])
        self.amp_hist[env_ids] = hist
        self.progress_buf[env_ids] = 0
        self.episode_reward[env_ids] = 0.0
        self.reset_buf[env_ids] = False
        for objective in self.objectives:
            objective.reset(env_ids, self.body)

    def reset(self, env_ids: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Reset env_ids (all envs when None) and return the observation buffer."""
        if env_ids is None:
            env_ids = torch.arange(self.num_envs, device=self.device)
        self.reset_idx(env_ids)
        self._compute_observations()
        return self.obs_buf

    def step(self, actions: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, Dict[str, Any]]:
        """Apply normalised accelerations to all envs; return obs, rewards, resets, extras (auto-resets finished envs)."""
        self.body.step(actions.to(self.device))
        self.progress_buf += 1
        for objective in self.objectives:
            objective.post_step(self.body, self.progress_buf)
        self.amp_hist = torch.cat([self.body.vel.unsqueeze(1), self.amp_hist[:, :-1]], dim=1)

        self.rew_buf = self._per_task([o.reward(self.body, self.progress_buf) for o in self.objectives])
        failed = self._per_task([o.failed(self.body, self.progress_buf) for o in self.objectives])
        timeout = self.progress_buf >= self.max_episode_length
        self.reset_buf = failed | timeout
        self.episode_reward += self.rew_buf

        outcomes = [o.outcome(self.body) for o in self.objectives]
        self.extras = {
            "amp_obs": self.amp_hist.reshape(self.num_envs, -1).clone(),
            "terminate": failed,
            "time_outs": timeout & ~failed,
            "success": self._per_task([success for success, _ in outcomes]),
            "precision": self._per_task([precision for _, precision in outcomes]),
            "task_ids": self.task_ids.clone(),
            "task_episode_rewards": {name: self.episode_reward[self.reset_buf & (self.task_ids == i)].clone()
                                     for i, name in enumerate(self.task_names)},
        }
        if self.recorder is not None:
            self.recorder.after_step(self)
        done = self.reset_buf.clone()
        self.reset_idx(done.nonzero(as_tuple=False).squeeze(-1))
        self._compute_observations()
        return self.obs_buf, self.rew_buf, done, self.extras

    def fetch_amp_obs_demo(self, num_samples: int) -> torch.Tensor:
        """Demonstration AMP observations sampled from the motion library: (num_samples, amp_obs_dim)."""
        return self.motion_lib.sample_amp_obs(num_samples, self.num_amp_obs_steps)
