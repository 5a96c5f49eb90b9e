"""The log-replay choice model (``Rules.choice == "replay"``): users click what they really clicked next.

No fitted vectors are involved. Each user of an imported world has a held-out future, the time-ordered
rest of their real click log (:attr:`recsim_lab.worlds.world.World.futures`). Shown a slate, the user clicks the
slate item that comes earliest in their *remaining* future, and that item leaves the future (it joins the
history); when no slate item is in the remaining future, the user does not click. Patience and leaving
follow the core rules, with ``p_j = 1`` for the logged click: a click adds
``min(max(patience_increment_weight, 0), 1)`` patience, a miss takes 1.

This is the replay method of Li et al. (2011, "Unbiased offline evaluation of contextual-bandit-based news
article recommendation algorithms") adapted to slates and made strict: a recommendation counts only when
it matches the log. Its bias: only logged items can ever be clicked, so an agent is rewarded for
reproducing what the logging system happened to show and the user happened to pick, never for a good item
the user was not shown; and items clicked earlier in time are preferred whatever their position in the
slate. Scores under replay are therefore a lower bound on how users would respond, and compare agents
fairly only when the log's exposure was not itself driven by one of them.

"Remaining future" needs no state of its own: a future item leaves the future only by being clicked, which
puts it into the user's history (:class:`~recsim_lab.data.seen.SeenItems`); futures never overlap the visible
history. So the remaining future is ``future \\ history``, and resetting the histories at the start of an
episode restores every future.

The choice is returned as a one-hot probability row so that the environment's sampling and patience
arithmetic stay those of the softmax model: the uniform draw then always picks the logged click.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from recsim_lab.data.seen import SeenItems


class FuturePositions:
    """Where each item sits in each user's held-out future.

    Args:
        futures: per user, the item ids of their future, earliest first (distinct).
        n_items: catalogue size.
    """

    def __init__(self, futures: Sequence[np.ndarray], n_items: int) -> None:
        self.n_items = n_items
        self._futures = [np.asarray(f, dtype=np.int64) for f in futures]
        lengths = np.array([f.size for f in self._futures], dtype=np.int64)
        if lengths.sum():
            owners = np.repeat(np.arange(len(self._futures), dtype=np.int64), lengths)
            keys = owners * np.int64(n_items) + np.concatenate(self._futures)
            positions = np.concatenate([np.arange(n, dtype=np.float64) for n in lengths.tolist()])
        else:
            keys, positions = np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
        order = np.argsort(keys, kind="stable")
        self._keys = keys[order]
        self._positions = positions[order]
        self._one: dict[int, dict[int, int]] = {}  # per user, built on first use by positions_one

    def positions(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """``(B, k)`` float64: the index of ``items[b, j]`` in ``users[b]``'s future, ``inf`` when absent."""
        queries = users[:, None] * np.int64(self.n_items) + items
        out = np.full(queries.shape, np.inf)
        if self._keys.size:
            where = np.minimum(np.searchsorted(self._keys, queries), self._keys.size - 1)
            found = self._keys[where] == queries
            out[found] = self._positions[where[found]]
        return out

    def positions_one(self, user: int, items: list[int]) -> list[float]:
        """:meth:`positions` for one user and a list of items, in plain Python."""
        ranks = self._one.get(user)
        if ranks is None:
            ranks = self._one[user] = {item: n for n, item in enumerate(self._futures[user].tolist())}
        return [float(ranks[i]) if i in ranks else math.inf for i in items]


def replay_probabilities(positions: FuturePositions, seen: SeenItems, users: np.ndarray,
                         slates: np.ndarray) -> np.ndarray:
    """One-hot choice rows for a batch: the earliest remaining future item, else no click.

    Args:
        positions: the users' futures.
        seen: current histories (a clicked future item is in them, so it no longer counts).
        users: ``(B,)`` user ids.
        slates: ``(B, k)`` item ids.

    Returns:
        ``(B, k + 1)`` float64 rows with a single 1.0; the last column is "no click".
    """
    where = positions.positions(users, slates)
    where[seen.contains(users, slates)] = np.inf
    k = slates.shape[1]
    picks = np.where(np.isfinite(where.min(axis=1, initial=np.inf)), where.argmin(axis=1), k)
    probabilities = np.zeros((users.size, k + 1))
    probabilities[np.arange(users.size), picks] = 1.0
    return probabilities


def replay_probabilities_one(positions: FuturePositions, seen: SeenItems, user: int, slate: list[int]
                             ) -> list[float]:
    """:func:`replay_probabilities` for one user and slate, in plain Python (the same choice)."""
    where = positions.positions_one(user, slate)
    for j, clicked_before in enumerate(seen.contains_one(user, slate)):
        if clicked_before:
            where[j] = math.inf
    best = min(where)
    pick = where.index(best) if best < math.inf else len(slate)
    probabilities = [0.0] * (len(slate) + 1)
    probabilities[pick] = 1.0
    return probabilities


def future_scores(futures: Sequence[np.ndarray], users: np.ndarray, n_items: int) -> np.ndarray:
    """``(B, n_items)`` float32 "true scores" under replay, for ranking (the oracle): ``len(future) -
    position`` for the items of each user's future (the earliest scores highest), ``-inf`` elsewhere."""
    scores = np.full((users.size, n_items), -np.inf, dtype=np.float32)
    for row, user in enumerate(users.tolist()):
        future = futures[user]
        scores[row, future] = np.arange(len(future), 0, -1, dtype=np.float32)
    return scores
