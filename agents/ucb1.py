"""``ucb1``: UCB1 over items (Auer, Cesa-Bianchi and Fischer, 2002), not personalised; a pull is a shown item.

Every shown item is a pull of that item's arm, with reward 1 when it was clicked and 0 otherwise (see
:mod:`agents.helpers.item_bandit`). With ``n_i`` the shows of item ``i``, ``c_i`` its clicks and ``t`` the
pulls of all items together (shown items since ``fit``), the index is

    ucb_i = c_i / n_i + exploration * sqrt(2 ln(t) / n_i)

and each user's slate is the ``k`` items of highest index outside their own clicked items. An item never
shown has an infinite index, so, as in UCB1, every item is shown once before any is shown twice (among
them the most clicked in the initial histories come first; at the start the agent is ``popularity``).
All users of a step get the same ranking (less their own items): the index changes only in ``update``.

``exploration`` scales the bonus (1: UCB1 as published, the default). On the built-in worlds it made no
difference (``benchmarks/README.md``, "Bandits"): each episode starts from the checkpoint with every item
never shown, and all users of a step share one ranking, so an episode ends before UCB1 has shown every
item once and reaches its confidence bonus.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.helpers.item_bandit import ItemBandit
from recsim_lab.validation import check_fields


@dataclass
class UCB1Agent(ItemBandit):
    """Top-k items by UCB1 index over per-item shows and clicks (see the module docstring)."""

    exploration: float = 1.0
    """Multiplier of the confidence bonus ``sqrt(2 ln t / n_i)`` (0: greedy on the click rate per show)."""

    def __post_init__(self) -> None:
        check_fields(self, ("exploration",), float, min_val=0.0)

    def index(self) -> np.ndarray:
        """``(n_items,)`` float64 UCB1 index; ``inf`` for items never shown."""
        shown = self.shows > 0
        index = np.full(self.shows.size, np.inf)
        total = self.shows.sum()
        bonus = np.sqrt(2.0 * np.log(max(total, 1.0)) / self.shows[shown])
        index[shown] = self.clicks[shown] / self.shows[shown] + self.exploration * bonus
        return index

    def recommend(self, users: np.ndarray, k: int) -> np.ndarray:
        return self.ranked_unseen(self.index(), users, k)


__all__ = ["UCB1Agent"]
