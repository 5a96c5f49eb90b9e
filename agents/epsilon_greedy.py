"""``epsilon_greedy``: ε-greedy over items, not personalised; a pull is a shown item.

Every shown item is a pull of that item's arm, with reward 1 when it was clicked and 0 otherwise (see
:mod:`agents.helpers.item_bandit`). The estimate of item ``i`` is its click rate per show,
``c_i / n_i`` (0 for an item never shown). Each slot of a user's slate explores with probability
``epsilon``, independently: a user with ``m`` exploring slots gets the ``k - m`` items of highest estimate
outside their own clicked items, then ``m`` items drawn uniformly from the rest of their unseen items.
Ties of the estimate go to the items most clicked in the initial histories, so the greedy part starts out
as the ``popularity`` agent.

The draws come from a generator started from the fit seed by ``fit`` and restarted by ``load``, so every
episode explores the same way from the checkpoint and ``recommend`` changes no saved state. ``epsilon`` was
chosen by measurement on the ``small``, ``default`` and a differently seeded synthetic world
(``benchmarks/README.md``, "Bandits").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.helpers.item_bandit import ItemBandit
from agents.helpers.ranking import random_unseen
from recsim_lab.validation import check_fields


@dataclass
class EpsilonGreedyAgent(ItemBandit):
    """Greedy top-k by click rate per show, each slot replaced by a random unseen item with probability
    ``epsilon`` (see the module docstring)."""

    epsilon: float = 0.2
    """Probability that a slot explores (a uniformly random unseen item instead of the next greedy one)."""

    def __post_init__(self) -> None:
        check_fields(self, ("epsilon",), float, min_val=0.0, max_val=1.0)

    def estimate(self) -> np.ndarray:
        """``(n_items,)`` float64 click rate per show; 0 for items never shown."""
        return np.divide(self.clicks, self.shows, out=np.zeros_like(self.clicks), where=self.shows > 0)

    def recommend(self, users: np.ndarray, k: int) -> np.ndarray:
        users = np.asarray(users, dtype=np.int64)
        greedy = self.ranked_unseen(self.estimate(), users, k)  # (B, k)
        explore = self.rng.random((users.size, k)) < self.epsilon  # (B, k): which slots explore
        n_explore = explore.sum(axis=1)
        if not n_explore.any():
            return greedy
        keep = np.arange(k) < (k - n_explore)[:, None]  # (B, k): the first k - m greedy items stay
        # 2k distinct unseen draws per user: at most k of them can clash with the kept greedy items
        draws = random_unseen(self.rng, users, self.seen, min(2 * k, self.seen.n_items))
        clash = ((draws[:, :, None] == greedy[:, None, :]) & keep[:, None, :]).any(axis=2)
        fresh = np.take_along_axis(draws, np.argsort(clash, axis=1, kind="stable"), axis=1)[:, :k]
        slot = np.arange(k) - (k - n_explore)[:, None]  # position among the exploring slots
        return np.where(keep, greedy, np.take_along_axis(fresh, np.maximum(slot, 0), axis=1))


__all__ = ["EpsilonGreedyAgent"]
