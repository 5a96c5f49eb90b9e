"""``thompson``: Beta-Bernoulli Thompson sampling over items, not personalised; a pull is a shown item.

Every shown item is a pull of that item's arm, with reward 1 when it was clicked and 0 otherwise (see
:mod:`agents.helpers.item_bandit`). Item ``i``'s click probability per show has the posterior
``Beta(prior_clicks + c_i, prior_misses + n_i - c_i)`` after ``n_i`` shows and ``c_i`` clicks. Each user
draws their own sample of every item's probability, and their slate is the ``k`` items of highest sample
outside their own clicked items, so users served in one step explore different items.

The draws come from a generator started from the fit seed by ``fit`` and restarted by ``load``, so every
episode explores the same way from the checkpoint and ``recommend`` changes no saved state. A click per
show is rare, so a prior near the uniform ``Beta(1, 1)`` keeps showing items never shown; the defaults were
chosen by measurement on the ``small``, ``default`` and a differently seeded synthetic world
(``benchmarks/README.md``, "Bandits").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.helpers.item_bandit import ItemBandit
from agents.helpers.ranking import top_k_unseen_by_chunks
from recsim_lab.validation import check_fields


@dataclass
class ThompsonAgent(ItemBandit):
    """Top-k of each user's own draw from every item's Beta posterior (see the module docstring)."""

    prior_clicks: float = 1.0
    """``a`` of the ``Beta(a, b)`` prior of every item's click probability per show (pseudo-clicks)."""
    prior_misses: float = 1.0
    """``b`` of the ``Beta(a, b)`` prior (pseudo-shows without a click)."""

    def __post_init__(self) -> None:
        check_fields(self, ("prior_clicks", "prior_misses"), float, min_val=0.0, include_boundaries="neither")

    def posterior(self) -> tuple[np.ndarray, np.ndarray]:
        """``(alpha, beta)``: two ``(n_items,)`` float64 parameters of every item's Beta posterior."""
        return self.prior_clicks + self.clicks, self.prior_misses + self.shows - self.clicks

    def recommend(self, users: np.ndarray, k: int) -> np.ndarray:
        alpha, beta = self.posterior()
        return top_k_unseen_by_chunks(lambda chunk: self.rng.beta(alpha, beta, size=(chunk.size, alpha.size)),
                                      np.asarray(users, dtype=np.int64), self.seen, k)


__all__ = ["ThompsonAgent"]
