"""An agent and a player in the shape of TokenHSI's (rl-games 1.1.4), on a tiny batched env, for adapter tests.

The agent trains with the ASE/TokenHSI loop (``CommonAgent.train``): ``self.frame = 0`` at the start (so a resumed
run counts frames from 0 again while epochs go on), tags written at the frame before the epoch, ``<name>.pth`` at
every save_frequency epoch and ``<name>_<epoch:08d>.pth`` beside it with ``save_intermediate: True``, training
until ``epoch > max_epochs`` and a last ``<name>.pth`` then. It writes exactly their TensorBoard tags, TokenHSI's
multi-task ``reward_{task}/frame|iter|time`` included (inside the loop over value dimensions, skipped while a task's
meter is empty). The player evaluates as TokenHSI's ``AMPPlayerContinuous.run_eval()`` does: finished envs reset
every step, the first episode of every env counted, three experiments ``ObjectSet_test_{i}``, the seven result keys,
a JSON file under ``<checkpoint dir>/../metrics/<checkpoint name>/``, and no return value. One liberty: precision
is summed as a Python float, where TokenHSI sums numpy scalars (float64 under numpy 1.x, which ``json.dump``
takes; float32 under numpy 2, which it refuses).
"""
import copy
import datetime
import json
import os

import torch
from rl_games.algos_torch import a2c_continuous, players, torch_ext
from rl_games.common import env_configurations, vecenv
from rl_games.common.algo_observer import AlgoObserver
from rl_games.torch_runner import Runner

import tiny_env

ENV_NAME = "hsi_wandb_test_tokenhsi"
TASK_NAMES = ["near", "far"]
RESULT_KEYS = ["num_trials", "success_trials", "success_rate", "success_precision", "fail_trials",
               "fail_trials_because_terminate", "fail_trials_total"]


class MultiTaskReachEnv(tiny_env.PointReachVecEnv):
    """The tiny env with a task per env (even envs `near`, odd envs `far`) and TokenHSI's ``reset(env_ids)``."""

    _multiple_task_names = TASK_NAMES

    def reset(self, env_ids=None):
        if env_ids is None:
            self._reset(torch.arange(self.num_envs))
        return self._obs()

    def step(self, actions):
        obs, reward, done, infos = super().step(actions)
        tasks = torch.arange(self.num_envs) % 2
        infos.update(near=tasks == 0, far=tasks == 1, successes=infos["success"].float())
        return obs, reward, done, infos


class SuccessObserver(AlgoObserver):
    """TokenHSI's (and ASE's) ``RLGPUAlgoObserver``: the mean of ``infos['successes']`` over finished episodes,
    written through the writer it copied from the agent in ``after_init``."""

    def after_init(self, algo):
        self.algo = algo
        self.consecutive_successes = torch_ext.AverageMeter(1, algo.games_to_track).to(algo.ppo_device)
        self.writer = algo.writer

    def process_infos(self, infos, done_indices):
        if isinstance(infos, dict) and "successes" in infos:
            self.consecutive_successes.update(infos["successes"].clone()[done_indices].to(self.algo.ppo_device))

    def after_print_stats(self, frame, epoch_num, total_time):
        if self.consecutive_successes.current_size > 0:
            mean = self.consecutive_successes.get_mean()
            self.writer.add_scalar("successes/consecutive_successes/mean", mean, frame)
            self.writer.add_scalar("successes/consecutive_successes/iter", mean, epoch_num)
            self.writer.add_scalar("successes/consecutive_successes/time", mean, total_time)


class TokenHSILikeAgent(a2c_continuous.A2CAgent):
    """rl_games PPO trained with TokenHSI's loop and tags; per-task episode returns as its multi-task agents keep them."""

    def __init__(self, base_name, config):
        super().__init__(base_name, config)
        self._save_intermediate = config.get("save_intermediate", False)
        self.multi_task_rwd_recoders = {name: torch_ext.AverageMeter(self.value_size, self.games_to_track)
                                        for name in TASK_NAMES}
        self._task_return = torch.zeros(self.num_actors, self.value_size)

    def env_step(self, actions):
        obs, rewards, dones, infos = super().env_step(actions)
        self._task_return += rewards.reshape(self.num_actors, -1).float().cpu()
        for name in TASK_NAMES:
            task_done = torch.logical_and(dones.bool().cpu(), infos[name]).nonzero(as_tuple=False)
            self.multi_task_rwd_recoders[name].update(self._task_return[task_done])
        self._task_return[dones.bool().cpu()] = 0.0
        return obs, rewards, dones, infos

    def train(self):
        self.init_tensors()
        self.last_mean_rewards = -100500
        total_time = 0
        self.frame = 0
        self.obs = self.env_reset()
        model_output_file = os.path.join(self.nn_dir, self.config["name"])
        while True:
            epoch_num = self.update_epoch()
            (step_time, play_time, update_time, sum_time, a_losses, c_losses, b_losses, entropies, kls,
             last_lr, lr_mul) = self.train_epoch()
            total_time += sum_time
            frame = self.frame
            curr_frames = self.curr_frames
            self.frame += curr_frames
            w = self.writer
            w.add_scalar("performance/total_fps", curr_frames / sum_time, frame)
            w.add_scalar("performance/step_fps", curr_frames / play_time, frame)
            w.add_scalar("info/epochs", epoch_num, frame)
            w.add_scalar("performance/update_time", update_time, frame)
            w.add_scalar("performance/play_time", play_time, frame)
            w.add_scalar("losses/a_loss", torch_ext.mean_list(a_losses).item(), frame)
            w.add_scalar("losses/c_loss", torch_ext.mean_list(c_losses).item(), frame)
            w.add_scalar("losses/bounds_loss", torch_ext.mean_list(b_losses).item(), frame)
            w.add_scalar("losses/entropy", torch_ext.mean_list(entropies).item(), frame)
            w.add_scalar("info/last_lr", last_lr * lr_mul, frame)
            w.add_scalar("info/lr_mul", lr_mul, frame)
            w.add_scalar("info/e_clip", self.e_clip * lr_mul, frame)
            w.add_scalar("info/clip_frac", 0.125, frame)
            w.add_scalar("info/kl", torch_ext.mean_list(kls).item(), frame)
            w.add_scalar("losses/disc_loss", 0.5 + 1.0 / epoch_num, frame)
            for i, name in enumerate(("agent_acc", "demo_acc", "agent_logit", "demo_logit", "grad_penalty",
                                      "logit_loss", "reward_mean", "reward_std")):
                w.add_scalar("info/disc_" + name, i + 0.25 * epoch_num, frame)
            self.algo_observer.after_print_stats(frame, epoch_num, total_time)
            if self.game_rewards.current_size > 0:
                mean_rewards = self.game_rewards.get_mean()
                mean_lengths = self.game_lengths.get_mean()
                for i in range(self.value_size):
                    w.add_scalar("rewards{0}/frame".format(i), mean_rewards[i], frame)
                    w.add_scalar("rewards{0}/iter".format(i), mean_rewards[i], epoch_num)
                    w.add_scalar("rewards{0}/time".format(i), mean_rewards[i], total_time)
                    for name, meter in self.multi_task_rwd_recoders.items():
                        task_mean = meter.get_mean()
                        if task_mean.shape != ():
                            w.add_scalar("reward_{}/frame".format(name), task_mean[i], frame)
                            w.add_scalar("reward_{}/iter".format(name), task_mean[i], epoch_num)
                            w.add_scalar("reward_{}/time".format(name), task_mean[i], total_time)
                w.add_scalar("episode_lengths/frame", mean_lengths, frame)
                w.add_scalar("episode_lengths/iter", mean_lengths, epoch_num)
            if self.save_freq > 0 and epoch_num % self.save_freq == 0:
                self.save(model_output_file)
                if self._save_intermediate:
                    self.save(model_output_file + "_" + str(epoch_num).zfill(8))
            if epoch_num > self.max_epochs:
                self.save(model_output_file)
                return self.last_mean_rewards, epoch_num


class TokenHSILikePlayer(players.PpoPlayerContinuous):
    """rl_games' continuous player with TokenHSI's evaluation: ``run()`` calls ``run_eval()`` when ``eval`` is set."""

    def __init__(self, config):
        self._eval = config["eval"]
        self._eval_task = config.get("eval_task", "")
        super().__init__(config)

    def restore(self, fn):
        self._checkpoint_fn = fn
        super().restore(fn)

    def env_reset(self, env_ids=None):
        return self.obs_to_torch(self.env.reset(env_ids))

    def run(self):
        if self._eval:
            self.run_eval()
        else:
            super().run()

    def run_eval(self):
        num_envs = self.env.num_envs
        num_trials = num_envs
        eval_res = {}
        for i in range(3):
            obs = self.env_reset()
            self.get_batch_size(obs, 1)
            games_played = games_success = games_fail = games_fail_because_terminate = 0
            sum_success_precision = 0.0
            has_collected = torch.zeros(num_envs)
            done_indices = []
            while games_played < num_trials:
                obs = self.env_reset(done_indices)
                action = self.get_action(obs, self.is_determenistic)
                obs, _, done, info = self.env_step(self.env, action)
                done = torch.where(has_collected == 0, done.float(), torch.zeros(num_envs))
                has_collected[done == 1] += 1
                done_indices = done.nonzero(as_tuple=False)[:, 0]
                games_played += len(done_indices)
                if len(done_indices) > 0:
                    success_done = info["success"][done_indices]
                    success_indices = success_done.nonzero(as_tuple=False)[:, 0]
                    terminate_count = (info["terminate"][done_indices] & ~success_done).sum().item()
                    games_success += len(success_indices)
                    games_fail_because_terminate += terminate_count
                    games_fail += len(done_indices) - len(success_indices) - terminate_count
                    sum_success_precision += info["precision"][done_indices][success_indices].sum().item()
            eval_res["ObjectSet_test_{}".format(i)] = {
                "num_trials": games_played,
                "success_trials": games_success,
                "success_rate": games_success / games_played,
                "success_precision": sum_success_precision / games_success if games_success > 0 else 0,
                "fail_trials": games_fail,
                "fail_trials_because_terminate": games_fail_because_terminate,
                "fail_trials_total": games_fail + games_fail_because_terminate,
            }
            print("ObjectSet_test_{}".format(i), eval_res["ObjectSet_test_{}".format(i)])
        time = datetime.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
        folder_name = os.path.dirname(self._checkpoint_fn)
        save_dir = os.path.join(folder_name, "../metrics", os.path.basename(self._checkpoint_fn)[:-4])
        if self._eval_task != "":
            save_dir = os.path.join(save_dir, self._eval_task)
        os.makedirs(save_dir, exist_ok=True)
        json.dump(eval_res, open(os.path.join(save_dir, "metrics_{}.json".format(time)), "w"))


def register_env():
    """Register the env for the agent's vec env and the player's own env (idempotent)."""
    vecenv.register("HSI_WANDB_TOKENHSI", lambda config_name, num_actors, **kw: MultiTaskReachEnv(
        config_name, num_actors, **kw))
    env_configurations.register(ENV_NAME, {"vecenv_type": "HSI_WANDB_TOKENHSI",
                                           "env_creator": lambda **kw: MultiTaskReachEnv(**kw)})


def build_runner():
    """What a TokenHSI run.py's ``build_alg_runner`` does: a Runner with its observer, its own algorithm and player
    registered under the name ``tokenhsi``."""
    runner = Runner(SuccessObserver())
    register_env()
    runner.algo_factory.register_builder("tokenhsi", lambda **kw: TokenHSILikeAgent(**kw))
    runner.player_factory.register_builder("tokenhsi", lambda **kw: TokenHSILikePlayer(**kw))
    return runner


def train_config(train_dir, **overrides):
    """The tiny PPO config with TokenHSI's algorithm name, env, ``save_intermediate`` (as its multi-task configs set
    it) and the ``eval`` switch its run.py sets."""
    cfg = copy.deepcopy(tiny_env.train_config(train_dir, **overrides))
    cfg["params"]["algo"]["name"] = "tokenhsi"
    config = cfg["params"]["config"]
    config.update(env_name=ENV_NAME, name="HumanoidTraj", full_experiment_name="tokenhsi", eval=False, device_name="cpu",
                  save_intermediate=True, player={"determenistic": True})
    config.update(overrides)
    return cfg
