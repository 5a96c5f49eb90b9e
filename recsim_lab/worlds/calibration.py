"""The hidden truth from a click log: implicit matrix factorisation, the scale rule, fidelity figures.

**Fit.** User and item vectors come from implicit-feedback matrix factorisation by weighted alternating
least squares (Hu, Koren & Volinsky, "Collaborative filtering for implicit feedback datasets", ICDM 2008)
on the *full* log (visible histories and held-out futures): every (user, item) pair is a preference
``p = 1`` if clicked, else 0, with confidence ``1 + alpha`` for clicks and 1 otherwise; minimise
``sum c (p - x_u.y_i)^2 + regularization (|x|^2 + |y|^2)`` over all pairs. Each half-step solves every
user's (then item's) ``d x d`` system ``(Y'Y + regularization I + alpha Y_u'Y_u) x_u = (1 + alpha) Y_u'1``
by a few conjugate-gradient steps warm-started from the previous value (Takacs, Pilaszy & Tikk, RecSys
2011), matrix-free, for all users at once in NumPy/SciPy. Deterministic for a seed; no GPU, no TensorFlow.

**Scale.** ALS scores live near [0, 1]; the choice model compares them with a no-click threshold (1.7) at
temperature 0.1. One global factor multiplies every user vector so that *the median user's k-th best unseen
item scores exactly the no-click threshold*, where k is the median length of the held-out futures (unless
given): the median user then finds about as many items worth clicking as they really clicked after the
split, their held-out items among the first. "Unseen" means outside the visible history, as at the start of
an episode.

**Fidelity.** :func:`fidelity` measures the truth against the held-out log: recall@K of each user's future
among all their unseen items (hits / min(K, |future|), averaged over users with a future; chance is the
same figure for a uniformly random top-K), the share of held-out items that score above the threshold, and
the median count of unseen items above it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import scipy.sparse

from recsim_lab.validation import check_fields

_DENSE_CELLS = 1 << 26  # rows x columns up to which a half-step computes x.y for the log's pairs densely
_CHUNK_CELLS = 1 << 23  # user rows x items scored per block by the ranking figures


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


def interaction_matrix(logs: Sequence[np.ndarray], n_items: int) -> scipy.sparse.csr_matrix:
    """``(len(logs), n_items)`` CSR matrix of ones, row u holding the (distinct) items of ``logs[u]``."""
    lengths = np.fromiter((len(log) for log in logs), dtype=np.int64, count=len(logs))
    indptr = np.zeros(len(logs) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    indices = np.concatenate(logs).astype(np.int64) if len(logs) else np.empty(0, dtype=np.int64)
    matrix = scipy.sparse.csr_matrix((np.ones(indices.size, dtype=np.float32), indices, indptr),
                                     shape=(len(logs), n_items))
    matrix.sort_indices()
    return matrix


def fit_implicit_als(clicks: scipy.sparse.csr_matrix, config: CalibrationConfig) -> tuple[np.ndarray, np.ndarray]:
    """Weighted ALS on a binary ``(n_users, n_items)`` click matrix (see the module docstring).

    Returns:
        ``(user_vectors, item_vectors)``, float32, ``(n_users, factors)`` and ``(n_items, factors)``.
    """
    rng = np.random.default_rng(config.seed)
    n_users, n_items = clicks.shape
    d = config.factors
    users = np.zeros((n_users, d), dtype=np.float32)
    items = (rng.standard_normal((n_items, d)) / np.sqrt(d)).astype(np.float32)
    by_user = _Pattern(clicks.tocsr())
    by_item = _Pattern(clicks.T.tocsr())
    for _ in range(config.iterations):
        _half_step(users, items, by_user, config)
        _half_step(items, users, by_item, config)
    return users, items


class _Pattern:
    """The clicked pairs of a CSR matrix, with what a half-step reuses: row of each pair, and the flat
    index of each pair in a dense ``(rows, columns)`` block."""

    def __init__(self, matrix: scipy.sparse.csr_matrix) -> None:
        matrix.sort_indices()
        self.matrix = matrix.astype(np.float32)
        self.counts = np.diff(matrix.indptr)
        self.rows = np.repeat(np.arange(matrix.shape[0], dtype=np.int64), self.counts)
        self.cols = matrix.indices.astype(np.int64)
        dense = matrix.shape[0] * matrix.shape[1] <= _DENSE_CELLS
        self.flat = self.rows * matrix.shape[1] + self.cols if dense else None
        # reused buffers: a fresh 100 MB array per product costs as much in page faults as the product
        self.block = np.empty(matrix.shape, dtype=np.float32) if dense else None
        self.dots = np.empty(self.cols.size, dtype=np.float32)
        self.weighted = self.matrix.copy()  # its data is overwritten with alpha * x.y per product


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


def _score_blocks(users: np.ndarray, items: np.ndarray, histories: Sequence[np.ndarray]
                  ) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(first_user, scores)`` blocks of ``users @ items.T`` with each user's visible history at
    ``-inf`` (float64)."""
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
    for start, block in _score_blocks(users, items, histories):
        kth = -np.partition(-block, k - 1, axis=1)[:, k - 1]
        out[start:start + block.shape[0]] = np.where(np.isfinite(kth), kth, np.nan)
    return out


def scale_rule_k(histories: Sequence[np.ndarray], futures: Sequence[np.ndarray], config: CalibrationConfig) -> int:
    """k of the scale rule: as configured, else the median future length (median history length when no
    user has a future), at least 1."""
    if config.attractive_items is not None:
        return config.attractive_items
    lengths = [len(f) for f in futures if len(f)] or [len(h) for h in histories if len(h)] or [1]
    return max(1, int(np.median(lengths)))


def calibrated_scale(users: np.ndarray, items: np.ndarray, histories: Sequence[np.ndarray], k: int,
                     threshold: float) -> tuple[float, float]:
    """``(scale, median_kth)``: the factor on the user vectors that puts the median user's k-th best unseen
    item exactly at ``threshold``, and that median (unscaled).

    Raises:
        ValueError: a threshold <= 0, or a median k-th score <= 0 (the fit found no preference to scale).
    """
    if not threshold > 0:
        raise ValueError(f"the scale rule needs a positive no-click threshold, got {threshold!r}")
    kth = kth_best_unseen(users, items, histories, min(k, items.shape[0]))
    median = float(np.nanmedian(kth)) if np.isfinite(kth).any() else float("nan")
    if not median > 0:
        raise ValueError(f"cannot calibrate: the median user's {k}-th best unseen item scores {median:.3g} "
                         f"(<= 0) under the fitted vectors; try a smaller --min-history or more data")
    return threshold / median, median


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
    for start, block in _score_blocks(users, items, histories):
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
    scale, median_kth = calibrated_scale(users, items, histories, k, threshold)
    users = (users * np.float32(scale)).astype(np.float32)
    figures = {
        "method": "implicit-feedback matrix factorisation, weighted ALS (Hu, Koren & Volinsky 2008) with "
                  "conjugate-gradient solves, NumPy/SciPy, fitted on the full log (history + future)",
        **asdict(config),
        "scale_rule": f"the median user's k-th best unseen item scores exactly the no-click threshold "
                      f"({threshold}); k = {'given' if config.attractive_items else 'median future length'}",
        "attractive_items_k": k,
        "median_kth_score_unscaled": median_kth,
        "scale": scale,
        "fidelity": fidelity(users, items, histories, futures, threshold),
    }
    return users, items, figures
