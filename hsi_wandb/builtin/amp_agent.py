"""AMP (adversarial motion prior) agent for rl_games 1.1.4, with ASE/TokenHSI's training loop and TensorBoard tags."""

import os
import time
from typing import Any, Dict, List, Sequence, Tuple

import torch
from torch import nn
from tqdm import tqdm

from rl_games.algos_torch import a2c_continuous, torch_ext
from rl_games.algos_torch.running_mean_std import RunningMeanStd
from rl_games.common import common_losses
from rl_games.common.a2c_common import swap_and_flatten01

from hsi_wandb.ranks import is_global_rank_zero

from .inputs import fitting
from .replay_buffer import ReplayBuffer
from .rollout_video import RolloutRecorder

AMP_DEFAULTS = {
    "task_reward_w": 0.5,
    "disc_reward_w": 0.5,
    "disc_coef": 5.0,
    "disc_logit_reg": 0.05,
    "disc_grad_penalty": 1.0,
    "disc_weight_decay": 0.0001,
    "disc_reward_scale": 2.0,
    "amp_batch_size": 512,
    "amp_minibatch_size": 4096,
    "amp_obs_demo_buffer_size": 200000,
    "amp_replay_buffer_size": 200000,
    "amp_replay_keep_prob": 0.01,
    "normalize_amp_input": True,
    "save_intermediate": False,
    "capture_video": False,
    "capture_video_freq": 20,
    "capture_video_len": 100,
}

DISC_INFO_KEYS = ("disc_agent_acc", "disc_demo_acc", "disc_agent_logit", "disc_demo_logit",
                  "disc_grad_penalty", "disc_logit_loss")


class AMPAgent(a2c_continuous.A2CAgent):
    """PPO with a discriminator whose style reward is mixed with the task reward (Peng et al. 2021).

    The env must report ``amp_obs`` in its step extras, expose ``amp_observation_space`` in its env
    info and ``fetch_amp_obs_demo(n)`` on ``vec_env.env``. Recurrent policies are not supported.
    """

    def __init__(self, base_name: str, config: Dict[str, Any]) -> None:
        """Build the PPO agent, then the discriminator, AMP normaliser and AMP buffers."""
        super().__init__(base_name, config)
        assert not self.is_rnn, "AMPAgent supports feed-forward policies only"
        for key, default in AMP_DEFAULTS.items():
            setattr(self, "_" + key, type(default)(config.get(key, default)))
        if self.bounds_loss_coef is None:
            self.bounds_loss_coef = 0.0
        self._amp_obs_shape = self.env_info["amp_observation_space"].shape
        self.discriminator = self.network.network_builder.build_discriminator(self._amp_obs_shape)
        self.discriminator.to(self.ppo_device)
        self.optimizer.add_param_group({"params": self.discriminator.parameters()})
        if self._normalize_amp_input:
            self._amp_input_mean_std = RunningMeanStd(self._amp_obs_shape).to(self.ppo_device)
        amp_dim = self._amp_obs_shape[0]
        self._amp_demo_buffer = ReplayBuffer(self._amp_obs_demo_buffer_size, amp_dim, self.ppo_device)
        self._amp_replay_buffer = ReplayBuffer(self._amp_replay_buffer_size, amp_dim, self.ppo_device)
        self.task_names = list(self.env_info.get("task_names", []))
        self._task_rewards = {name: torch_ext.AverageMeter(1, self.games_to_track).to(self.ppo_device)
                              for name in self.task_names}
        self._epoch_info = {}
        self._recorder = None
        if self._capture_video and is_global_rank_zero():
            self._recorder = RolloutRecorder(os.path.join(self.experiment_dir, "videos", "train"),
                                             self._capture_video_len, fps=1.0 / self._task().dt)
            self._task().recorder = self._recorder

    def _task(self) -> Any:
        """The task object behind the rl_games vec env."""
        return self.vec_env.env

    def init_tensors(self) -> None:
        """rl_games buffers plus the per-rollout AMP observation buffer; prefill the demonstration buffer."""
        super().init_tensors()
        self._amp_rollout = torch.zeros((self.horizon_length, self.num_actors) + tuple(self._amp_obs_shape),
                                        device=self.ppo_device)
        while self._amp_demo_buffer.count < self._amp_demo_buffer.capacity:
            self._amp_demo_buffer.store(self._task().fetch_amp_obs_demo(self._amp_batch_size))

    def set_eval(self) -> None:
        """Eval mode for policy, discriminator and AMP normaliser."""
        super().set_eval()
        self.discriminator.eval()
        if self._normalize_amp_input:
            self._amp_input_mean_std.eval()

    def set_train(self) -> None:
        """Train mode for policy, discriminator and AMP normaliser."""
        super().set_train()
        self.discriminator.train()
        if self._normalize_amp_input:
            self._amp_input_mean_std.train()

    def _preproc_amp_obs(self, amp_obs: torch.Tensor) -> torch.Tensor:
        """Normalise AMP observations (updating the statistics in train mode)."""
        return self._amp_input_mean_std(amp_obs) if self._normalize_amp_input else amp_obs

    def env_step(self, actions: torch.Tensor) -> Tuple[Any, torch.Tensor, torch.Tensor, Dict[str, Any]]:
        """Step the env, recording the AMP observation of the step and per-task finished-episode rewards."""
        obs, rewards, dones, infos = super().env_step(actions)
        self._amp_rollout[self._rollout_step] = infos["amp_obs"]
        self._rollout_step += 1
        for name, episode_rewards in infos.get("task_episode_rewards", {}).items():
            if name in self._task_rewards:
                self._task_rewards[name].update(episode_rewards.unsqueeze(-1).to(self.ppo_device))
        return obs, rewards, dones, infos

    def play_steps(self) -> Dict[str, Any]:
        """rl_games rollout; adds the flattened AMP observations to the batch. Every capture_video_freq epochs
        (with capture_video), and at the first epoch so a short trial has one too, it starts recording
        ``videos/train/epoch_<epoch>.mp4`` in the experiment folder."""
        if self._recorder is not None and (self.epoch_num == 1 or self.epoch_num % self._capture_video_freq == 0):
            self._recorder.start("epoch_{:05d}".format(self.epoch_num))
        self._rollout_step = 0
        batch_dict = super().play_steps()
        batch_dict["amp_obs"] = swap_and_flatten01(self._amp_rollout)
        return batch_dict

    def _disc_rewards(self, amp_obs: torch.Tensor) -> torch.Tensor:
        """Style reward -log(1 - D(s)) * disc_reward_scale for AMP observations of shape (..., amp_dim)."""
        with torch.no_grad():
            logits = self.discriminator(self._preproc_amp_obs(amp_obs.reshape(-1, amp_obs.shape[-1])))
            prob = torch.sigmoid(logits)
            rewards = -torch.log(torch.clamp(1.0 - prob, min=1e-4)) * self._disc_reward_scale
        return rewards.reshape(amp_obs.shape[:-1] + (1,))

    def discount_values(self, fdones: torch.Tensor, last_extrinsic_values: torch.Tensor, mb_fdones: torch.Tensor,
                        mb_extrinsic_values: torch.Tensor, mb_rewards: torch.Tensor) -> torch.Tensor:
        """GAE on the mixture task_reward_w * task reward + disc_reward_w * style reward."""
        disc_rewards = self._disc_rewards(self._amp_rollout)
        self._epoch_info["disc_reward_mean"] = disc_rewards.mean().item()
        self._epoch_info["disc_reward_std"] = disc_rewards.std().item()
        mixed = self._task_reward_w * mb_rewards + self._disc_reward_w * disc_rewards
        return super().discount_values(fdones, last_extrinsic_values, mb_fdones, mb_extrinsic_values, mixed)

    def prepare_dataset(self, batch_dict: Dict[str, Any]) -> None:
        """PPO dataset plus agent, replay and demonstration AMP observations; then refresh both AMP buffers."""
        super().prepare_dataset(batch_dict)
        amp_obs = batch_dict["amp_obs"]
        num = amp_obs.shape[0]
        replay = self._amp_replay_buffer.sample(num) if self._amp_replay_buffer.count > 0 else amp_obs
        self.dataset.values_dict["amp_obs"] = amp_obs
        self.dataset.values_dict["amp_obs_replay"] = replay
        self.dataset.values_dict["amp_obs_demo"] = self._amp_demo_buffer.sample(num)
        keep = torch.rand(num, device=self.ppo_device) < self._amp_replay_keep_prob
        self._amp_replay_buffer.store(amp_obs[keep])
        self._amp_demo_buffer.store(self._task().fetch_amp_obs_demo(self._amp_batch_size))

    def _disc_loss(self, input_dict: Dict[str, Any]) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """Discriminator BCE loss with logit regularisation, gradient penalty on demos and weight decay; returns (loss, info)."""
        size = self._amp_minibatch_size
        agent_obs = torch.cat([input_dict["amp_obs"][:size], input_dict["amp_obs_replay"][:size]], dim=0)
        agent_obs = self._preproc_amp_obs(agent_obs)
        demo_obs = self._preproc_amp_obs(input_dict["amp_obs_demo"][:size]).detach().requires_grad_(True)
        agent_logit = self.discriminator(agent_obs)
        demo_logit = self.discriminator(demo_obs)
        bce = nn.functional.binary_cross_entropy_with_logits
        pred_loss = 0.5 * (bce(agent_logit, torch.zeros_like(agent_logit)) + bce(demo_logit, torch.ones_like(demo_logit)))
        logit_loss = torch.sum(self.discriminator.logits.weight ** 2)
        grad = torch.autograd.grad(demo_logit.sum(), demo_obs, create_graph=True)[0]
        grad_penalty = torch.mean(torch.sum(grad ** 2, dim=-1))
        weight_decay = sum(torch.sum(w ** 2) for w in self.discriminator.weights())
        loss = (pred_loss + self._disc_logit_reg * logit_loss + self._disc_grad_penalty * grad_penalty
                + self._disc_weight_decay * weight_decay)
        info = {
            "disc_agent_acc": (agent_logit < 0).float().mean(),
            "disc_demo_acc": (demo_logit > 0).float().mean(),
            "disc_agent_logit": agent_logit.mean(),
            "disc_demo_logit": demo_logit.mean(),
            "disc_grad_penalty": grad_penalty,
            "disc_logit_loss": logit_loss,
        }
        return loss, {k: v.detach() for k, v in info.items()}

    def calc_gradients(self, input_dict: Dict[str, Any]) -> None:
        """One PPO + discriminator minibatch update; per-minibatch stats go to self._epoch_info lists. It steps through
        rl_games' GradScaler (off unless ``mixed_precision``), unscaling before it clips, as rl_games' and ASE's agents
        do."""
        advantage = input_dict["advantages"]
        old_mu, old_sigma = input_dict["mu"], input_dict["sigma"]
        res = self.model({"is_train": True, "prev_actions": input_dict["actions"],
                          "obs": self._preproc_obs(input_dict["obs"])})
        ratio = torch.exp(input_dict["old_logp_actions"] - res["prev_neglogp"])
        a_loss = common_losses.actor_loss(input_dict["old_logp_actions"], res["prev_neglogp"], advantage,
                                          self.ppo, self.e_clip).mean()
        c_loss = common_losses.critic_loss(input_dict["old_values"], res["values"], self.e_clip,
                                           input_dict["returns"], self.clip_value).mean()
        b_loss = self.bound_loss(res["mus"]).mean()
        entropy = res["entropy"].mean()
        disc_loss, disc_info = self._disc_loss(input_dict)
        loss = (a_loss + 0.5 * self.critic_coef * c_loss - self.entropy_coef * entropy
                + self.bounds_loss_coef * b_loss + self._disc_coef * disc_loss)

        self.optimizer.zero_grad()
        self.scaler.scale(loss).backward()
        if self.truncate_grads:
            self.scaler.unscale_(self.optimizer)
            params = [p for group in self.optimizer.param_groups for p in group["params"]]
            nn.utils.clip_grad_norm_(params, self.grad_norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()

        mu, sigma = res["mus"].detach(), res["sigmas"].detach()
        kl = torch_ext.policy_kl(mu, sigma, old_mu, old_sigma, True)
        disc_info["clip_frac"] = (torch.abs(ratio.detach() - 1.0) > self.e_clip).float().mean()
        disc_info["disc_loss"] = disc_loss.detach()
        for key, value in disc_info.items():
            self._epoch_info.setdefault(key, []).append(value)
        self.train_result = (a_loss.detach(), c_loss.detach(), entropy.detach(), kl, self.last_lr, 1.0,
                             mu, sigma, b_loss.detach())

    def bound_loss(self, mu: torch.Tensor) -> torch.Tensor:
        """Penalty on action means beyond +-1.1 (rl_games 1.1.4's version clamps the wrong side and pulls means out)."""
        soft_bound = 1.1
        return (torch.clamp_min(mu - soft_bound, 0.0) ** 2 + torch.clamp_min(-mu - soft_bound, 0.0) ** 2).sum(dim=-1)

    def get_full_state_weights(self) -> Dict[str, Any]:
        """rl_games checkpoint (model, optimizer, epoch, frame, ...) plus discriminator and AMP normaliser."""
        state = super().get_full_state_weights()
        state["last_mean_rewards"] = float(state["last_mean_rewards"])
        state["discriminator"] = self.discriminator.state_dict()
        if self._normalize_amp_input:
            state["amp_input_mean_std"] = self._amp_input_mean_std.state_dict()
        return state

    def restore(self, fn: str) -> None:
        """Restore a checkpoint to continue training; one that does not fit the task raises CheckpointMismatch."""
        with fitting(fn, self.config.get("env_config", {}).get("task", "")):
            super().restore(fn)

    def set_full_state_weights(self, weights: Dict[str, Any]) -> None:
        """Restore everything get_full_state_weights saved, so training continues at its epoch and frame."""
        self.discriminator.load_state_dict(weights["discriminator"])
        if self._normalize_amp_input:
            self._amp_input_mean_std.load_state_dict(weights["amp_input_mean_std"])
        super().set_full_state_weights(weights)

    def _write_train_stats(self, frame: int, epoch_num: int, curr_frames: int,
                           times: Tuple[float, float, float, float], losses: Sequence[List[torch.Tensor]],
                           last_lr: float, lr_mul: float) -> None:
        """performance/*, losses/* and info/* tags of one epoch, all at `frame`."""
        step_time, play_time, update_time, total_time = times
        a_losses, c_losses, b_losses, entropies, kls = losses
        mean = torch_ext.mean_list
        scalars = {
            "performance/total_fps": curr_frames / total_time,
            "performance/step_fps": curr_frames / step_time,
            "performance/update_time": update_time,
            "performance/play_time": play_time,
            "losses/a_loss": mean(a_losses).item(),
            "losses/c_loss": mean(c_losses).item(),
            "losses/bounds_loss": mean(b_losses).item(),
            "losses/entropy": mean(entropies).item(),
            "losses/disc_loss": mean(self._epoch_info["disc_loss"]).item(),
            "info/epochs": epoch_num,
            "info/last_lr": last_lr * lr_mul,
            "info/lr_mul": lr_mul,
            "info/clip_frac": mean(self._epoch_info["clip_frac"]).item(),
            "info/kl": mean(kls).item(),
            "info/e_clip": self.e_clip * lr_mul,
            "info/disc_reward_mean": self._epoch_info["disc_reward_mean"],
            "info/disc_reward_std": self._epoch_info["disc_reward_std"],
        }
        for key in DISC_INFO_KEYS:
            scalars["info/" + key] = mean(self._epoch_info[key]).item()
        for tag, value in scalars.items():
            self.writer.add_scalar(tag, value, frame)

    def _write_reward_stats(self, frame: int, epoch_num: int, total_time: float) -> None:
        """rewards{i}/*, episode_lengths/* and, for multi-task envs, TokenHSI's reward_{task}/* tags."""
        if self.game_rewards.current_size > 0:
            mean_rewards = self.game_rewards.get_mean()
            mean_lengths = self.game_lengths.get_mean()
            self.mean_rewards = float(mean_rewards[0])
            for i in range(self.value_size):
                self.writer.add_scalar("rewards{0}/frame".format(i), mean_rewards[i], frame)
                self.writer.add_scalar("rewards{0}/iter".format(i), mean_rewards[i], epoch_num)
                self.writer.add_scalar("rewards{0}/time".format(i), mean_rewards[i], total_time)
            self.writer.add_scalar("episode_lengths/frame", mean_lengths, frame)
            self.writer.add_scalar("episode_lengths/iter", mean_lengths, epoch_num)
        if len(self.task_names) > 1:
            for name, meter in self._task_rewards.items():
                if meter.current_size > 0:
                    value = float(meter.get_mean())
                    self.writer.add_scalar("reward_{}/frame".format(name), value, frame)
                    self.writer.add_scalar("reward_{}/iter".format(name), value, epoch_num)
                    self.writer.add_scalar("reward_{}/time".format(name), value, total_time)

    def train(self) -> Tuple[float, int]:
        """Train (:meth:`_train_loop`); a rollout video still being recorded is written however training ends."""
        try:
            return self._train_loop()
        finally:
            if self._recorder is not None:
                self._recorder.close()

    def _train_loop(self) -> Tuple[float, int]:
        """ASE-style loop: update_epoch, train_epoch, write stats at the pre-epoch frame, save via self.save; flush the writer at the end."""
        self.init_tensors()
        self.last_mean_rewards = -100500
        total_time = 0.0
        self.obs = self.env_reset()
        model_output_file = os.path.join(self.nn_dir, self.config["name"])
        while True:
            epoch_start = time.time()
            epoch_num = self.update_epoch()
            self._epoch_info = {}
            (step_time, play_time, update_time, sum_time, a_losses, c_losses, b_losses, entropies, kls,
             last_lr, lr_mul) = self.train_epoch()
            self.dataset.update_values_dict(None)
            total_time += sum_time
            frame = self.frame
            curr_frames = self.curr_frames
            self.frame += curr_frames
            if self.rank == 0:
                self._write_train_stats(frame, epoch_num, curr_frames, (step_time, play_time, update_time, sum_time),
                                        (a_losses, c_losses, b_losses, entropies, kls), last_lr, lr_mul)
                self.algo_observer.after_print_stats(frame, epoch_num, total_time)
                self._write_reward_stats(frame, epoch_num, total_time)
                is_last = epoch_num >= self.max_epochs
                periodic = self.save_freq > 0 and epoch_num % self.save_freq == 0
                with tqdm.external_write_mode():  # lines above a progress bar, not appended to it
                    if self.print_stats:
                        reward = "{:.3f}".format(self.mean_rewards) if self.game_rewards.current_size > 0 else "n/a"
                        print("epoch {} frame {} reward {} fps {:.0f} epoch time {:.2f}s".format(
                            epoch_num, frame, reward, curr_frames / sum_time, time.time() - epoch_start))
                    if periodic or is_last:
                        self.save(model_output_file)
                    if periodic and self._save_intermediate:
                        self.save(model_output_file + "_" + str(epoch_num).zfill(8))
                if is_last:
                    self.writer.flush()
                    return self.mean_rewards, epoch_num
