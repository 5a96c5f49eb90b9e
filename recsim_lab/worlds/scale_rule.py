"""The scale rule every world uses: one global factor on the user vectors puts the median user's k-th best
unseen item exactly at the no-click threshold, so that the median user finds about ``k`` items worth
clicking. Pure NumPy (no SciPy), so the built-in synthetic world needs nothing more.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

_CHUNK_CELLS = 1 << 23  # user rows x items scored per block


def unseen_score_blocks(users: np.ndarray, items: np.ndarray, histories: Sequence[np.ndarray]
                        ) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(first_user, scores)`` blocks of ``users @ items.T`` (float64, ``(rows, n_items)``, at most
    about 8M cells each) with each user's ``histories[u]`` at ``-inf``."""
    n_items = items.shape[0]
    rows = max(1, _CHUNK_CELLS // max(n_items, 1))
    for start in range(0, users.shape[0], rows):
        block = (users[start:start + rows] @ items.T).astype(np.float64)
        for offset, history in enumerate(histories[start:start + rows]):
            block[offset, history] = -np.inf
        yield start, block


def kth_best_unseen(users: np.ndarray, items: np.ndarray, histories: Sequence[np.ndarray], k: int) -> np.ndarray:
    """``(n_users,)`` the score of each user's k-th best item outside their history (``nan`` when a user
    has fewer than k such items)."""
    out = np.full(users.shape[0], np.nan)
    n_items = items.shape[0]
    if k > n_items:
        return out
    for start, block in unseen_score_blocks(users, items, histories):
        kth = -np.partition(-block, k - 1, axis=1)[:, k - 1]
        out[start:start + block.shape[0]] = np.where(np.isfinite(kth), kth, np.nan)
    return out


def calibrated_scale(users: np.ndarray, items: np.ndarray, histories: Sequence[np.ndarray], k: int,
                     threshold: float, hint: str = "") -> tuple[float, float]:
    """``(scale, median_kth)``: the factor on the user vectors that puts the median user's k-th best unseen
    item exactly at ``threshold``, and that median (unscaled).

    Args:
        users: ``(n_users, d)`` user vectors (a sample of the population is enough).
        items: ``(n_items, d)`` item vectors.
        histories: per user, the items they have seen (empty arrays before any history exists).
        k: rank of the item put at the threshold (capped at ``n_items``).
        threshold: the no-click threshold of the rules.
        hint: appended to the message of a failed calibration (what the caller can change).

    Raises:
        ValueError: a threshold <= 0, or a median k-th score <= 0 (no preference to scale).
    """
    if not threshold > 0:
        raise ValueError(f"the scale rule needs a positive no-click threshold, got {threshold!r}")
    kth = kth_best_unseen(users, items, histories, min(k, items.shape[0]))
    median = float(np.nanmedian(kth)) if np.isfinite(kth).any() else float("nan")
    if not median > 0:
        raise ValueError(f"cannot calibrate: the median user's {k}-th best unseen item scores {median:.3g} "
                         f"(<= 0), so no scale puts it at the no-click threshold{hint}")
    return threshold / median, median
