"""Rows of distinct item ids: find the entries that repeat an earlier one in their row, and redraw them.

Used wherever slates are drawn at random: the synthetic worlds' logging policy, generated catalogue users,
and the random agent.
"""

from __future__ import annotations

import numpy as np


def later_repeats(rows: np.ndarray) -> np.ndarray:
    """``(B, k)`` bool: True where an entry repeats an earlier entry of its row (the first copy stays False)."""
    order = np.argsort(rows, axis=1, kind="stable")
    ordered = np.take_along_axis(rows, order, axis=1)
    repeat = np.zeros(rows.shape, dtype=bool)
    np.put_along_axis(repeat, order[:, 1:], ordered[:, 1:] == ordered[:, :-1], axis=1)
    return repeat


def distinct_rows(rng: np.random.Generator, slates: np.ndarray, n_items: int) -> np.ndarray:
    """Redraw uniformly from ``0..n_items-1`` every entry of ``slates`` ``(B, k)`` that repeats an earlier one
    in its row, until no row has a repeat (in place; needs ``k <= n_items``). Returns ``slates``."""
    while True:
        repeat = later_repeats(slates)
        if not repeat.any():
            return slates
        slates[repeat] = rng.integers(n_items, size=int(repeat.sum()))
