"""The hidden choice model: a softmax over the slate's scores and a no-click option.

For a slate with true scores ``s_1..s_k`` (``-inf`` for items the user has already clicked), the user picks
index ``j`` with probability ``softmax([s_1, ..., s_k, threshold] / temperature)[j]``; index ``k`` means
"no click". This is the DataLab Cup choice rule; the defaults (threshold 1.7, temperature 0.1) live in
:class:`recsim_lab.worlds.world.Rules`.
"""

from __future__ import annotations

import math

import numpy as np


def click_probabilities(scores: np.ndarray, threshold: float, temperature: float) -> np.ndarray:
    """Probabilities of clicking each slate position, and of not clicking.

    Args:
        scores: ``(B, k)`` true scores; ``-inf`` marks items that cannot be clicked.
        threshold: the score of the no-click option.
        temperature: softmax temperature (> 0).

    Returns:
        ``(B, k + 1)`` float64 rows summing to 1; the last column is the no-click probability. (A transposed
        view of a ``(k + 1, B)`` array: reductions over the short slate axis run fastest that way.)
    """
    logits = np.empty((scores.shape[1] + 1, scores.shape[0]), dtype=np.float64)
    logits[:-1] = scores.T
    logits[-1] = threshold
    logits /= temperature
    logits -= logits.max(axis=0)  # the threshold row keeps every column's max finite
    np.exp(logits, out=logits)
    logits /= logits.sum(axis=0)
    return logits.T


def sample_choices(probabilities: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """Inverse-CDF draw of one index per row.

    Args:
        probabilities: ``(B, k + 1)`` rows summing to 1 (from :func:`click_probabilities`).
        uniforms: ``(B,)`` draws from U[0, 1).

    Returns:
        ``(B,)`` int64 in ``0..k``: the first index whose cumulative probability exceeds the draw; ``k``
        means no click. A slate position with probability 0 is never drawn.
    """
    columns = probabilities.T  # (k + 1, B); contiguous rows when it comes from click_probabilities
    # The running sum, column by column, is np.cumsum's arithmetic (sequential), without its slow strided loop.
    cdf = columns[0].copy()
    picks = (cdf <= uniforms).astype(np.int64)
    for column in columns[1:]:
        cdf += column
        picks += cdf <= uniforms
    # Rounding can leave the last cdf a hair below 1; a draw above it counts as no click.
    return np.minimum(picks, probabilities.shape[1] - 1)


def click_probabilities_one(scores: list[float], threshold: float, temperature: float) -> list[float]:
    """:func:`click_probabilities` for a single slate, in plain Python (the one-user step's fast path).

    Args:
        scores: ``k`` true scores; ``-inf`` marks items that cannot be clicked.

    Returns:
        ``k + 1`` probabilities; the last is the no-click probability.
    """
    logits = [s / temperature for s in scores]
    logits.append(threshold / temperature)
    top = max(logits)
    weights = [math.exp(x - top) for x in logits]
    total = sum(weights)
    return [w / total for w in weights]


def sample_choice_one(probabilities: list[float], uniform: float) -> int:
    """:func:`sample_choices` for a single slate: the first index whose cumulative probability exceeds
    ``uniform``, else the last (no click)."""
    cumulative = 0.0
    for index, p in enumerate(probabilities):
        cumulative += p
        if cumulative > uniform:
            return index
    return len(probabilities) - 1
