"""``oracle``: reads the hidden world and shows each user their 5 best unseen items. The upper reference."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from recsim_lab.data import Dataset
from recsim_lab.ranking import top_k_unseen
from recsim_lab.seen import SeenItems
from recsim_lab.world import World

_CHUNK_CELLS = 1 << 23  # scores computed per chunk of users (rows x n_items), about 32 MB of float32


@dataclass
class OracleAgent:
    """Top-k true scores outside the user's history. Privileged: needs the hidden ``world``.

    Greedy and myopic (it maximises the next click's chance, not the session length), so it is the
    reference ceiling for the agents here, not a proven optimum.
    """

    world: World
    seen: SeenItems | None = field(default=None, init=False, repr=False)

    def fit(self, data: Dataset, *, seed: int) -> None:
        self.seen = SeenItems.from_histories(data.histories, data.n_items)

    def recommend(self, users: np.ndarray, k: int) -> np.ndarray:
        items = self.world.item_embeddings
        rows = max(1, _CHUNK_CELLS // items.shape[0])
        slates = np.empty((users.size, k), dtype=np.int64)
        for start in range(0, users.size, rows):
            chunk = users[start:start + rows]
            scores = self.world.user_embeddings[chunk] @ items.T
            slates[start:start + rows] = top_k_unseen(scores, chunk, self.seen, k)
        return slates

    def update(self, users: np.ndarray, slates: np.ndarray, clicks: np.ndarray) -> None:
        self.seen.add(users, clicks)

    def save(self, path: Path) -> None:
        self.seen.save(path)

    def load(self, path: Path) -> None:
        self.seen = SeenItems.load(path)
