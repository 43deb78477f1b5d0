"""rl_games network builder 'amp': the A2C actor-critic plus a discriminator MLP with a single logit output."""

from typing import Any, Callable, List, Sequence

import torch
from torch import nn

from rl_games.algos_torch.network_builder import A2CBuilder


class Discriminator(nn.Module):
    """MLP scoring AMP observations: positive logits mean 'looks like the demonstrations'."""

    def __init__(self, input_size: int, units: Sequence[int], activation: Callable[[], nn.Module]) -> None:
        """Hidden layers `units` with `activation`, then a linear logit."""
        super().__init__()
        layers = []
        for size in units:
            layers += [nn.Linear(input_size, size), activation()]
            input_size = size
        self.trunk = nn.Sequential(*layers)
        self.logits = nn.Linear(input_size, 1)
        nn.init.uniform_(self.logits.weight, -1.0, 1.0)
        nn.init.zeros_(self.logits.bias)

    def forward(self, amp_obs: torch.Tensor) -> torch.Tensor:
        """Logits (N, 1) for normalised AMP observations (N, amp_dim)."""
        return self.logits(self.trunk(amp_obs))

    def weights(self) -> List[torch.Tensor]:
        """All weight matrices (for weight decay)."""
        return [m.weight for m in self.modules() if isinstance(m, nn.Linear)]


ACTIVATIONS = {"relu": nn.ReLU, "elu": nn.ELU, "tanh": nn.Tanh, "selu": nn.SELU}


class AMPBuilder(A2CBuilder):
    """A2CBuilder whose params also carry a `disc: {units, activation}` section for the discriminator.

    As in ASE, `space.continuous.learn_sigma: False` keeps a fixed_sigma at its initial value.
    """

    def build(self, name: str, **kwargs: Any) -> nn.Module:
        """The A2C network, with its fixed sigma frozen unless learn_sigma is true."""
        net = super().build(name, **kwargs)
        space = self.params.get("space", {}).get("continuous", {})
        if space.get("fixed_sigma") and not space.get("learn_sigma", True):
            net.sigma.requires_grad_(False)
        return net

    def build_discriminator(self, amp_input_shape: Sequence[int]) -> Discriminator:
        """A Discriminator for AMP observations of amp_input_shape, sized by params['disc']."""
        disc = self.params.get("disc", {})
        return Discriminator(int(amp_input_shape[0]), disc.get("units", [256, 128]),
                             ACTIVATIONS[disc.get("activation", "relu")])
