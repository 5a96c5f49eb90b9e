"""Time-ordered holdout: each user's visible history and held-out future.

For every user, in time order (equal times keep the log's order), repeated clicks on an item count once,
at their first occurrence (a history holds distinct items, and a clicked item cannot be clicked again).
Users with fewer than ``min_history`` distinct items are dropped. Of a user's ``n`` distinct items, the
last ``floor(n * holdout)`` are the held-out future (what the hidden truth must make attractive, and what
the replay choice model clicks from), the first ``n - floor(n * holdout)`` the visible history that agents
see. So the split is per user and by time: nothing of a user's future precedes anything of their history.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recsim_lab.validation import check_scalar


@dataclass(frozen=True, eq=False)
class Split:
    """The outcome of :func:`split_by_time`.

    Attributes:
        users: ``(n_kept,)`` int64 ids (in the log's numbering) of the users kept, ascending; kept user
            ``j`` is log user ``users[j]``.
        histories: per kept user, the visible items, oldest first.
        futures: per kept user, the held-out items, oldest first.
        dropped_users: users with fewer than ``min_history`` distinct items.
        repeated_clicks: clicks dropped because the user had clicked the item before.
    """

    users: np.ndarray
    histories: list[np.ndarray]
    futures: list[np.ndarray]
    dropped_users: int
    repeated_clicks: int

    def full(self, user: int) -> np.ndarray:
        """A kept user's whole time-ordered log: history then future."""
        return np.concatenate([self.histories[user], self.futures[user]])


def split_by_time(event_user: np.ndarray, event_item: np.ndarray, event_time: np.ndarray, *, n_users: int,
                  n_items: int, holdout: float = 0.5, min_history: int = 1) -> Split:
    """Split a click log per user by time (see the module docstring).

    Args:
        event_user: ``(n,)`` user ids in ``0..n_users-1``.
        event_item: ``(n,)`` item ids in ``0..n_items-1``.
        event_time: ``(n,)`` times (any increasing key; ties keep the given order).
        n_users: users in the log's numbering.
        n_items: catalogue size.
        holdout: share of each user's distinct items held out, in ``[0, 1)``.
        min_history: users with fewer distinct items are dropped (>= 1).

    Raises:
        ValueError: ``holdout`` outside ``[0, 1)`` or ``min_history < 1``.
    """
    check_scalar(holdout, "holdout", float, min_val=0.0, max_val=1.0, include_boundaries="left")
    check_scalar(min_history, "min_history", int, min_val=1)
    users = np.asarray(event_user, dtype=np.int64)
    items = np.asarray(event_item, dtype=np.int64)
    times = np.asarray(event_time, dtype=np.float64)
    order = np.lexsort((np.arange(users.size), times, users))  # by user, then time, then log order
    users, items = users[order], items[order]
    keys = users * np.int64(n_items) + items
    _, first = np.unique(keys, return_index=True)
    keep = np.zeros(keys.size, dtype=bool)
    keep[first] = True
    repeated = int(keys.size - first.size)
    users, items = users[keep], items[keep]
    counts = np.bincount(users, minlength=n_users)
    kept = np.flatnonzero(counts >= min_history)
    starts = np.concatenate([[0], np.cumsum(counts)])
    histories, futures = [], []
    for user in kept.tolist():
        row = items[starts[user]:starts[user + 1]]
        n_future = int(np.floor(row.size * holdout + 1e-9))  # 1e-9: 100 * 0.29 is 28.999...
        histories.append(row[: row.size - n_future].copy())
        futures.append(row[row.size - n_future:].copy())
    dropped = int(np.count_nonzero((counts > 0) & (counts < min_history)) + np.count_nonzero(counts == 0))
    return Split(users=kept.astype(np.int64), histories=histories, futures=futures, dropped_users=dropped,
                 repeated_clicks=repeated)
