"""``popularity``: the most clicked items that the user has not clicked yet; counts grow with every click."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from agents.helpers.ranking import first_k_unseen, top_ranking
from recsim_lab.checkpoint import load_arrays, save_arrays
from recsim_lab.data import Dataset
from recsim_lab.data.seen import SeenItems


@dataclass
class PopularityAgent:
    """Rank items by click count (initial histories plus clicks seen since); skip each user's history.

    Ties are broken by lower item id, so recommendations are deterministic.
    """

    counts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64), init=False, repr=False)
    seen: SeenItems | None = field(default=None, init=False, repr=False)

    def fit(self, data: Dataset, *, seed: int) -> None:
        self.counts = data.click_counts()
        self.seen = SeenItems.from_histories(data.histories, data.n_items)

    def recommend(self, users: np.ndarray, k: int) -> np.ndarray:
        ranking = top_ranking(self.counts, k + int(self.seen.sizes[users].max(initial=0)))
        return first_k_unseen(ranking, users, self.seen, k)

    def update(self, users: np.ndarray, slates: np.ndarray, clicks: np.ndarray) -> None:
        clicked = clicks[clicks >= 0]
        np.add.at(self.counts, clicked, 1)
        self.seen.add(users, clicks)

    def save(self, path: Path) -> None:
        save_arrays(path, counts=self.counts)
        self.seen.save(path)

    def load(self, path: Path) -> None:
        (self.counts,) = load_arrays(path, "counts")
        self.seen = SeenItems.load(path)
