"""What the per-item bandits (``epsilon_greedy``, ``ucb1``, ``thompson``) share: shows and clicks per item.

These bandits are not personalised: each item is one arm, and they learn which items get clicked when shown.
**A pull is one shown item**: a slate of ``k`` items is ``k`` pulls, the clicked item's reward is 1 and the
others' 0 (a slate ignored altogether: ``k`` pulls of reward 0). So after ``update`` an item's ``shows`` is
the number of times it was shown and ``clicks`` the number of those that were clicked. Each user's own
clicked items (initial history and clicks since) are never recommended to them: they cannot be clicked.

The initial histories say which items were clicked but not how often they were shown, so they are not
pulls. ``fit`` keeps their click counts as ``popularity``, which only orders items that the bandit's own
estimate cannot tell apart (UCB1's items never shown, ε-greedy's equal estimates): the bandit starts out
as the ``popularity`` agent and departs from it as it learns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from agents.helpers.ranking import first_k_unseen
from recsim_lab.checkpoint import load_arrays, save_arrays
from recsim_lab.data import Dataset
from recsim_lab.data.seen import SeenItems


@dataclass
class ItemBandit:
    """Per-item shows and clicks learnt from every shown item; subclasses choose the slate from them."""

    shows: np.ndarray = field(default_factory=lambda: np.zeros(0), init=False, repr=False)
    """``(n_items,)`` float64: times each item was shown since ``fit`` (pulls)."""
    clicks: np.ndarray = field(default_factory=lambda: np.zeros(0), init=False, repr=False)
    """``(n_items,)`` float64: times each item was clicked when shown (reward sum)."""
    popularity: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64), init=False, repr=False)
    """``(n_items,)`` int64: clicks in the initial histories; breaks ties of the bandit's own index."""
    seen: SeenItems | None = field(default=None, init=False, repr=False)
    seed: int = field(default=0, init=False)
    """The fit seed; exploration draws come from ``rng``, restarted from it by ``fit`` and ``load``."""
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0), init=False, repr=False)

    def fit(self, data: Dataset, *, seed: int) -> None:
        """No pulls yet; history click counts kept for tie-breaking; each user's history is their seen set."""
        self.shows = np.zeros(data.n_items)
        self.clicks = np.zeros(data.n_items)
        self.popularity = data.click_counts().astype(np.int64)
        self.seen = SeenItems.from_histories(data.histories, data.n_items)
        self.seed = int(seed)
        self.rng = np.random.default_rng(self.seed)

    def update(self, users: np.ndarray, slates: np.ndarray, clicks: np.ndarray) -> None:
        """Every shown item is a pull: ``shows`` +1 for each entry of ``slates`` ``(B, k)``, ``clicks`` +1 for
        each clicked item of ``clicks`` ``(B,)`` (-1: none); clicked items join the user's seen set."""
        slates = np.asarray(slates, dtype=np.int64)
        clicks = np.asarray(clicks, dtype=np.int64)
        np.add.at(self.shows, slates.ravel(), 1.0)
        np.add.at(self.clicks, clicks[clicks >= 0], 1.0)
        self.seen.add(np.asarray(users, dtype=np.int64), clicks)

    def save(self, path: Path) -> None:
        save_arrays(path, shows=self.shows, clicks=self.clicks, popularity=self.popularity,
                    seed=np.array(self.seed, dtype=np.int64))
        self.seen.save(path)

    def load(self, path: Path) -> None:
        """Restore exactly what :meth:`save` wrote and restart the exploration generator from the seed."""
        self.shows, self.clicks, self.popularity, seed = load_arrays(path, "shows", "clicks", "popularity", "seed")
        self.seen = SeenItems.load(path)
        self.seed = int(seed)
        self.rng = np.random.default_rng(self.seed)

    def ranked_unseen(self, index: np.ndarray, users: np.ndarray, k: int) -> np.ndarray:
        """``(B, k)`` int64: per user, the ``k`` items of highest shared ``index`` ``(n_items,)`` outside their
        seen set; ties by higher ``popularity``, then lower item id (deterministic)."""
        users = np.asarray(users, dtype=np.int64)
        depth = min(index.size, k + int(self.seen.sizes[users].max(initial=0)))
        threshold = np.partition(index, index.size - depth)[index.size - depth]
        candidates = np.flatnonzero(index >= threshold)  # the depth best, and every item tied with the last
        order = np.lexsort((candidates, -self.popularity[candidates], -index[candidates]))
        return first_k_unseen(candidates[order][:depth], users, self.seen, k)


__all__ = ["ItemBandit"]
