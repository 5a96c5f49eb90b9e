"""Spearman's rho against hand-computed values, and the popularity check of ``data inspect`` on tiny worlds
whose answer is known: item quality that follows the log's popularity gives +sqrt(37/42), the reverse
-sqrt(37/42)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from recsim_lab.data import Dataset
from recsim_lab.sim.random_policy import default_slates, log_click_counts, popularity_agreement, random_policy_clicks
from recsim_lab.sim.rank_correlation import average_ranks, spearman
from recsim_lab.worlds.world import Rules, World


def test_average_ranks_share_ties():
    np.testing.assert_array_equal(average_ranks(np.array([10, 20, 20, 5])), [2.0, 3.5, 3.5, 1.0])
    np.testing.assert_array_equal(average_ranks(np.array([3.0, 3.0, 3.0])), [2.0, 2.0, 2.0])


@pytest.mark.parametrize(("x", "y", "rho"), [
    ([1, 2, 3, 4], [1, 3, 2, 4], 0.8),                      # 1 - 6 * 2 / (4 * 15)
    ([1, 2, 2, 3], [1, 2, 3, 4], 3 / math.sqrt(10)),         # ranks 1, 2.5, 2.5, 4: 4.5 / sqrt(4.5 * 5)
    ([4, 3, 2, 1], [1, 2, 3, 4], -1.0),
    ([5, 1, 5, 1], [2, 0, 7, 3], 1 / math.sqrt(5)),          # ranks 3.5 1.5 3.5 1.5 and 2 1 4 3: 2 / sqrt(4 * 5)
])
def test_spearman_by_hand(x, y, rho):
    assert spearman(np.array(x), np.array(y)) == pytest.approx(rho, abs=1e-12)


def test_spearman_matches_scipy_with_ties():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(3)
    for _ in range(20):
        x, y = rng.integers(0, 4, size=12), rng.integers(0, 5, size=12)
        assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)


def test_spearman_is_nan_when_undefined_and_rejects_other_shapes():
    assert math.isnan(spearman(np.array([1, 1, 1]), np.array([1, 2, 3])))
    assert math.isnan(spearman(np.array([1]), np.array([2])))
    with pytest.raises(ValueError, match="two 1-d arrays of one length"):
        spearman(np.array([1, 2]), np.array([1, 2, 3]))


FUTURES = ([0, 1, 2, 3], [0, 1, 2], [0, 1], [0])
"""Four users; in the log item 0 was clicked by 4 users, item 1 by 3, item 2 by 2, item 3 by 1, items 4-7 by none."""
BY_HAND = math.sqrt(37 / 42)
"""rho between log counts 4, 3, 2, 1, 0, 0, 0, 0 (ranks 8 7 6 5 2.5 2.5 2.5 2.5) and strictly decreasing clicks
(ranks 8..1): centred, 37 / sqrt(42 * 37)."""


def quality_world(descending: bool, choice: str = "softmax") -> World:
    """8 items whose true score, the same for every user, falls (or rises) by 0.2 from item to item."""
    quality = 2.0 - 0.2 * np.arange(8)
    dataset = Dataset(headlines=[f"item {i}" for i in range(8)], descriptions=[""] * 8, categories=["c"] * 8,
                      histories=[np.empty(0, dtype=np.int64)] * 4, n_train_users=2)
    return World(dataset, np.ones((4, 1)), (quality if descending else quality[::-1])[:, None],
                 rules=Rules(choice=choice), futures=[np.array(f) for f in FUTURES])


@pytest.mark.parametrize(("descending", "rho"), [(True, BY_HAND), (False, -BY_HAND)])
def test_popularity_agreement_on_worlds_solved_by_hand(descending, rho):
    world = quality_world(descending)
    np.testing.assert_array_equal(log_click_counts(world), [4, 3, 2, 1, 0, 0, 0, 0])
    clicks = random_policy_clicks(world, np.arange(4), slates=100, seed=0)
    assert np.all(np.diff(clicks) < 0) if descending else np.all(np.diff(clicks) > 0)
    report = popularity_agreement(world, np.arange(4), seed=0)
    assert report["spearman"] == pytest.approx(rho, abs=1e-12)
    assert report["slates_per_user"] == default_slates(8, 4, 5) == 20  # 50 * 8 / (5 * 4), within 10..200


def test_random_policy_clicks_never_show_a_users_history_and_repeat_for_a_seed():
    world = quality_world(True)
    histories = [np.array([0, 1, 2]), np.array([0]), np.array([1]), np.array([0, 1, 2, 3])]
    world = World(Dataset(headlines=world.dataset.headlines, descriptions=[""] * 8, categories=["c"] * 8,
                          histories=histories, n_train_users=2), world.user_embeddings, world.item_embeddings)
    # user 0 has clicked items 0-2, so every slate is items 3-7: 30 times softmax([1.4 .. 0.6, 1.7] / 0.1) (float32)
    alone = random_policy_clicks(world, np.array([0]), slates=30, seed=1)
    weights = [math.exp((q - 1.7) / 0.1) for q in (1.4, 1.2, 1.0, 0.8, 0.6)]
    np.testing.assert_allclose(alone, [0, 0, 0, *(30 * w / (1 + sum(weights)) for w in weights)], rtol=1e-5)
    assert random_policy_clicks(world, np.array([3]), slates=5, seed=1).sum() == 0  # 4 unseen items < a slate
    np.testing.assert_array_equal(random_policy_clicks(world, np.arange(4), 30, seed=2),
                                  random_policy_clicks(world, np.arange(4), 30, seed=2))


def test_replay_worlds_click_their_futures():
    clicks = random_policy_clicks(quality_world(False, choice="replay"), np.arange(4), slates=200, seed=0)
    assert clicks[4:].sum() == 0 and np.all(np.diff(clicks[:4]) < 0)  # no future holds 4-7; 0 in most futures
