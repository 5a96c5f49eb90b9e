"""``random``: uniformly random distinct items outside each user's known history. The lower reference."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from agents.helpers.ranking import random_unseen
from recsim_lab.checkpoint import load_arrays, save_arrays
from recsim_lab.data import Dataset
from recsim_lab.data.seen import SeenItems


@dataclass
class RandomAgent:
    """Recommend ``k`` distinct items drawn uniformly from those the user has not clicked.

    ``recommend`` is a pure function of the state: its draws come from a generator seeded with the fit
    seed and the number of ``update`` calls so far, so only ``update`` changes what comes next.
    """

    seen: SeenItems | None = field(default=None, init=False, repr=False)
    seed: int = field(default=0, init=False)
    updates: int = field(default=0, init=False)

    def fit(self, data: Dataset, *, seed: int) -> None:
        self.seen = SeenItems.from_histories(data.histories, data.n_items)
        self.seed, self.updates = seed, 0

    def recommend(self, users: np.ndarray, k: int) -> np.ndarray:
        return random_unseen(np.random.default_rng([self.seed, self.updates]), users, self.seen, k)

    def update(self, users: np.ndarray, slates: np.ndarray, clicks: np.ndarray) -> None:
        self.seen.add(users, clicks)
        self.updates += 1

    def save(self, path: Path) -> None:
        self.seen.save(path)
        save_arrays(path, counters=np.array([self.seed, self.updates], dtype=np.int64))

    def load(self, path: Path) -> None:
        self.seen = SeenItems.load(path)
        self.seed, self.updates = (int(v) for v in load_arrays(path, "counters")[0])
