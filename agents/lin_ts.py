"""``lin_ts``: linear Thompson sampling (Agrawal and Goyal, 2013), one Bayesian ridge model per user over the
items' text.

The model, its features, its warm start and its Sherman-Morrison updates are those of
:mod:`agents.helpers.linear_bandit`: ``theta_u = A_u^-1 b_u`` over projected text embeddings ``x_i``, every
shown item a pull (reward 1 for the click, 0 for the others). For each step every user draws

    theta~_u = theta_u + scale * L_u z,   z ~ N(0, I_d),   L_u L_u^T = A_u^-1 (Cholesky)

i.e. ``theta~_u ~ N(theta_u, scale^2 A_u^-1)``, the posterior of Bayesian linear regression with noise
standard deviation ``scale``, and their slate is the ``k`` items of highest ``x_i . theta~_u`` outside their
own clicked items. A draw costs ``d^3`` per user (the Cholesky factor) and scoring ``d`` per user and item.

The draws come from a generator started from the fit seed by ``fit`` and restarted by ``load``, so every
episode explores the same way from the checkpoint and ``recommend`` changes no saved state. Defaults
(``scale``, ``ridge``, ``dim``, ``history_negatives``) were chosen by measurement on the ``small``,
``default`` and a differently seeded synthetic world (``benchmarks/README.md``, "Bandits").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.helpers.linear_bandit import LinearBandit
from agents.helpers.ranking import top_k_unseen
from recsim_lab.validation import check_fields


@dataclass
class LinTSAgent(LinearBandit):
    """Top-k items by each user's draw from their Gaussian posterior (see the module docstring)."""

    scale: float = 0.1
    """Standard deviation of the posterior draws in units of ``A_u^-1``'s (0: greedy ridge regression)."""

    name = "lin_ts"

    def __post_init__(self) -> None:
        check_fields(self, ("scale",), float, min_val=0.0)
        super().__post_init__()

    def sample_theta(self, users: np.ndarray) -> np.ndarray:
        """``(B, d)`` float64 draws ``theta~_u ~ N(theta_u, scale^2 A_u^-1)`` for ``users`` ``(B,)``, from
        ``rng``."""
        users = np.asarray(users, dtype=np.int64)
        z = self.rng.standard_normal((users.size, self.features.shape[1]))
        factor = np.linalg.cholesky(self.a_inv[users])  # (B, d, d) lower triangular
        return self.theta(users) + self.scale * np.einsum("bde,be->bd", factor, z)

    def recommend(self, users: np.ndarray, k: int) -> np.ndarray:
        users = np.asarray(users, dtype=np.int64)
        scores = self.sample_theta(users).astype(np.float32) @ self.features.T  # (B, n_items)
        return top_k_unseen(scores, users, self.seen, k)


__all__ = ["LinTSAgent"]
