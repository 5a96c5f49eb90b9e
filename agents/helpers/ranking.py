"""Top-k selection outside each user's history, with O(n_items) partial selection instead of a full sort."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from recsim_lab.data.seen import SeenItems
from recsim_lab.distinct import later_repeats


def top_k_unseen(scores: np.ndarray, users: np.ndarray, seen: SeenItems, k: int) -> np.ndarray:
    """The ``k`` best-scoring items per row that are not in the user's set, best first.

    Args:
        scores: ``(B, n_items)`` float scores; modified in place (seen items set to ``-inf``).
        users: ``(B,)`` user ids, row b of ``scores`` belongs to ``users[b]``.
        seen: each user's items to exclude.
        k: items per row (``k <= n_items``).

    Returns:
        ``(B, k)`` int64 item ids, sorted by descending score. Rows with fewer than ``k`` unseen items are
        completed with seen items rather than repeating one.
    """
    scores[seen.dense(users)] = -np.inf
    return top_k(scores, k)


def top_k_unseen_by_chunks(scores: Callable[[np.ndarray], np.ndarray], users: np.ndarray, seen: SeenItems,
                           k: int, cells: int = 1 << 23) -> np.ndarray:
    """:func:`top_k_unseen` over ``scores(chunk) -> (len(chunk), n_items)`` for consecutive chunks of
    ``users``, at most ``cells`` scores at a time (bounding memory at large catalogues)."""
    rows = max(1, cells // seen.n_items)
    slates = np.empty((users.size, k), dtype=np.int64)
    for start in range(0, users.size, rows):
        chunk = users[start:start + rows]
        slates[start:start + rows] = top_k_unseen(scores(chunk), chunk, seen, k)
    return slates


_BLOCK = 64  # columns per block in the two-stage selection of :func:`top_k`


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """``(B, k)`` int64 indices of each row's ``k`` largest entries, largest first.

    Deterministic; among entries tied at the k-th value, which ones are kept is up to the selection.

    Long rows go in two stages: the row is cut into blocks of 64 columns and only the ``k`` blocks with the
    largest maxima are searched. That is exact: a block holding one of the ``k`` largest entries has a
    maximum at least that large, and at most ``k - 1`` other blocks can have a larger one. Rows shorter than
    ``4 * k * 64`` columns (1,280 at k = 5) take one partition.

    Speed, measured with ``python benchmarks/top_k_speed.py`` (random float32 scores, k = 5, two shared
    cores; table in ``benchmarks/README.md``): at 3,000 items the two stages took 0.14-0.15x the time of one
    partition per row for 256 and 2,000 rows, but 1.7x as long for a single row; at 209,527 items
    0.03-0.14x. The ratio varies from run to run on a busy machine (0.14-0.5x in other runs at 256-2,000
    rows), so take it as "several times faster for batches, slower for one user".
    """
    n = scores.shape[1]
    if n < 4 * k * _BLOCK:
        return _partition_top_k(scores, k)
    starts = np.arange(0, n, _BLOCK)
    blocks = np.sort(_partition_top_k(np.maximum.reduceat(scores, starts, axis=1), k), axis=1)  # (B, k)
    columns = (starts[blocks][:, :, None] + np.arange(_BLOCK)).reshape(len(scores), k * _BLOCK)  # ascending
    outside = columns >= n  # the last block may be short
    values = np.take_along_axis(scores, np.minimum(columns, n - 1), axis=1)
    values = values.astype(np.result_type(values.dtype, np.float32), copy=False)
    values[outside] = np.nan  # loses to every real entry, -inf included, in the selection below
    return np.take_along_axis(columns, _partition_top_k(values, k), axis=1)


def _partition_top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """:func:`top_k` by one partition per row (NaN entries come last)."""
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    part.sort(axis=1)  # tied entries that were kept come out by lower index under the stable sort below
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1).astype(np.int64, copy=False)


def first_k_unseen(ranking: np.ndarray, users: np.ndarray, seen: SeenItems, k: int) -> np.ndarray:
    """Walk one global ranking and keep, per user, the first ``k`` items not in their set.

    Args:
        ranking: ``(n,)`` item ids, best first; at least ``k + seen.sizes[users].max()`` entries (or the
            whole catalogue) so that every user finds ``k`` unseen items in it.
        users: ``(B,)`` user ids.
        seen: each user's items to skip.
        k: items per user.

    Returns:
        ``(B, k)`` int64 item ids in ranking order. Only the head of the ranking is examined, so the cost
        does not grow with the catalogue.
    """
    head = ranking[: k + int(seen.sizes[users].max(initial=0))]
    return first_k_unseen_per_user(np.broadcast_to(head, (users.size, head.size)), users, seen, k)[0]


def first_k_unseen_per_user(rankings: np.ndarray, users: np.ndarray, seen: SeenItems, k: int
                            ) -> tuple[np.ndarray, np.ndarray]:
    """Per user, the first ``k`` items of their own ranking that are not in their set.

    Args:
        rankings: ``(B, depth)`` item ids, each row one user's ranking, best first (``depth >= k``).
        users: ``(B,)`` user ids.
        seen: each user's items to skip.
        k: items per user.

    Returns:
        ``(B, k)`` int64 item ids in ranking order, and ``(B,)`` bool marking users whose ranking has fewer
        than ``k`` unseen items (their rows are then incomplete and must be filled another way).
    """
    blocked = seen.contains(users, rankings)
    first = np.argsort(blocked, axis=1, kind="stable")[:, :k]
    short = (~blocked).sum(axis=1) < k
    return np.take_along_axis(rankings, first, axis=1).astype(np.int64, copy=False), short


def top_ranking(counts: np.ndarray, depth: int) -> np.ndarray:
    """The ``depth`` ids with the highest integer ``counts``, best first, ties by lower id, in O(n)."""
    depth = min(depth, counts.size)
    key = counts.astype(np.int64) * counts.size + np.arange(counts.size - 1, -1, -1)  # unique, order-keeping
    head = np.argpartition(-key, depth - 1)[:depth]
    return head[np.argsort(-key[head])]


def random_unseen(rng: np.random.Generator, users: np.ndarray, seen: SeenItems, k: int) -> np.ndarray:
    """``(B, k)`` int64: per user, ``k`` distinct items drawn uniformly from those not in their set.

    Users with fewer than ``k`` unseen items get ``k`` distinct items drawn from the whole catalogue.
    A user's slate is drawn by rejection (``2k`` draws a round, repeats and seen items dropped) while a round
    can be expected to find about ``1.5k`` usable items; otherwise (``k`` near the number of allowed items, as
    when asking for a whole ranking) by the ``k`` smallest of one uniform key per allowed item, ``O(n_items)``.
    """
    n_items = seen.n_items
    slates = np.empty((users.size, k), dtype=np.int64)
    sparse_all = n_items - seen.sizes[users] < k
    allowed = np.where(sparse_all, n_items, n_items - seen.sizes[users])
    crowded = allowed * -np.expm1(2 * k * np.log1p(-1 / n_items)) < 1.5 * k  # expected usable items per round
    todo = np.flatnonzero(~crowded)
    while todo.size:
        draws = rng.integers(n_items, size=(todo.size, 2 * k))
        repeat = later_repeats(draws)
        sparse = sparse_all[todo]
        blocked = repeat | (seen.contains(users[todo], draws) & ~sparse[:, None])
        enough = (~blocked).sum(axis=1) >= k
        first = np.argsort(blocked, axis=1, kind="stable")[:, :k]
        slates[todo[enough]] = np.take_along_axis(draws, first, axis=1)[enough]
        todo = todo[~enough]
    rows = np.flatnonzero(crowded)
    if rows.size:
        keys = rng.random((rows.size, n_items))
        keys[seen.dense(users[rows]) & ~sparse_all[rows, None]] = np.inf
        first = np.argpartition(keys, k - 1, axis=1)[:, :k]  # the k smallest keys, in no particular order:
        slates[rows] = np.take_along_axis(first, np.argsort(np.take_along_axis(keys, first, axis=1), axis=1), axis=1)
    return slates
