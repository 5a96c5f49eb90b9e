"""The mutable state of one episode: who is still active, their patience, session lengths and histories.

Both environments (:class:`~envs.slate_env.SlateEnv`, one user per step, and
:class:`~envs.batch_env.BatchSlateEnv`, many users per step) drive this one state machine, so the
rules live in one place: :meth:`Population.respond` for a batch, and :meth:`Population.respond_one`, its
plain-Python form for a single user (the one-user step is dominated by per-call overhead; tests check the
two agree). One step for user ``u`` and slate ``[i_1..i_k]``:

1. ``s_j = <user_u, item_{i_j}>``, or ``-inf`` when ``i_j`` is already in u's history;
2. ``p = softmax([s_1..s_k, threshold] / temperature)``; one index is drawn;
3. no click: ``patience_u -= 1``; click on ``i_j``: ``i_j`` joins u's history and
   ``patience_u += min(max(p_j * increment_weight, 0), 1)``;
4. ``session_length_u += 1``; u leaves when ``patience_u <= 0`` or ``session_length_u >= horizon``.

With ``rules.choice == "replay"`` steps 1-2 are replaced by the log replay of :mod:`recsim_lab.sim.replay`
(click the earliest slate item of the user's remaining held-out future, else no click; ``p_j = 1``).
"""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np

from recsim_lab.data.seen import SeenItems
from recsim_lab.sim.replay import FuturePositions, replay_probabilities, replay_probabilities_one
from recsim_lab.worlds.choice import click_probabilities, click_probabilities_one, sample_choice_one, sample_choices
from recsim_lab.worlds.world import World

_PAIRWISE_MAX_K = 8  # slates up to this size are checked for repeats pair by pair first, longer ones sorted


def check_slates(slates: Any, n_users: int, slate_size: int, n_items: int) -> np.ndarray:
    """Validate a batch of slates: shape ``(n_users, slate_size)``, integer ids in ``0..n_items-1``, no item
    twice in a slate (items from a user's history are allowed; they just cannot be clicked).

    Returns:
        ``slates`` as an int64 array.

    Raises:
        ValueError: naming the offending slate and what was expected.
    """
    k = slate_size
    slates = np.asarray(slates)
    if slates.shape != (n_users, k):
        raise ValueError(f"slates must have shape ({n_users}, {k}) (one slate of {k} items per user), "
                         f"got {slates.shape}")
    if slates.dtype.kind not in "iu":  # signed or unsigned integers
        raise ValueError(f"slates must hold integer item ids, got dtype {slates.dtype}")
    slates = slates.astype(np.int64, copy=False)
    if slates.size and (slates.min() < 0 or slates.max() >= n_items):
        bad = slates[(slates < 0) | (slates >= n_items)][0]
        raise ValueError(f"slate item id {bad} is out of range 0..{n_items - 1}")
    if k > _PAIRWISE_MAX_K or _repeats_pairwise(slates):
        ordered = np.sort(slates, axis=1)
        repeats = ordered[:, 1:] == ordered[:, :-1]
        if repeats.any():
            row = int(np.argwhere(repeats)[0, 0])
            raise ValueError(f"a slate must hold {k} distinct items; slate {slates[row].tolist()} (row {row}) "
                             f"repeats item {ordered[row, 1:][repeats[row]][0]}")
    return slates


def _repeats_pairwise(slates: np.ndarray) -> bool:
    """Whether a row of ``(B, k)`` ``slates`` holds an item twice, by comparing every pair of columns: for short
    slates, k (k - 1) / 2 vector comparisons cost several times less than sorting each row."""
    columns = slates.T.copy()  # (k, B), each column contiguous
    repeated = np.zeros(slates.shape[0], dtype=bool)
    for i in range(1, columns.shape[0]):
        for j in range(i):
            repeated |= columns[i] == columns[j]
    return bool(repeated.any())


class Population:
    """Episode state for a population of users of a :class:`World`.

    Args:
        world: the world whose users are served.
        users: ids of the users taking part (e.g. ``world.dataset.users("test")``).

    Per-user arrays are indexed by user id and have ``world.dataset.n_users`` entries; users outside the
    population stay at zero.
    """

    def __init__(self, world: World, users: np.ndarray) -> None:
        users = np.unique(np.asarray(users, dtype=np.int64))
        n_users = world.dataset.n_users
        if users.size == 0 or users[0] < 0 or users[-1] >= n_users:
            raise ValueError(f"users must be a non-empty set of ids in 0..{n_users - 1}")
        self.world = world
        self.rules = world.rules
        self.members = users
        self._initial_seen = SeenItems.from_histories(world.dataset.histories, world.dataset.n_items)
        self._futures = (FuturePositions(world.futures, world.dataset.n_items) if world.rules.choice == "replay"
                         else None)  # static; the remaining future is the future minus the history
        self.patience = np.zeros(n_users, dtype=np.float64)
        self.session_length = np.zeros(n_users, dtype=np.int64)
        self.clicks = np.zeros(n_users, dtype=np.int64)
        self.seen = self._initial_seen.copy()
        self._active = users.copy()
        self._position = np.full(n_users, -1, dtype=np.int64)  # index in _active, -1 when not active
        self.n_active = 0
        self.reset()

    def reset(self) -> None:
        """Restore every history, patience and session length to the start of an episode."""
        # Only a click changes a history, so only the rows of users who clicked are copied back.
        self.seen.assign_rows(self._initial_seen, np.flatnonzero(self.clicks))
        self.patience[:] = 0.0
        self.patience[self.members] = self.rules.initial_patience
        self.session_length[:] = 0
        self.clicks[:] = 0
        self._active[:] = self.members
        self._position[:] = -1
        self._position[self.members] = np.arange(self.members.size)
        self.n_active = self.members.size

    def reset_users(self, users: np.ndarray) -> None:
        """Restart the sessions of ``users`` alone: their histories, patience, session lengths and clicks return
        to the start of an episode, and those who had left rejoin the active users (at the end of the active
        array). Everyone else is untouched.

        Args:
            users: ``(n,)`` distinct ids of members of the population.
        """
        self.seen.assign_rows(self._initial_seen, users[self.clicks[users] > 0])  # only clicks change histories
        self.patience[users] = self.rules.initial_patience
        self.session_length[users] = 0
        self.clicks[users] = 0
        returning = users[self._position[users] < 0]
        start = self.n_active
        self._active[start:start + returning.size] = returning
        self._position[returning] = np.arange(start, start + returning.size)
        self.n_active = start + returning.size

    @property
    def active_users(self) -> np.ndarray:
        """``(n_active,)`` ids of the users still in the session (a view; order changes as users leave)."""
        return self._active[: self.n_active]

    def user_at(self, uniform: float) -> int:
        """The active user at a uniform draw in [0, 1): a uniformly random active user."""
        return int(self._active[int(uniform * self.n_active)])

    def check(self, slates: Any, n_users: int) -> np.ndarray:
        """Validate a batch of slates for ``n_users`` users without touching any state.

        Args:
            slates: ``(n_users, slate_size)`` item ids; each row distinct ids in ``0..n_items-1``.
            n_users: the batch size.

        Returns:
            ``slates`` as an int64 array.

        Raises:
            ValueError: naming the offending slate and what was expected.
        """
        return check_slates(slates, n_users, self.rules.slate_size, self.world.dataset.n_items)

    def choice_probabilities(self, users: np.ndarray, slates: np.ndarray) -> np.ndarray:
        """``(B, slate_size + 1)`` probabilities of each user clicking each slate position (last column: no
        click) under the world's choice model and the current histories; changes nothing."""
        if self._futures is not None:
            return replay_probabilities(self._futures, self.seen, users, slates)
        scores = self.world.true_scores(users, slates)
        scores[self.seen.contains(users, slates)] = -np.inf
        return click_probabilities(scores, self.rules.no_click_threshold, self.rules.temperature)

    def respond(self, users: np.ndarray, slates: np.ndarray, uniforms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Serve one slate to each user and apply the rules; call :meth:`check` first.

        Args:
            users: ``(B,)`` distinct active user ids (int64), as drawn by the environment.
            slates: ``(B, slate_size)`` int64 slates that passed :meth:`check`.
            uniforms: ``(B,)`` draws from U[0, 1), one per user, for the choice.

        Returns:
            ``clicked``: ``(B,)`` int64 clicked item id or -1; ``left``: ``(B,)`` bool, the user left.
        """
        rules = self.rules
        probabilities = self.choice_probabilities(users, slates)
        picks = sample_choices(probabilities, uniforms)
        rows = np.flatnonzero(picks < rules.slate_size)
        clicked = np.full(users.size, -1, dtype=np.int64)
        clicked[rows] = slates[rows, picks[rows]]
        change = np.full(users.size, -1.0)
        change[rows] = np.clip(probabilities[rows, picks[rows]] * rules.patience_increment_weight, 0.0, 1.0)
        patience = self.patience[users] + change
        length = self.session_length[users] + 1
        self.patience[users] = patience
        self.session_length[users] = length
        self.clicks[users[rows]] += 1
        self.seen.add_new(users[rows], clicked[rows])  # distinct users; an item already seen is never chosen
        left = (patience <= 0) | (length >= rules.horizon)
        self._remove(users[left].tolist())
        return clicked, left

    def check_one(self, slate: Any) -> list[int]:
        """Validate one slate without touching any state; returns it as a list of ints.

        Raises:
            ValueError: wrong length or type, an out-of-range id, or a repeated item.
        """
        k, n_items = self.rules.slate_size, self.world.dataset.n_items
        if isinstance(slate, np.ndarray):
            if slate.shape != (k,):
                raise ValueError(f"a slate must be {k} item ids, got an array of shape {slate.shape}")
            if slate.dtype.kind not in "iu":
                raise ValueError(f"slates must hold integer item ids, got dtype {slate.dtype}")
            items = slate.tolist()
        else:
            try:
                items = [operator.index(item) for item in slate]
            except TypeError:
                items = None
            if items is None or any(isinstance(item, bool) for item in slate):
                raise ValueError(f"a slate must be a sequence of {k} integer item ids, got {slate!r}")
            if len(items) != k:
                raise ValueError(f"a slate must be {k} item ids, got {len(items)}: {items}")
        if min(items) < 0 or max(items) >= n_items:
            bad = next(i for i in items if not 0 <= i < n_items)
            raise ValueError(f"slate item id {bad} is out of range 0..{n_items - 1}")
        if len(set(items)) != k:
            repeated = next(i for i in items if items.count(i) > 1)
            raise ValueError(f"a slate must hold {k} distinct items; slate {items} repeats item {repeated}")
        return items

    def respond_one(self, user: int, slate: list[int], uniform: float) -> tuple[int, bool]:
        """:meth:`respond` for one active user and a slate that passed :meth:`check_one`.

        Returns:
            The clicked item id or -1, and whether the user left.
        """
        rules = self.rules
        if self._futures is not None:
            probabilities = replay_probabilities_one(self._futures, self.seen, user, slate)
        else:
            scores = self.world.true_scores_one(user, slate)
            clicked_before = self.seen.contains_one(user, slate)
            if True in clicked_before:
                scores = [-math.inf if seen else score for score, seen in zip(scores, clicked_before)]
            probabilities = click_probabilities_one(scores, rules.no_click_threshold, rules.temperature)
        pick = sample_choice_one(probabilities, uniform)
        # Python ints and floats in, NumPy arrays out: the same IEEE arithmetic as on the arrays, fewer scalars
        length = int(self.session_length[user]) + 1
        patience = float(self.patience[user])
        if pick < rules.slate_size:
            item = slate[pick]
            patience += min(max(probabilities[pick] * rules.patience_increment_weight, 0.0), 1.0)
            self.clicks[user] += 1
            self.seen.add_one(user, item)
        else:
            item = -1
            patience -= 1.0
        self.session_length[user] = length
        self.patience[user] = patience
        left = patience <= 0 or length >= rules.horizon
        if left:
            self._remove([user])
        return item, left

    def _remove(self, users: list[int]) -> None:
        """Swap-remove each of ``users`` from the active array in turn, O(1) each (the order fixes the new
        order of the active array, so it is kept)."""
        active, position = memoryview(self._active), memoryview(self._position)  # Python ints, no NumPy scalars
        last = self.n_active
        for user in users:
            last -= 1
            moved, where = active[last], position[user]
            active[where] = moved
            position[moved] = where
            position[user] = -1
        self.n_active = last
