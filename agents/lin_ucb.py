"""``lin_ucb``: LinUCB (Li, Chu, Langford and Schapire, 2010), one ridge model per user over the items' text.

The model, its features, its warm start and its Sherman-Morrison updates are those of
:mod:`agents.helpers.linear_bandit`: ``theta_u = A_u^-1 b_u`` over projected text embeddings ``x_i``, every
shown item a pull (reward 1 for the click, 0 for the others). A user's slate is the ``k`` items of highest

    ucb_ui = x_i . theta_u + alpha * sqrt(x_i^T A_u^-1 x_i)

outside their own clicked items: the estimate plus ``alpha`` standard deviations of it (in units of the
reward noise). Deterministic. The bonus costs ``d^2`` per user and item, so ``dim`` stays small.
Defaults (``alpha``, ``ridge``, ``dim``, ``history_negatives``) were chosen by measurement on the ``small``,
``default`` and a differently seeded synthetic world (``benchmarks/README.md``, "Bandits").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.helpers.linear_bandit import LinearBandit
from agents.helpers.ranking import top_k_unseen
from recsim_lab.validation import check_fields


@dataclass
class LinUCBAgent(LinearBandit):
    """Top-k items by each user's LinUCB index (see the module docstring)."""

    alpha: float = 0.2
    """Width of the confidence bonus, in standard deviations of the estimate (0: greedy ridge regression)."""

    name = "lin_ucb"

    def __post_init__(self) -> None:
        check_fields(self, ("alpha",), float, min_val=0.0)
        super().__post_init__()

    def scores(self, users: np.ndarray) -> np.ndarray:
        """``(B, n_items)`` float32 LinUCB indices of every item for ``users`` ``(B,)``."""
        users = np.asarray(users, dtype=np.int64)
        x = self.features  # (n, d) float32
        scores = self.theta(users).astype(np.float32) @ x.T
        if self.alpha:
            for chunk in self.user_chunks(users.size):
                a_inv = self.a_inv[users[chunk]].astype(np.float32)  # (c, d, d)
                variance = ((x[None] @ a_inv) * x).sum(axis=2)  # (c, n): x_i^T A_u^-1 x_i
                scores[chunk] += np.float32(self.alpha) * np.sqrt(np.maximum(variance, 0))
        return scores

    def recommend(self, users: np.ndarray, k: int) -> np.ndarray:
        users = np.asarray(users, dtype=np.int64)
        return top_k_unseen(self.scores(users), users, self.seen, k)


__all__ = ["LinUCBAgent"]
