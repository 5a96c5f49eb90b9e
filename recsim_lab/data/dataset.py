"""The :class:`Dataset`: items and users as an agent sees them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class Dataset:
    """Items (ids ``0..n_items-1``) with their texts, and users (ids ``0..n_users-1``) with click histories.

    The training population is the first ``n_train_users`` users (DataLab Cup: training env = the first
    1,000 users, testing env = all 2,000).

    Attributes:
        headlines: ``n_items`` item headlines.
        descriptions: ``n_items`` short descriptions.
        categories: ``n_items`` category labels ("" when unknown).
        histories: ``n_users`` int64 arrays of clicked item ids, oldest first.
        n_train_users: size of the training population.
    """

    headlines: Sequence[str]
    descriptions: Sequence[str]
    categories: Sequence[str]
    histories: Sequence[np.ndarray]
    n_train_users: int

    def __post_init__(self) -> None:
        n_items = len(self.headlines)
        if len(self.descriptions) != n_items or len(self.categories) != n_items:
            raise ValueError(
                f"headlines, descriptions and categories must have one entry per item; got "
                f"{n_items}, {len(self.descriptions)}, {len(self.categories)}"
            )
        histories = tuple(np.asarray(h, dtype=np.int64).reshape(-1) for h in self.histories)
        for user, history in enumerate(histories):
            if history.size and (history.min() < 0 or history.max() >= n_items):
                bad = history[(history < 0) | (history >= n_items)][0]
                raise ValueError(f"history of user {user} has item id {bad}, outside 0..{n_items - 1}")
        if not 0 <= self.n_train_users <= len(histories):
            raise ValueError(f"n_train_users must be in 0..{len(histories)}, got {self.n_train_users}")
        object.__setattr__(self, "histories", histories)

    @property
    def n_items(self) -> int:
        return len(self.headlines)

    @property
    def n_users(self) -> int:
        return len(self.histories)

    def item_texts(self) -> list[str]:
        """``headline + " " + short_description`` per item, the text a content model embeds."""
        return [f"{h} {d}".strip() for h, d in zip(self.headlines, self.descriptions)]

    def users(self, split: str) -> np.ndarray:
        """User ids of a population: ``"train"`` (the first ``n_train_users``) or ``"test"`` (all)."""
        if split == "train":
            return np.arange(self.n_train_users, dtype=np.int64)
        if split == "test":
            return np.arange(self.n_users, dtype=np.int64)
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")

    def click_counts(self) -> np.ndarray:
        """``(n_items,)`` int64: how often each item occurs in the histories."""
        if not self.histories:
            return np.zeros(self.n_items, dtype=np.int64)
        return np.bincount(np.concatenate(self.histories), minlength=self.n_items)
