"""Removing leavers from the active array: the loop against a hand-worked case, the vectorised form against
the loop on every kind of order."""

from __future__ import annotations

import numpy as np
import pytest

from recsim_lab.sim.swap_remove import swap_remove, swap_remove_loop, swap_remove_vectorised

BIG = np.iinfo(np.int64).max


def state(active_users: list[int], n_users: int) -> tuple[np.ndarray, np.ndarray]:
    active = np.zeros(n_users, dtype=np.int64)
    active[: len(active_users)] = active_users
    position = np.full(n_users, -1, dtype=np.int64)
    position[active_users] = np.arange(len(active_users))
    return active, position


# [10 11 12 13 14]: 11 leaves, 14 (last) takes its slot: [10 14 12 13]; 14 leaves, 13 takes it: [10 13 12];
# 10 leaves, 12 takes its slot: [12 13].
HAND = ([10, 11, 12, 13, 14], [11, 14, 10], [12, 13])


@pytest.mark.parametrize("form", ["loop", "vectorised"])
def test_hand_worked_removal(form):
    first, leavers, expected = HAND
    active, position = state(first, 16)
    scratch = np.full(16, BIG, dtype=np.int64)
    if form == "loop":
        n = swap_remove_loop(active, position, 5, leavers)
    else:
        n = swap_remove_vectorised(active, position, 5, np.array(leavers), scratch)
    assert active[:n].tolist() == expected
    assert position[[12, 13]].tolist() == [0, 1] and (position[leavers] == -1).all()
    assert (scratch == BIG).all()


@pytest.mark.parametrize("n", [1, 2, 5, 70, 300, 2000])
def test_vectorised_removal_is_the_loop(n):
    rng = np.random.default_rng(n)
    n_users = n + 7
    for trial in range(60):
        first = rng.permutation(n_users)[:n]
        r = int(rng.integers(1, n + 1)) if trial % 3 else [n, max(1, n - 2), max(1, n // 2)][trial % 9 // 3]
        chosen = rng.choice(first, r, replace=False)
        order = trial % 3  # the served order (active order, as BatchSlateEnv gives them), random, reversed
        leavers = first[np.isin(first, chosen)] if order == 0 else chosen
        leavers = leavers[::-1] if order == 2 else leavers
        loop_active, loop_position = state(first.tolist(), n_users)
        n_loop = swap_remove_loop(loop_active, loop_position, n, leavers.tolist())
        active, position = state(first.tolist(), n_users)
        scratch = np.full(n_users, BIG, dtype=np.int64)
        assert swap_remove(active, position, n, leavers, scratch) == n_loop == n - r
        assert active[:n_loop].tolist() == loop_active[:n_loop].tolist()
        assert position.tolist() == loop_position.tolist()
        vector_active, vector_position = state(first.tolist(), n_users)
        swap_remove_vectorised(vector_active, vector_position, n, leavers, scratch)  # every size, not only the large
        assert vector_active[:n_loop].tolist() == loop_active[:n_loop].tolist()
        assert vector_position.tolist() == loop_position.tolist()
        assert (scratch == BIG).all()
