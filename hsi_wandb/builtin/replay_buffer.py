"""Fixed-size circular tensor buffer used for demonstration and agent AMP observations."""

from typing import Union

import torch


class ReplayBuffer:
    """Keeps the most recent `capacity` rows of a (N, dim) tensor stream and samples them uniformly."""

    def __init__(self, capacity: int, dim: int, device: Union[str, torch.device]) -> None:
        """Allocate storage for capacity rows of size dim on device."""
        self.data = torch.zeros((int(capacity), dim), device=device)
        self.capacity = int(capacity)
        self.head = 0
        self.count = 0

    def store(self, rows: torch.Tensor) -> None:
        """Append rows, overwriting the oldest ones once full."""
        rows = rows[-self.capacity:]
        index = (self.head + torch.arange(rows.shape[0], device=self.data.device)) % self.capacity
        self.data[index] = rows
        self.head = (self.head + rows.shape[0]) % self.capacity
        self.count = min(self.count + rows.shape[0], self.capacity)

    def sample(self, num: int) -> torch.Tensor:
        """num rows drawn uniformly (with replacement) from what is stored."""
        return self.data[torch.randint(0, self.count, (num,), device=self.data.device)]
