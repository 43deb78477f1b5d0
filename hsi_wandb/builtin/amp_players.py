"""Policy player for AMP checkpoints: restores the actor and acts deterministically on a batched task."""

import torch

from rl_games.algos_torch import players


class AMPPlayer(players.PpoPlayerContinuous):
    """rl_games continuous PPO player (the discriminator is not needed to act) with a batched deterministic act()."""

    def act(self, obs):
        """Deterministic (mean) actions for a batch of observations, rescaled to the action space."""
        self.has_batch_dimension = True
        return self.get_action(obs, is_determenistic=True)

    def restore(self, fn):
        """Load actor weights and observation normaliser from an AMPAgent checkpoint onto this player's device."""
        checkpoint = torch.load(fn, map_location=self.device)
        self.model.load_state_dict(checkpoint['model'])
        if self.normalize_input:
            self.running_mean_std.load_state_dict(checkpoint['running_mean_std'])
