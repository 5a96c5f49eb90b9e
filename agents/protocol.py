"""The agent protocol: what a recommender must do to be evaluated.

Batch-first: one call serves many users. ``recommend`` never learns; only ``update`` does (the act/learn
split). Hyperparameters are constructor keywords; learned state is what ``save`` writes and ``load``
restores. The runner restores the checkpoint at the start of every episode, so episodes are independent.

An agent whose constructor takes a ``world`` keyword is *privileged*: the runner passes it the hidden
:class:`~recsim_lab.worlds.world.World` (the built-in ``oracle`` does this, as the upper reference).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from recsim_lab.data import Dataset


@runtime_checkable
class Agent(Protocol):
    """A slate recommender that learns incrementally from every response."""

    def fit(self, data: Dataset, *, seed: int) -> None:
        """Warm start on the visible data (item texts, all users' initial histories).

        Args:
            data: the dataset; ``data.histories[u]`` are user u's initial clicks, oldest first.
            seed: seed for every random draw the agent makes (it must be reproducible from it).
        """
        ...

    def recommend(self, users: np.ndarray, k: int) -> np.ndarray:
        """Slates for a batch of users, without learning.

        Args:
            users: ``(B,)`` int64 distinct user ids.
            k: slate size.

        Returns:
            ``(B, k)`` integer item ids; each row ``k`` distinct ids in ``0..n_items-1``.
        """
        ...

    def update(self, users: np.ndarray, slates: np.ndarray, clicks: np.ndarray) -> None:
        """Learn from the responses to the slates just served.

        Args:
            users: ``(B,)`` int64 user ids.
            slates: ``(B, k)`` int64 the slates they were shown.
            clicks: ``(B,)`` int64 the clicked item id, or -1 for no click.
        """
        ...

    def save(self, path: Path) -> None:
        """Write the learned state into the directory ``path`` (created by the caller)."""
        ...

    def load(self, path: Path) -> None:
        """Restore exactly the state that :meth:`save` wrote to ``path``."""
        ...
