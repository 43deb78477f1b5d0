"""The entry points users train from, reproduced in the shape their sources have, each through a real rl_games
``Runner`` with the two documented lines of hsi_wandb added:

- a plain ``Runner`` over rl_games' own example configs (shipped in the installed package), on a tiny env;
- IsaacGymEnvs' hydra ``train.py`` (``launch_rlg_hydra``): a composed hydra config, its ``omegaconf_to_dict``,
  ``MultiObserver([RLGPUAlgoObserver(), WandbAlgoObserver(cfg)])``, ``model_builder.register_model``;
- IsaacLab's ``scripts/reinforcement_learning/rl_games/train.py``: ``agent_cfg`` from YAML, ``logs/rl_games/<name>``,
  ``Runner(IsaacAlgoObserver())``, ``runner.run({"train": True, "play": False, "sigma": None})``.

Only the simulator is replaced (by ``tiny_env``); the environments report what their simulators' wrappers report
(``episode`` sums, a scalar ``consecutive_successes``). Every config sets ``torch_compile: False``: rl-games 1.6.5
compiles by default, which takes minutes on a CPU, and in IsaacGymEnvs' stack torch's compiler imports the
networkx 2.2 that urdfpy pins, which fails on numpy 1.24 (``np.int``), with or without hsi_wandb.
"""
import os
from collections import deque

import torch
import yaml
import rl_games
from rl_games.common import env_configurations, vecenv
from rl_games.common.algo_observer import AlgoObserver
from rl_games.torch_runner import Runner

import tiny_env
from hsi_wandb.adapter import apply_to_runner

WANDB_SECTION = {"project": "hsi-wandb-tests", "mode": "offline"}


def example_config(relative_path, env_name, train_dir, **overrides):
    """rl_games' own example config ``rl_games/configs/<relative_path>`` of the installed release, on ``env_name``,
    on the CPU, small, writing under ``train_dir``, with the two keys hsi_wandb reads added."""
    with open(os.path.join(os.path.dirname(rl_games.__file__), "configs", relative_path)) as f:
        cfg = yaml.safe_load(f)
    config = cfg["params"]["config"]
    config.update(env_name=env_name, device="cpu", ppo_device="cpu", device_name="cpu", train_dir=os.fspath(train_dir),
                  full_experiment_name=config["name"], num_actors=32, print_stats=False, torch_compile=False)
    config.update(overrides)
    config.pop("env_config", None)
    cfg.update(use_wandb=True, wandb=dict(WANDB_SECTION))
    return cfg


def train_plain_runner(cfg, source="example.yaml", checkpoint=None):
    """rl_games' own ``runner.py``: the folders it makes (rl-games 1.1.4's SAC saves to ``./nn``), a plain
    ``Runner``, the hsi_wandb line, load, run."""
    tiny_env.register()
    os.makedirs("nn", exist_ok=True)
    os.makedirs("runs", exist_ok=True)
    runner = Runner()
    apply_to_runner(runner, cfg, source=source)
    runner.load(cfg)
    runner.run({"train": True, "play": False, "checkpoint": checkpoint})


class EpisodeInfoEnv(tiny_env.PointReachVecEnv):
    """The tiny env reporting what IsaacGym and Isaac Lab tasks put in their extras: per-episode reward terms
    (``episode``; Isaac Lab's wrapper renames its ``log`` to it) and a scalar ``consecutive_successes``."""

    def step(self, actions):
        obs, reward, done, info = super().step(actions)
        info["episode"] = {"rew_reach": reward.mean(), "rew_action": -torch.as_tensor(actions).abs().mean()}
        info["consecutive_successes"] = info["success"].float().mean()
        return obs, reward, done, info


def register_env(env_name, vecenv_type):
    """Register the episode-info env as ``env_name`` (IGE: rlgpu/RLGPU; Isaac Lab: rlgpu/IsaacRlgWrapper)."""
    vecenv.register(vecenv_type, lambda config_name, num_actors, **kwargs: EpisodeInfoEnv(config_name, num_actors,
                                                                                          **kwargs))
    env_configurations.register(env_name, {"vecenv_type": vecenv_type,
                                           "env_creator": lambda **kwargs: EpisodeInfoEnv(**kwargs)})


# IsaacGymEnvs -------------------------------------------------------------------------------------------------------

IGE_CONFIG = """\
task_name: TinyPoint
experiment: ''
seed: 42
max_iterations: 5
rl_device: cpu
sim_device: cpu
test: False
checkpoint: ''
sigma: ''
multi_gpu: False
full_experiment_name: tiny_ige
wandb_activate: False
wandb_group: ''
wandb_name: ${{train.params.config.name}}
wandb_entity: ''
wandb_project: isaacgymenvs
wandb_tags: []
wandb_logcode_dir: ''
train_dir: {train_dir}
defaults:
  - train: TinyPointPPO
  - _self_
"""

POLICY = """\
  algo:
    name: a2c_continuous
  model:
    name: continuous_a2c_logstd
  network:
    name: actor_critic
    separate: False
    space:
      continuous:
        mu_activation: None
        sigma_activation: None
        mu_init:
          name: default
        sigma_init:
          name: const_initializer
          val: 0
        fixed_sigma: True
    mlp:
      units: [32, 32]
      activation: elu
      d2rl: False
      initializer:
        name: default
      regularizer:
        name: None
  load_checkpoint: False
  load_path: ''
"""
"""The ``params`` both train YAMLs below share: the policy network, as their PPO configs have it."""

PPO = """\
    ppo: True
    mixed_precision: False
    normalize_input: True
    normalize_value: True
    value_bootstrap: True
    reward_shaper:
      scale_value: 0.1
    normalize_advantage: True
    gamma: 0.99
    tau: 0.95
    lr_schedule: adaptive
    kl_threshold: 0.008
    score_to_win: 20000
    save_best_after: 2
    save_frequency: 2
    grad_norm: 1.0
    entropy_coef: 0.0
    truncate_grads: True
    e_clip: 0.2
    horizon_length: 16
    minibatch_size: 256
    mini_epochs: 2
    critic_coef: 4
    clip_value: True
    bounds_loss_coef: 0.0001
    print_stats: False
    torch_compile: False
"""
"""The ``params.config`` keys both share: PPO on a small batch."""

IGE_TRAIN = """\
use_wandb: True
wandb:
  project: hsi-wandb-tests
  mode: offline
  tags: [ige, cartpole]
params:
  seed: ${...seed}
""" + POLICY + """\
  config:
    name: ${resolve_default:TinyPoint,${....experiment}}
    full_experiment_name: ${.name}
    train_dir: ${....train_dir}
    env_name: rlgpu
    multi_gpu: ${....multi_gpu}
    num_actors: 32
    learning_rate: 3e-4
    max_epochs: ${resolve_default:100,${....max_iterations}}
    seq_length: 4
""" + PPO


def ige_config(config_dir, train_dir, overrides=()):
    """IsaacGymEnvs' config as ``@hydra.main(config_name="config", config_path="./cfg")`` composes it."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    os.makedirs(os.path.join(config_dir, "train"), exist_ok=True)
    with open(os.path.join(config_dir, "config.yaml"), "w") as f:
        f.write(IGE_CONFIG.format(train_dir=os.fspath(train_dir)))
    with open(os.path.join(config_dir, "train", "TinyPointPPO.yaml"), "w") as f:
        f.write(IGE_TRAIN)
    if not OmegaConf.has_resolver("resolve_default"):  # isaacgymenvs/utils/reformat.py registers it on import
        OmegaConf.register_new_resolver("resolve_default", lambda default, arg: default if arg == "" else arg)
    with initialize_config_dir(config_dir=os.fspath(config_dir), version_base=None):
        return compose(config_name="config", overrides=list(overrides))


def omegaconf_to_dict(d):
    """IsaacGymEnvs' ``isaacgymenvs.utils.reformat.omegaconf_to_dict``: nested DictConfigs become dicts, ListConfigs
    stay ListConfigs (so ``wandb.tags`` reaches hsi_wandb as one)."""
    from omegaconf import DictConfig

    return {k: omegaconf_to_dict(v) if isinstance(v, DictConfig) else v for k, v in d.items()}


def flatten_dict(d, prefix="", separator="/"):
    """IsaacGymEnvs' ``isaacgymenvs.utils.utils.flatten_dict``."""
    flat = {}
    for key, value in d.items():
        if isinstance(value, dict):
            flat.update(flatten_dict(value, prefix + key + separator, separator))
        else:
            flat[prefix + key] = value
    return flat


class IgeRLGPUAlgoObserver(AlgoObserver):
    """IsaacGymEnvs' ``RLGPUAlgoObserver``: ``Episode/<key>`` against the epoch, every scalar info (flattened) as
    ``<key>/frame|iter|time``, through the copy of the agent's writer it takes in ``after_init``."""

    def __init__(self):
        super().__init__()
        self.algo, self.writer, self.ep_infos, self.direct_info = None, None, [], {}

    def after_init(self, algo):
        self.algo = algo
        self.writer = self.algo.writer

    def process_infos(self, infos, done_indices):
        if "episode" in infos:
            self.ep_infos.append(infos["episode"])
        self.direct_info = {k: v for k, v in flatten_dict(infos).items()
                            if isinstance(v, (float, int)) or (isinstance(v, torch.Tensor) and len(v.shape) == 0)}

    def after_print_stats(self, frame, epoch_num, total_time):
        if self.ep_infos:
            for key in self.ep_infos[0]:
                values = torch.stack([torch.as_tensor(ep_info[key], dtype=torch.float32).reshape(())
                                      for ep_info in self.ep_infos])
                self.writer.add_scalar("Episode/" + key, values.mean(), epoch_num)
            self.ep_infos.clear()
        for k, v in self.direct_info.items():
            self.writer.add_scalar(f"{k}/frame", v, frame)
            self.writer.add_scalar(f"{k}/iter", v, epoch_num)
            self.writer.add_scalar(f"{k}/time", v, total_time)


class IgeMultiObserver(AlgoObserver):
    """IsaacGymEnvs' ``MultiObserver``: its observers in ``self.observers``, every call forwarded to each."""

    def __init__(self, observers_):
        super().__init__()
        self.observers = observers_

    def _call_multi(self, method, *args_, **kwargs_):
        for o in self.observers:
            getattr(o, method)(*args_, **kwargs_)

    def before_init(self, base_name, config, experiment_name):
        self._call_multi("before_init", base_name, config, experiment_name)

    def after_init(self, algo):
        self._call_multi("after_init", algo)

    def process_infos(self, infos, done_indices):
        self._call_multi("process_infos", infos, done_indices)

    def after_steps(self):
        self._call_multi("after_steps")

    def after_print_stats(self, frame, epoch_num, total_time):
        self._call_multi("after_print_stats", frame, epoch_num, total_time)


class IgeWandbAlgoObserver(AlgoObserver):
    """IsaacGymEnvs' ``WandbAlgoObserver``: its own ``wandb.init(sync_tensorboard=True, ...)`` in ``before_init``,
    before rl_games creates the agent's writer."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg

    def before_init(self, base_name, config, experiment_name):
        import wandb

        cfg = self.cfg
        wandb.init(project=cfg.wandb_project, entity=cfg.wandb_entity or None, group=cfg.wandb_group or None,
                   tags=list(cfg.wandb_tags), sync_tensorboard=True, id=f"uid_{experiment_name}", name=experiment_name,
                   resume=True, settings=wandb.Settings(start_method="fork"))
        wandb.config.update(omegaconf_to_dict(self.cfg), allow_val_change=True)


def launch_rlg_hydra(cfg, source="cfg/train/TinyPointPPO.yaml"):
    """IsaacGymEnvs' ``launch_rlg_hydra`` with the simulator replaced, plus ``apply_to_runner`` after ``build_runner``."""
    from rl_games.algos_torch import model_builder
    from rl_games.algos_torch.models import ModelA2CContinuousLogStd
    from rl_games.algos_torch.network_builder import A2CBuilder

    register_env("rlgpu", "RLGPU")
    rlg_config_dict = omegaconf_to_dict(cfg.train)
    train_cfg = rlg_config_dict["params"]["config"]
    train_cfg["device"] = cfg.rl_device
    train_cfg["full_experiment_name"] = cfg.get("full_experiment_name")
    observers = [IgeRLGPUAlgoObserver()]
    if cfg.wandb_activate:
        observers.append(IgeWandbAlgoObserver(cfg))

    def build_runner(algo_observer):
        runner = Runner(algo_observer)
        model_builder.register_model("continuous_amp", lambda network, **kwargs: ModelA2CContinuousLogStd(network))
        model_builder.register_network("amp", lambda **kwargs: A2CBuilder())
        return runner

    runner = build_runner(IgeMultiObserver(observers))
    apply_to_runner(runner, rlg_config_dict, source=source)
    runner.load(rlg_config_dict)
    runner.reset()
    runner.run({"train": not cfg.test, "play": cfg.test, "checkpoint": cfg.checkpoint,
                "sigma": cfg.sigma if cfg.sigma != "" else None})
    return os.path.join(train_cfg["train_dir"], train_cfg["full_experiment_name"])


# Isaac Lab ----------------------------------------------------------------------------------------------------------

ISAACLAB_AGENT = """\
use_wandb: True
wandb:
  project: hsi-wandb-tests
  mode: offline
  videos: videos/train
params:
  seed: 42
  env:
    clip_observations: 5.0
    clip_actions: 1.0
""" + POLICY + """\
  config:
    name: tiny_point
    env_name: rlgpu
    device: cpu
    device_name: cpu
    multi_gpu: False
    num_actors: -1
    learning_rate: 5e-4
    schedule_type: legacy
    max_epochs: 100
    clip_actions: False
    seq_len: 4
""" + PPO


def isaaclab_train(agent_yaml, max_iterations=5, num_envs=32, checkpoint=None, write_video=None):
    """Isaac Lab's rl_games ``train.py`` with the simulator replaced, plus ``apply_to_runner`` after the Runner is
    built. ``write_video(video_folder)`` stands in for gymnasium's ``RecordVideo`` wrapper during training."""
    from rl_games.common.algo_observer import IsaacAlgoObserver

    with open(agent_yaml) as f:
        agent_cfg = yaml.safe_load(f)
    agent_cfg["params"]["config"]["max_epochs"] = max_iterations
    if checkpoint is not None:
        agent_cfg["params"]["load_checkpoint"] = True
        agent_cfg["params"]["load_path"] = checkpoint
    config_name = agent_cfg["params"]["config"]["name"]
    log_root_path = os.path.abspath(os.path.join("logs", "rl_games", config_name))
    log_dir = agent_cfg["params"]["config"].get("full_experiment_name", "2026-12-02_10-00-00")
    agent_cfg["params"]["config"]["train_dir"] = log_root_path
    agent_cfg["params"]["config"]["full_experiment_name"] = log_dir
    os.makedirs(os.path.join(log_root_path, log_dir, "params"), exist_ok=True)
    with open(os.path.join(log_root_path, log_dir, "params", "agent.yaml"), "w") as f:
        yaml.safe_dump(agent_cfg, f)

    env = IsaacLabLikeEnv(num_actors=num_envs, video_folder=os.path.join(log_root_path, log_dir, "videos", "train"),
                          write_video=write_video)
    vecenv.register("IsaacRlgWrapper", lambda config_name, num_actors, **kwargs: env)
    env_configurations.register("rlgpu", {"vecenv_type": "IsaacRlgWrapper", "env_creator": lambda **kwargs: env})
    agent_cfg["params"]["config"]["num_actors"] = env.num_envs
    runner = Runner(IsaacAlgoObserver())
    apply_to_runner(runner, agent_cfg, source=agent_yaml)
    runner.load(agent_cfg)
    runner.reset()
    if checkpoint is not None:
        runner.run({"train": True, "play": False, "sigma": None, "checkpoint": checkpoint})
    else:
        runner.run({"train": True, "play": False, "sigma": None})
    return os.path.join(log_root_path, log_dir)


class IsaacLabLikeEnv(EpisodeInfoEnv):
    """The env Isaac Lab's ``RlGamesVecEnvWrapper`` hands rl_games: one instance for the whole run, ``episode`` from
    its ``log`` extras; it writes a video into ``videos/train`` every few steps, as ``RecordVideo`` does."""

    def __init__(self, video_folder, write_video=None, video_interval=40, **kwargs):
        super().__init__(**kwargs)
        self.video_folder, self.write_video, self.video_interval, self.steps = video_folder, write_video, \
            video_interval, 0
        self.videos = deque()

    def step(self, actions):
        self.steps += 1
        if self.write_video is not None and self.steps % self.video_interval == 0:
            os.makedirs(self.video_folder, exist_ok=True)
            path = os.path.join(self.video_folder, "rl-video-step-{}.mp4".format(self.steps))
            self.write_video(path)
            self.videos.append(path)
        return super().step(actions)
