"""The hidden truth from a click log: implicit matrix factorisation, the scale rule, fidelity figures.

**Fit.** User and item vectors come from implicit-feedback matrix factorisation by weighted alternating
least squares (Hu, Koren & Volinsky, "Collaborative filtering for implicit feedback datasets", ICDM 2008)
on the *full* log (visible histories and held-out futures): every (user, item) pair is a preference
``p = 1`` if clicked, else 0, with confidence ``1 + alpha`` for clicks and 1 otherwise; minimise
``sum c (p - x_u.y_i)^2 + regularization (|x|^2 + |y|^2)`` over all pairs. Each half-step solves every
user's (then item's) ``d x d`` system ``(Y'Y + regularization I + alpha Y_u'Y_u) x_u = (1 + alpha) Y_u'1``
by a few conjugate-gradient steps warm-started from the previous value (Takacs, Pilaszy & Tikk, RecSys
2011), matrix-free, for all users at once in NumPy. Deterministic for a seed; no GPU, no TensorFlow.

**Scale** (:mod:`recsim_lab.worlds.scale_rule`). ALS scores live near [0, 1]; the choice model compares
them with a no-click threshold (1.7) at temperature 0.1. One global factor multiplies every user vector so
that *the median user's k-th best unseen item scores exactly the no-click threshold*, where k is the median
length of the held-out futures (unless given): the median user then finds about as many items worth
clicking as they really clicked after the split, their held-out items among the first. "Unseen" means
outside the visible history, as at the start of an episode.

**Fidelity.** :func:`fidelity` measures the truth against the held-out log: recall@K of each user's future
among all their unseen items (hits / min(K, |future|), averaged over users with a future; chance is the
same figure for a uniformly random top-K), the share of held-out items that score above the threshold, and
the median count of unseen items above it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace

import numpy as np

from recsim_lab.validation import check_fields
from recsim_lab.worlds.scale_rule import calibrated_scale, unseen_score_blocks
from recsim_lab.worlds.sparse import CSRMatrix

_DENSE_CELLS = 1 << 26  # rows x columns up to which a half-step computes x.y for the log's pairs densely


@dataclass(frozen=True)
class CalibrationConfig:
    """How the hidden truth is fitted to a log and scaled."""

    factors: int = 32
    """Latent dimension of the user and item vectors."""
    alpha: float = 10.0
    """Confidence of a click: weight 1 + alpha against 1 for a pair without a click."""
    regularization: float = 0.1
    """L2 penalty on every user and item vector."""
    iterations: int = 10
    """ALS sweeps (users then items); on MovieLens 100K, 8 and 15 sweeps give the same recall."""
    cg_steps: int = 3
    """Conjugate-gradient steps per vector and half-sweep."""
    attractive_items: int | None = None
    """k of the scale rule; ``None``: the median held-out future length (the median history length when
    nothing is held out)."""
    seed: int = 0
    """Seed of the initial vectors."""

    def __post_init__(self) -> None:
        check_fields(self, ("factors", "iterations", "cg_steps"), int, prefix="CalibrationConfig.", min_val=1)
        check_fields(self, ("alpha", "regularization"), float, prefix="CalibrationConfig.", min_val=0.0,
                     include_boundaries="neither")
        check_fields(self, ("attractive_items",), int, prefix="CalibrationConfig.", min_val=1, allow_none=True)
        check_fields(self, ("seed",), int, prefix="CalibrationConfig.", min_val=0)


def interaction_matrix(logs: Sequence[np.ndarray], n_items: int) -> CSRMatrix:
    """``(len(logs), n_items)`` float32 CSR matrix of ones, row u holding the (distinct) items of ``logs[u]``."""
    lengths = np.fromiter((len(log) for log in logs), dtype=np.int64, count=len(logs))
    indices = np.concatenate(logs).astype(np.int64) if len(logs) else np.empty(0, dtype=np.int64)
    rows = np.repeat(np.arange(len(logs), dtype=np.int64), lengths)
    return CSRMatrix.from_pairs(rows, indices, np.ones(indices.size, dtype=np.float32), (len(logs), n_items))


def fit_implicit_als(clicks: CSRMatrix, config: CalibrationConfig) -> tuple[np.ndarray, np.ndarray]:
    """Weighted ALS on a binary float32 ``(n_users, n_items)`` click matrix from :func:`interaction_matrix`
    (see the module docstring).

    Returns:
        ``(user_vectors, item_vectors)``, float32, ``(n_users, factors)`` and ``(n_items, factors)``.
    """
    rng = np.random.default_rng(config.seed)
    n_users, n_items = clicks.shape
    d = config.factors
    users = np.zeros((n_users, d), dtype=np.float32)
    items = (rng.standard_normal((n_items, d)) / np.sqrt(d)).astype(np.float32)
    by_user = _Pattern(clicks)
    by_item = _Pattern(clicks.transposed())
    for _ in range(config.iterations):
        _half_step(users, items, by_user, config)
        _half_step(items, users, by_item, config)
    return users, items


class _Pattern:
    """The clicked pairs of a float32 CSR matrix, with what a half-step reuses: row of each pair, and the
    flat index of each pair in a dense ``(rows, columns)`` block."""

    def __init__(self, matrix: CSRMatrix) -> None:
        self.matrix = matrix
        self.counts = np.diff(matrix.indptr)
        self.rows = matrix.row_of_each
        self.cols = matrix.indices
        dense = matrix.shape[0] * matrix.shape[1] <= _DENSE_CELLS
        self.flat = self.rows * matrix.shape[1] + self.cols if dense else None
        # reused buffers: a fresh 100 MB array per product costs as much in page faults as the product
        self.block = np.empty(matrix.shape, dtype=np.float32) if dense else None
        self.dots = np.empty(self.cols.size, dtype=np.float32)
        self.weighted = replace(matrix, data=matrix.data.copy())  # its data is overwritten with alpha * x.y per product


def _half_step(solve: np.ndarray, fixed: np.ndarray, pattern: _Pattern, config: CalibrationConfig) -> None:
    """Update every row of ``solve`` in place, ``fixed`` held constant (CG on the normal equations)."""
    alpha = np.float32(config.alpha)
    gram = fixed.T @ fixed + np.float32(config.regularization) * np.eye(fixed.shape[1], dtype=np.float32)
    matrix = pattern.matrix
    gathered = None if pattern.flat is not None else fixed[pattern.cols]

    def pair_dots(x: np.ndarray) -> np.ndarray:
        """``x[row] . fixed[col]`` for every clicked pair."""
        if pattern.flat is not None:
            np.matmul(x, fixed.T, out=pattern.block)
            return np.take(pattern.block.ravel(), pattern.flat, out=pattern.dots)
        return np.einsum("ij,ij->i", np.repeat(x, pattern.counts, axis=0), gathered, out=pattern.dots)

    def apply(x: np.ndarray) -> np.ndarray:
        np.multiply(pair_dots(x), alpha, out=pattern.weighted.data)
        return x @ gram + pattern.weighted @ fixed

    target = (1.0 + alpha) * (matrix @ fixed)
    residual = target - apply(solve)
    direction = residual.copy()
    norm = np.einsum("ij,ij->i", residual, residual)
    for _ in range(config.cg_steps):
        product = apply(direction)
        curvature = np.einsum("ij,ij->i", direction, product)
        step = np.divide(norm, curvature, out=np.zeros_like(norm), where=curvature > 0)
        solve += step[:, None] * direction
        residual -= step[:, None] * product
        new_norm = np.einsum("ij,ij->i", residual, residual)
        ratio = np.divide(new_norm, norm, out=np.zeros_like(norm), where=norm > 0)
        direction = residual + ratio[:, None] * direction
        norm = new_norm


def scale_rule_k(histories: Sequence[np.ndarray], futures: Sequence[np.ndarray], config: CalibrationConfig) -> int:
    """k of the scale rule: as configured, else the median future length (median history length when no
    user has a future), at least 1."""
    if config.attractive_items is not None:
        return config.attractive_items
    lengths = [len(f) for f in futures if len(f)] or [len(h) for h in histories if len(h)] or [1]
    return max(1, int(np.median(lengths)))


def fidelity(users: np.ndarray, items: np.ndarray, histories: Sequence[np.ndarray], futures: Sequence[np.ndarray],
             threshold: float, k: int = 50) -> dict[str, float | int]:
    """How well the truth (``users @ items.T``, already scaled) ranks and values the held-out futures.

    Returns:
        ``recall_at_k``: mean over users with a future of ``|top-k unseen ∩ future| / min(k, |future|)``;
        ``chance_recall_at_k``: the same for a uniformly random top-k (``k |future| / (unseen min(k,
        |future|))``, capped at 1); ``future_above_threshold``: share of held-out items scoring above the
        threshold; ``median_attractive_items``: median count of a user's unseen items above it; ``k``;
        ``users_with_future``. Figures without a user to average over are ``None``.
    """
    n_items = items.shape[0]
    recalls, chances, attractive = [], [], []
    above = total = 0
    k = min(k, n_items)
    for start, block in unseen_score_blocks(users, items, histories):
        top = np.argpartition(-block, k - 1, axis=1)[:, :k]
        attractive.extend((block > threshold).sum(axis=1).tolist())
        for offset in range(block.shape[0]):
            future = futures[start + offset]
            if not len(future):
                continue
            unseen = n_items - len(histories[start + offset])
            cap = min(k, len(future))
            recalls.append(np.isin(top[offset], future).sum() / cap)
            chances.append(min(1.0, k * len(future) / max(unseen, 1) / cap))
            above += int((block[offset, future] > threshold).sum())
            total += len(future)
    return {
        "k": k,
        "users_with_future": len(recalls),
        "recall_at_k": float(np.mean(recalls)) if recalls else None,
        "chance_recall_at_k": float(np.mean(chances)) if chances else None,
        "future_above_threshold": above / total if total else None,
        "median_attractive_items": float(np.median(attractive)) if attractive else None,
    }


def calibrate(histories: Sequence[np.ndarray], futures: Sequence[np.ndarray], n_items: int, threshold: float,
              config: CalibrationConfig) -> tuple[np.ndarray, np.ndarray, dict]:
    """Fit on the full logs, scale, and measure (see the module docstring).

    Args:
        histories: per user, the visible items, oldest first.
        futures: per user, the held-out items, oldest first.
        n_items: catalogue size.
        threshold: the no-click threshold of the rules.
        config: fit and scale settings.

    Returns:
        ``(user_vectors, item_vectors, figures)``: float32 vectors, the user vectors already scaled, and
        the figures recorded in ``world.json`` under ``calibration``.
    """
    logs = [np.concatenate([h, f]) for h, f in zip(histories, futures)]
    users, items = fit_implicit_als(interaction_matrix(logs, n_items), config)
    k = scale_rule_k(histories, futures, config)
    scale, median_kth = calibrated_scale(users, items, histories, k, threshold,
                                         hint="; try a smaller --min-history or more data")
    users = (users * np.float32(scale)).astype(np.float32)
    figures = {
        "method": "implicit-feedback matrix factorisation, weighted ALS (Hu, Koren & Volinsky 2008) with "
                  "conjugate-gradient solves, NumPy, fitted on the full log (history + future)",
        **asdict(config),
        "scale_rule": f"the median user's k-th best unseen item scores exactly the no-click threshold "
                      f"({threshold}); k = {'given' if config.attractive_items else 'median future length'}",
        "attractive_items_k": k,
        "median_kth_score_unscaled": median_kth,
        "scale": scale,
        "fidelity": fidelity(users, items, histories, futures, threshold),
    }
    return users, items, figures
