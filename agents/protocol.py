"""The agent protocol: the contract a recommender follows to be run and evaluated.

Batch-first: one call serves many users. A run calls, on one instance:

1. ``fit(data, seed=...)`` once, on the visible :class:`~recsim_lab.data.Dataset`;
2. ``save(path)`` once: the checkpoint;
3. for every episode: ``load(path)``, then, once per env step, ``recommend(users, k)`` for a batch of active
   users and ``update(users, slates, clicks)`` with their responses, until no user is left.

``recommend`` never learns; only ``update`` does (the act/learn split), and ``load`` restores exactly what
``save`` wrote, so every episode starts from the same state and episodes are independent. Hyperparameters
are constructor keywords (``--set NAME=VALUE``); learned state is what ``save`` writes.

An exploring agent draws from its own generator in ``recommend``. The generator is not learned state:
keep the seed from ``fit`` in the checkpoint and restart the generator from it in ``load``
(``self.rng = np.random.default_rng(seed)``), so each episode explores reproducibly and ``recommend``
leaves the saved state unchanged, as :func:`~agents.checker.check_agent` requires.

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
        """Warm start on the visible data; called once per run, before anything else.

        Args:
            data: every user's initial clicks and the item texts: ``data.histories[u]`` is user u's int64
                item ids, oldest first; ``data.headlines`` / ``descriptions`` / ``categories`` one entry
                per item; ``data.n_users``, ``data.n_items``; ``data.click_counts()``.
            seed: a non-negative int; every random draw the agent makes must follow from it.
        """
        ...

    def recommend(self, users: np.ndarray, k: int) -> np.ndarray:
        """Slates for a batch of active users, without learning (the saved state must not change).

        Args:
            users: ``(B,)`` int64 distinct ids of users still in the session; ``1 <= B <=`` the number of
                active users (all of them per call by default; at most N with ``--batch-size N``).
            k: the slate size, a Python int: always the world's ``rules.slate_size`` (5 by default).

        Returns:
            ``(B, k)`` integer item ids, row ``b`` for ``users[b]``: ``k`` distinct ids in
            ``0..n_items-1``. Items from the user's history are allowed but cannot be clicked.
        """
        ...

    def update(self, users: np.ndarray, slates: np.ndarray, clicks: np.ndarray) -> None:
        """Learn from the responses to the slates just recommended; called once after every ``recommend``.

        Args:
            users: ``(B,)`` int64, the users just served (the same as given to ``recommend``).
            slates: ``(B, k)`` int64, what each was shown.
            clicks: ``(B,)`` int64, the item id user ``users[b]`` clicked (one of ``slates[b]``), or -1 when
                they clicked nothing. The items of ``slates[b]`` not clicked were seen and passed over.
        """
        ...

    def save(self, path: Path) -> None:
        """Write the learned state into ``path``, an existing empty directory; called once, after ``fit``."""
        ...

    def load(self, path: Path) -> None:
        """Restore exactly the state that :meth:`save` wrote to ``path``; called on the same instance at the
        start of every episode (the first one included)."""
        ...
