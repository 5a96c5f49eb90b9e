"""SeenItems.contains against plain Python sets, through every way the sets change (its in-cache filter of
items in some set must never hide a member)."""

from __future__ import annotations

import numpy as np

from recsim_lab.data.seen import SeenItems


def check_against(seen: SeenItems, sets: list[set[int]], n_items: int) -> None:
    users = np.repeat(np.arange(len(sets)), n_items)
    items = np.tile(np.arange(n_items), len(sets)).reshape(-1, 1)
    expected = [item in sets[user] for user, item in zip(users.tolist(), items[:, 0].tolist())]
    assert seen.contains(users, items)[:, 0].tolist() == expected
    slates = np.arange(n_items).reshape(-1, 3)[:, ::-1]  # (B, k) with k > 1: the row of each cell matters
    for user, _ in enumerate(sets):
        rows = np.full(len(slates), user)
        assert seen.contains(rows, slates).tolist() == [[item in sets[user] for item in s] for s in slates.tolist()]


def test_contains_follows_every_change(tmp_path):
    n_items = 24  # three bytes per row
    seen = SeenItems.from_histories([np.array([0, 17]), np.array([], dtype=np.int64), np.array([9])], n_items)
    sets = [{0, 17}, set(), {9}]
    check_against(seen, sets, n_items)
    initial = seen.copy()
    seen.add_new(np.array([0, 1]), np.array([8, 10]))  # two users, items of one byte of the filter
    sets[0].add(8), sets[1].add(10)
    check_against(seen, sets, n_items)
    seen.add(np.array([2, 2, 1]), np.array([23, -1, 22]))
    sets[2].add(23), sets[1].add(22)
    check_against(seen, sets, n_items)
    seen.add_one(2, 1)
    sets[2].add(1)
    check_against(seen, sets, n_items)
    seen.assign_rows(initial, np.array([0, 2]))  # users 0 and 2 back to their histories; 8, 23, 1 leave
    sets[0], sets[2] = {0, 17}, {9}
    check_against(seen, sets, n_items)
    other = SeenItems.from_histories([np.array([], dtype=np.int64), np.array([5]), np.array([])], n_items)
    seen.assign_rows(other, np.array([1]))  # an item no set of seen's held
    sets[1] = {5}
    check_against(seen, sets, n_items)
    seen.save(tmp_path)
    check_against(SeenItems.load(tmp_path), sets, n_items)
    seen.assign(initial)
    check_against(seen, [{0, 17}, set(), {9}], n_items)


def test_contains_on_random_sets_and_slates():
    rng = np.random.default_rng(3)
    n_users, n_items = 50, 1000
    histories = [rng.choice(n_items, rng.integers(0, 30), replace=False) for _ in range(n_users)]
    seen = SeenItems.from_histories(histories, n_items)
    users = rng.integers(n_users, size=400)
    slates = rng.integers(n_items, size=(400, 5))
    expected = [[item in set(histories[user].tolist()) for item in slate] for user, slate in zip(users, slates)]
    assert seen.contains(users, slates).tolist() == expected
