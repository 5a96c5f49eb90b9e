"""Spearman's rank correlation in NumPy (no SciPy in the core install).

Ranks are 1..n in ascending order, tied values sharing the mean of the ranks they span ("average" ranks, as
``scipy.stats.rankdata``); Spearman's rho is then Pearson's correlation of the two rank vectors, which is
what ``scipy.stats.spearmanr`` computes, ties included.
"""

from __future__ import annotations

import numpy as np


def average_ranks(values: np.ndarray) -> np.ndarray:
    """``(n,)`` float64 ranks 1..n of ``values`` ``(n,)``; tied values get the mean of their ranks."""
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    # first position of each run of equal values, and the run each sorted value belongs to
    new = np.concatenate([[True], ordered[1:] != ordered[:-1]])
    starts = np.flatnonzero(new)
    run = np.cumsum(new) - 1
    ends = np.append(starts[1:], values.size)  # one past the last position of each run
    ranks = np.empty(values.size)
    ranks[order] = ((starts + ends + 1) / 2)[run]  # mean of the 1-based ranks starts+1 .. ends
    return ranks


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rho of two equally long vectors ``(n,)``: Pearson's correlation of their average ranks.

    Returns ``nan`` when ``n < 2`` or either vector is constant (its ranks have no variance).
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"spearman needs two 1-d arrays of one length, got shapes {x.shape} and {y.shape}")
    if x.size < 2:
        return float("nan")
    rx, ry = average_ranks(x) - (x.size + 1) / 2, average_ranks(y) - (y.size + 1) / 2
    denominator = np.sqrt((rx @ rx) * (ry @ ry))
    return float(rx @ ry / denominator) if denominator > 0 else float("nan")
