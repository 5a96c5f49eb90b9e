"""``oracle``: reads the hidden world and shows each user their ``k`` best unseen items (true scores; under the
``replay`` choice model, their held-out future in order). The upper reference."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from agents.helpers.ranking import first_k_unseen_per_user, top_k, top_k_unseen
from recsim_lab.data import Dataset
from recsim_lab.data.seen import SeenItems
from recsim_lab.sim.replay import future_scores
from recsim_lab.validation import check_fields, check_scalar
from recsim_lab.worlds.world import World

_CHUNK_CELLS = 1 << 23  # scores computed per chunk of users (rows x n_items), about 32 MB of float32
_RANKING_CELLS = 1 << 25  # deepest ranking kept for all users (rows x depth), 256 MB of int64


@dataclass
class OracleAgent:
    """Top-k true scores outside the user's history. Privileged: needs the hidden ``world``.

    True scores never change during an episode, only histories do, so each user's ``depth`` best items are
    ranked once; a recommendation walks that list past the user's history. When a user has clicked through
    the whole list, every user's list is ranked twice as deep (amortised: a few times per episode at most,
    up to about 32M ranked entries in all); beyond that, an exhausted user is scored against the full
    catalogue again.

    Under the ``replay`` choice model the true ranking is each user's held-out future, earliest first (what
    the replayed user clicks), so the oracle shows that.

    Greedy and myopic (it maximises the next click's chance, not the session length), so it is the
    reference ceiling for the agents here, not a proven optimum.
    """

    world: World
    depth: int = 256
    """Best items ranked per user up front."""
    seen: SeenItems | None = field(default=None, init=False, repr=False)
    ranking: np.ndarray | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        check_scalar(self.world, "world", World)
        check_fields(self, ("depth",), int, min_val=1)

    def fit(self, data: Dataset, *, seed: int) -> None:
        self.seen = SeenItems.from_histories(data.histories, data.n_items)

    def recommend(self, users: np.ndarray, k: int) -> np.ndarray:
        n_users, n_items = self.world.dataset.n_users, self.world.dataset.n_items
        if self.ranking is None or self.ranking.shape[1] < min(k, n_items):  # at least k deep (a long list asked)
            self._rank(min(max(self.depth, k), n_items))
        slates, short = first_k_unseen_per_user(self.ranking[users], users, self.seen, k)
        deeper = min(2 * self.ranking.shape[1], n_items, max(_RANKING_CELLS // n_users, self.ranking.shape[1]))
        if short.any() and deeper > self.ranking.shape[1]:
            self._rank(deeper)
            slates, short = first_k_unseen_per_user(self.ranking[users], users, self.seen, k)
        if short.any():
            exhausted = users[short]
            slates[short] = np.concatenate([top_k_unseen(scores, chunk, self.seen, k) for chunk, scores in
                                            zip(self._chunks(exhausted), self._score_chunks(exhausted))])
        return slates

    def _rank(self, depth: int) -> None:
        everyone = np.arange(self.world.dataset.n_users)
        self.ranking = np.concatenate([top_k(scores, depth) for scores in self._score_chunks(everyone)])

    def _chunks(self, users: np.ndarray) -> list[np.ndarray]:
        rows = max(1, _CHUNK_CELLS // self.world.dataset.n_items)
        return [users[start:start + rows] for start in range(0, users.size, rows)]

    def _score_chunks(self, users: np.ndarray):
        """Yield ``(rows, n_items)`` true-score blocks for consecutive chunks of ``users``."""
        for chunk in self._chunks(users):
            if self.world.rules.choice == "replay":
                yield future_scores(self.world.futures, chunk, self.world.dataset.n_items)
            else:
                yield self.world.user_embeddings[chunk] @ self.world.item_embeddings.T

    def update(self, users: np.ndarray, slates: np.ndarray, clicks: np.ndarray) -> None:
        self.seen.add(users, clicks)

    def save(self, path: Path) -> None:
        self.seen.save(path)

    def load(self, path: Path) -> None:
        self.seen = SeenItems.load(path)
