"""Task registry and rl_games wiring: env/vecenv registration, config loading, a Runner with the AMP agent."""

import copy
import os
from datetime import datetime
from typing import Any, Dict, Mapping, Optional, Tuple, Union

import torch
import yaml

from rl_games.algos_torch import models
from rl_games.common import env_configurations, vecenv
from rl_games.torch_runner import Runner

from .amp_agent import AMPAgent
from .amp_network_builder import AMPBuilder
from .amp_players import AMPPlayer
from .inputs import DEFAULT_TASK, default_config_paths
from .rlg_env import BuiltinVecEnv
from .tasks import TASKS
from .vec_task import VecTask

ENV_NAME = "hsi_builtin"
VECENV_TYPE = "HSI_BUILTIN"


def default_rl_device() -> str:
    """'cuda:0' when a GPU is available, else 'cpu'."""
    return "cuda:0" if torch.cuda.is_available() else "cpu"


def create_task(task: str, cfg: Mapping[str, Any], device: Union[str, torch.device],
                seed: Optional[int] = None) -> VecTask:
    """Instantiate the built-in task named `task` from an env config dict on device (seeding torch when seed is set)."""
    if task not in TASKS:
        raise ValueError("unknown built-in task {!r}; choose one of {}".format(task, sorted(TASKS)))
    if seed is not None:
        torch.manual_seed(seed)
    return TASKS[task](cfg, device)


def register_envs() -> None:
    """Register the built-in tasks with rl_games as env ENV_NAME of vecenv type VECENV_TYPE (as ASE registers rlgpu)."""
    env_configurations.register(ENV_NAME, {"env_creator": lambda **kwargs: create_task(**kwargs),
                                           "vecenv_type": VECENV_TYPE})
    vecenv.register(VECENV_TYPE, lambda config_name, num_actors, **kwargs: BuiltinVecEnv(config_name, num_actors, **kwargs))


def build_runner(algo_observer: Any = None) -> Runner:
    """An rl_games Runner with the built-in envs registered and algo/player/model/network 'amp' available (ASE names)."""
    register_envs()
    runner = Runner(algo_observer)
    runner.model_builder.model_factory.register_builder(
        "amp", lambda network, **kwargs: models.ModelA2CContinuousLogStd(network))
    runner.algo_factory.register_builder("amp", lambda **kwargs: AMPAgent(**kwargs))
    runner.player_factory.register_builder("amp", lambda **kwargs: AMPPlayer(**kwargs))
    runner.model_builder.network_factory.register_builder("amp", lambda **kwargs: AMPBuilder())
    return runner


def load_task_configs(task: str = DEFAULT_TASK, cfg_env_path: Optional[str] = None,
                      cfg_train_path: Optional[str] = None) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """Read (cfg_env, cfg_train) dicts; paths left as None default to the task's shipped configs."""
    default_env, default_train = default_config_paths(task)
    with open(cfg_env_path or default_env) as f:
        cfg_env = yaml.safe_load(f)
    with open(cfg_train_path or default_train) as f:
        cfg_train = yaml.safe_load(f)
    return cfg_env, cfg_train


def build_rl_config(task: str, cfg_env: Mapping[str, Any], cfg_train: Mapping[str, Any],
                    rl_device: Optional[str] = None, seed: Optional[int] = None, num_envs: Optional[int] = None,
                    max_epochs: Optional[int] = None, checkpoint: Optional[str] = None,
                    train_dir: Optional[str] = None, experiment_name: Optional[str] = None) -> Dict[str, Any]:
    """The dict to pass to Runner.load: cfg_train's `params` wired to the task (env_config, device, num_actors).

    Keys outside `params` (use_wandb, wandb, ...) are dropped. With `checkpoint` the agent restores it before
    training and continues from its epoch and frame (TokenHSI's --checkpoint X --resume 1).
    """
    params = copy.deepcopy(cfg_train["params"])
    cfg_env = copy.deepcopy(cfg_env)
    config = params["config"]
    device = rl_device or default_rl_device()
    if num_envs is not None:
        cfg_env["env"]["numEnvs"] = int(num_envs)
    if seed is not None:
        params["seed"] = int(seed)
    if max_epochs is not None:
        config["max_epochs"] = int(max_epochs)
    if train_dir is not None:
        config["train_dir"] = train_dir
    if experiment_name is not None:
        config["full_experiment_name"] = experiment_name
    config["env_name"] = ENV_NAME
    config["name"] = config.get("name", task)
    config["num_actors"] = int(cfg_env["env"]["numEnvs"])
    config["device"] = device
    config["device_name"] = device
    config["env_config"] = {"task": task, "cfg": cfg_env, "device": device, "seed": params.get("seed")}
    params["load_checkpoint"] = checkpoint is not None
    params["load_path"] = checkpoint
    return {"params": params}


def claim_experiment(rl_config: Dict[str, Any]) -> Tuple[str, bool]:
    """(the training run's experiment folder, whether this call created it).

    A new experiment is named as rl_games names it, ``<name>_<day-hour-minute-second>``, and created here, so a run
    started in the same second (a seed loop with ``&``, sweep agents on one node) gets ``<name>_<time>_2``: two runs
    never share a folder. A resume keeps the folder its config names.
    """
    config = rl_config["params"]["config"]
    train_dir = config.get("train_dir", "runs")
    if config.get("full_experiment_name"):
        return os.path.join(train_dir, config["full_experiment_name"]), False
    stamp = config["name"] + datetime.now().strftime("_%d-%H-%M-%S")
    os.makedirs(train_dir, exist_ok=True)
    name, number = stamp, 1
    while True:
        try:
            os.mkdir(os.path.join(train_dir, name))
        except FileExistsError:
            number += 1
            name = "{}_{}".format(stamp, number)
            continue
        config["full_experiment_name"] = name
        return os.path.join(train_dir, name), True
