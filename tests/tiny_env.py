"""A tiny IsaacGym-style vectorized env (batched torch tensors, no per-env loop) and an rl_games PPO config for it."""
import copy
import os

import gym
import numpy as np
import torch
from rl_games.common import env_configurations, vecenv
from rl_games.torch_runner import Runner

from hsi_wandb.adapter import apply_to_runner

ENV_NAME = "hsi_wandb_test_point"


class PointReachVecEnv:
    """Point masses on a plane steering toward random targets; episodes end on timeout, on reaching the target
    (``success``) or on leaving the arena (``terminate``); ``precision`` is the distance to the target."""

    def __init__(self, config_name=None, num_actors=64, episode_length=32, seed=0, **kwargs):
        self.num_envs = num_actors
        self.episode_length = episode_length
        self.generator = torch.Generator().manual_seed(seed)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (6,), dtype=np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (2,), dtype=np.float32)
        self.pos = torch.zeros(num_actors, 2)
        self.vel = torch.zeros(num_actors, 2)
        self.target = torch.zeros(num_actors, 2)
        self.progress = torch.zeros(num_actors, dtype=torch.long)
        self._reset(torch.arange(num_actors))

    def _reset(self, ids):
        n = len(ids)
        self.pos[ids] = torch.rand(n, 2, generator=self.generator) * 2 - 1
        self.vel[ids] = 0.0
        self.target[ids] = torch.rand(n, 2, generator=self.generator) * 2 - 1
        self.progress[ids] = 0

    def _obs(self):
        return torch.cat([self.pos, self.vel, self.target - self.pos], dim=1)

    def reset(self):
        return self._obs()

    def step(self, actions):
        actions = torch.as_tensor(actions, dtype=torch.float32).clamp(-1, 1)
        self.vel = 0.8 * self.vel + 0.1 * actions
        self.pos = self.pos + self.vel
        dist = torch.norm(self.target - self.pos, dim=1)
        reward = 1.0 - dist
        self.progress += 1
        success = dist < 0.05
        terminate = (self.pos.abs() > 1.5).any(dim=1) & ~success
        done = (self.progress >= self.episode_length) | success | terminate
        ids = done.nonzero(as_tuple=False).flatten()
        if len(ids) > 0:
            self._reset(ids)
        return self._obs(), reward, done.to(torch.uint8), {"success": success, "precision": dist,
                                                             "terminate": terminate}

    def get_number_of_agents(self):
        return 1

    def get_env_info(self):
        return {"action_space": self.action_space, "observation_space": self.observation_space,
                "agents": 1, "value_size": 1}

    def has_action_masks(self):
        return False

    def set_train_info(self, env_frames, *args, **kwargs):
        pass

    def get_env_state(self):
        return None

    def set_env_state(self, env_state):
        pass


class PointReachDiscreteVecEnv(PointReachVecEnv):
    """The same task with five discrete actions (stay, or push along one axis), for the a2c_discrete agent."""

    PUSHES = torch.tensor([[0.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.action_space = gym.spaces.Discrete(len(self.PUSHES))

    def step(self, actions):
        return super().step(self.PUSHES[torch.as_tensor(actions, dtype=torch.long).flatten()])


DISCRETE_ENV_NAME = ENV_NAME + "_discrete"


def register():
    """Register the continuous env as ``ENV_NAME`` and the discrete one as ``DISCRETE_ENV_NAME`` (idempotent)."""
    for name, env_class in ((ENV_NAME, PointReachVecEnv), (DISCRETE_ENV_NAME, PointReachDiscreteVecEnv)):
        vecenv_type = "HSI_WANDB_TEST_" + name.upper()
        vecenv.register(vecenv_type, lambda config_name, num_actors, cls=env_class, **kw: cls(config_name, num_actors,
                                                                                               **kw))
        env_configurations.register(name, {"vecenv_type": vecenv_type, "env_creator": lambda cls=env_class, **kw: cls(**kw)})


BASE_TRAIN_CFG = {
    "use_wandb": True,
    "wandb": {"project": "hsi-wandb-tests", "mode": "offline", "tags": ["test"]},
    "params": {
        "seed": 7,
        "algo": {"name": "a2c_continuous"},
        "model": {"name": "continuous_a2c_logstd"},
        "network": {
            "name": "actor_critic",
            "separate": False,
            "space": {"continuous": {"mu_activation": "None", "sigma_activation": "None",
                                     "mu_init": {"name": "default"},
                                     "sigma_init": {"name": "const_initializer", "val": 0},
                                     "fixed_sigma": True}},
            "mlp": {"units": [32, 32], "activation": "elu", "d2rl": False,
                    "initializer": {"name": "default"}, "regularizer": {"name": "None"}},
        },
        "load_checkpoint": False,
        "load_path": "",
        "config": {
            "name": "point",
            "full_experiment_name": "point",
            "env_name": ENV_NAME,
            "device": "cpu",
            "ppo_device": "cpu",
            "multi_gpu": False,
            "ppo": True,
            "mixed_precision": False,
            "normalize_input": True,
            "normalize_value": True,
            "value_bootstrap": False,
            "num_actors": 64,
            "reward_shaper": {"scale_value": 1.0},
            "normalize_advantage": True,
            "gamma": 0.99,
            "tau": 0.95,
            "learning_rate": 3e-4,
            "lr_schedule": "adaptive",
            "schedule_type": "standard",
            "kl_threshold": 0.008,
            "score_to_win": 1e9,
            "max_epochs": 6,
            "max_frames": -1,
            "save_best_after": 1000,
            "save_frequency": 2,
            "print_stats": False,
            "grad_norm": 1.0,
            "entropy_coef": 0.0,
            "truncate_grads": True,
            "e_clip": 0.2,
            "horizon_length": 16,
            "minibatch_size": 512,
            "mini_epochs": 2,
            "critic_coef": 2,
            "clip_value": True,
            "seq_length": 4,
            "bounds_loss_coef": 0.0001,
            "torch_compile": False,
            "env_config": {"seed": 3},
        },
    },
}


def train_config(train_dir, **overrides):
    """A deep copy of the base config writing under ``train_dir``; ``overrides`` go into ``params.config``."""
    cfg = copy.deepcopy(BASE_TRAIN_CFG)
    cfg["params"]["config"]["train_dir"] = os.fspath(train_dir)
    cfg["params"]["config"].update(overrides)
    return cfg


def train(root, cfg=None, **overrides):
    """Train the tiny env with a real rl_games Runner and hsi_wandb's documented line; ``cfg`` (else
    ``train_config(<root>/runs, **overrides)``) writes under ``<root>/runs``. Returns the experiment dir."""
    register()
    cfg = cfg or train_config(root / "runs", **overrides)
    runner = Runner()
    apply_to_runner(runner, cfg, source="tiny.yaml", task="point")
    runner.load(cfg)
    runner.run({"train": True, "play": False, "checkpoint": None})
    return root / "runs" / cfg["params"]["config"]["full_experiment_name"]
