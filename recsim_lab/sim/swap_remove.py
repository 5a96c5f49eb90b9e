"""Removing users from the array of active users, swap-remove style: one rule, a loop and a vectorised form.

The active users are ``active[:n]``, and ``position[u]`` is u's index there (-1 once u has left). Removing
``users`` means, for each in turn: move the last active user into the leaver's slot and shrink the array by
one. The order this leaves the array in decides who is served next and with which random draw, so both forms
below give exactly the loop's result; :func:`swap_remove` picks the faster for the number of leavers.
"""

from __future__ import annotations

import numpy as np

# Leavers from which the vectorised form is used: each of its passes costs as much as ~50 loop removals, so
# the loop wins below a few hundred (150 leavers of 300: 18 us against 33; 1,000 of 2,000: 133-182 against 87-110).
_VECTORISED_FROM = 512


def swap_remove(active: np.ndarray, position: np.ndarray, n: int, users: np.ndarray, scratch: np.ndarray) -> int:
    """Remove ``users`` (``(r,)`` distinct ids in ``active[:n]``), in order; returns the new count ``n - r``.

    Args:
        active: ``(n_users,)`` int64, the active users first; changed in place.
        position: ``(n_users,)`` int64, each active user's index in ``active``, -1 for others; changed in place.
        n: how many users are active.
        users: ``(r,)`` int64 leavers, removed in this order.
        scratch: ``(n_users,)`` int64 work array holding ``np.iinfo(np.int64).max`` everywhere, as it is left.
    """
    if users.size < _VECTORISED_FROM:
        return swap_remove_loop(active, position, n, users.tolist())
    return swap_remove_vectorised(active, position, n, users, scratch)


def swap_remove_loop(active: np.ndarray, position: np.ndarray, n: int, users: list[int]) -> int:
    """The rule itself: one swap-remove per user, O(1) each."""
    active_view, position_view = memoryview(active), memoryview(position)  # Python ints, no NumPy scalars
    last = n
    for user in users:
        last -= 1
        moved, where = active_view[last], position_view[user]
        active_view[where] = moved
        position_view[moved] = where
        position_view[user] = -1
    return last


def swap_remove_vectorised(active: np.ndarray, position: np.ndarray, n: int, users: np.ndarray,
                           scratch: np.ndarray) -> int:
    """The loop's result in a few passes over the leavers.

    Removal ``i`` (1-based) moves the user then in the top slot ``n - i`` into the slot of ``users[i - 1]``.
    Users move only downwards and only from the top slot, so the users in ``active[:n - r]`` who stay never
    move, and each slot there whose user leaves ends up holding a stayer from above. Who is in the top slot at
    removal ``i``: the slot's first user, unless that user left at an earlier removal ``j < i`` (then its slot
    got what was on top at removal ``j``), and so on. The passes below follow these chains for every ``i`` at
    once, each pass replacing a gone leaver by what replaced it (a handful of passes in practice). Then each
    vacated low slot follows its chain of later leavers to the stayer it ends with.
    """
    r = users.size
    kept = n - r
    removal = np.arange(1, r + 1)
    scratch[users] = removal  # the removal number of each leaver; stayers keep the maximum
    on_top = active[kept:n][::-1].copy()  # on_top[i - 1]: who is in slot n - i at removal i, once resolved
    while True:
        earlier = scratch.take(on_top)
        pending = np.flatnonzero(earlier < removal)  # a leaver already gone by removal i: take its replacement
        if pending.size == 0:
            break
        on_top[pending] = on_top[earlier[pending] - 1]
    slots = position.take(users)
    low = np.flatnonzero(slots < kept)  # leavers from the slots that stay
    filler = on_top[low]
    while True:
        gone = scratch.take(filler)
        pending = np.flatnonzero(gone <= r)  # that filler leaves later: its own replacement takes the slot
        if pending.size == 0:
            break
        filler[pending] = on_top[gone[pending] - 1]
    scratch[users] = np.iinfo(np.int64).max
    position[users] = -1
    holes = slots[low]
    active[holes] = filler
    position[filler] = holes
    return kept
