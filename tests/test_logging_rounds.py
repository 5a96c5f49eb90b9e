"""The generators' shared taste sampling and logging simulation (:mod:`recsim_lab.worlds.logging_rounds`)."""

from __future__ import annotations

import numpy as np

from recsim_lab.worlds.logging_rounds import sample_tastes, simulate_logging
from recsim_lab.worlds.world import Rules


def test_tastes_like_one_to_three_distinct_groups_with_weights_summing_to_one():
    liked, weights = sample_tastes(np.random.default_rng(0), 400, 10)
    assert liked.shape == weights.shape == (400, 3)
    assert all(len(set(row)) == 3 for row in liked.tolist())
    np.testing.assert_allclose(weights.sum(axis=1), 1.0)
    assert set((weights > 0).sum(axis=1).tolist()) == {1, 2, 3}
    assert (weights[:, 0] > 0).all()  # the liked count fills the first slots
    # groups with probability 0 are never liked: only 0, 1, 2 can fill the three slots
    liked, _ = sample_tastes(np.random.default_rng(1), 50, 5, p=np.array([0.2, 0.3, 0.5, 0.0, 0.0]),
                             counts_first=True)
    assert all(sorted(row) == [0, 1, 2] for row in liked.tolist())
    assert sample_tastes(np.random.default_rng(0), 7, 2)[0].shape == (7, 2)  # fewer groups than 3


def test_logging_follows_exposure_and_clicks_distinct_liked_items():
    # items 0..5 (group 0) score +100 for user 0 and -100 for user 1; items 6..11 (group 1) the reverse;
    # group 2 is empty. With focus 1, every slot comes from the user's liked group unless it is empty.
    items = np.array([[100.0]] * 6 + [[-100.0]] * 6)
    users = np.array([[1.0], [-1.0], [0.0]])
    group = np.array([0] * 6 + [1] * 6)
    liked, weights = np.array([[0], [1], [2]]), np.ones((3, 1))
    for within_first in (False, True):
        user, item, round_ = simulate_logging(
            np.random.default_rng(3), users, items, group, 3, liked, weights, Rules(), mean_length=4.0,
            min_length=4, rounds=50, exposure_focus=1.0, within_first=within_first)
        assert np.bincount(user[user < 2], minlength=2).tolist() == [4, 4]  # each reached its length, 4
        assert set(item[user == 0].tolist()) <= set(range(6)) and set(item[user == 1].tolist()) <= set(range(6, 12))
        for u in range(3):
            assert np.unique(item[user == u]).size == (user == u).sum()  # never the same item twice
            assert (np.diff(round_[user == u]) > 0).all()  # at most one click a round
        assert user.dtype == item.dtype == np.int64 and round_.dtype == np.float64
