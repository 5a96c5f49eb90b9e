"""The time-ordered split, the implicit ALS fit, the scale rule and the fidelity figures; generated users."""

from __future__ import annotations

import numpy as np
import pytest

from recsim_lab.data.split import split_by_time
from recsim_lab.worlds.calibration import (
    CalibrationConfig,
    calibrate,
    fidelity,
    fit_implicit_als,
    interaction_matrix,
)
from recsim_lab.worlds.catalogue_users import CatalogueUsersConfig, generate_users, text_embedding
from recsim_lab.worlds.scale_rule import calibrated_scale, kth_best_unseen
from recsim_lab.worlds.world import Rules

INF = np.inf


def test_split_orders_by_time_dedupes_and_holds_out_the_latest():
    events = [  # (user, item, time); user 1 has too few items, user 2 none
        (0, 5, 3.0), (0, 2, 1.0), (0, 7, 2.0), (0, 2, 5.0), (0, 9, 2.0), (0, 1, 9.0),
        (1, 4, 1.0),
        (3, 4, -INF), (3, 3, -INF), (3, 8, 0.0),
    ]
    user, item, time = (np.array(column) for column in zip(*events))
    split = split_by_time(user, item, time, n_users=4, n_items=10, holdout=0.5, min_history=2)
    assert split.users.tolist() == [0, 3]
    # user 0 in time order: 2, 7, 9 (tied with 7, later in the log), 5, 2 again (dropped), 1
    assert split.histories[0].tolist() == [2, 7, 9] and split.futures[0].tolist() == [5, 1]
    assert split.histories[1].tolist() == [4, 3] and split.futures[1].tolist() == [8]
    assert split.dropped_users == 2 and split.repeated_clicks == 1
    assert split.full(0).tolist() == [2, 7, 9, 5, 1]


@pytest.mark.parametrize(("n", "holdout", "n_future"), [(5, 0.5, 2), (1, 0.5, 0), (100, 0.29, 29), (10, 0.7, 7),
                                                        (4, 0.25, 1)])
def test_split_holds_out_floor_of_the_share(n, holdout, n_future):
    split = split_by_time(np.zeros(n, dtype=np.int64), np.arange(n), np.arange(n, dtype=float), n_users=1,
                          n_items=n, holdout=holdout)
    assert split.futures[0].tolist() == list(range(n - n_future, n))
    assert split.histories[0].tolist() == list(range(n - n_future))


@pytest.mark.parametrize(("kwargs", "message"), [({"holdout": 1.0}, r"holdout must be a float in \[0, 1\), got 1.0"),
                                                 ({"holdout": -0.1}, r"holdout must be a float in \[0, 1\), got -0.1"),
                                                 ({"min_history": 0}, r"min_history must be an integer in \[1, inf\)")])
def test_split_rejects_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        split_by_time(np.zeros(1), np.zeros(1), np.zeros(1), n_users=1, n_items=1, **kwargs)


def planted_log(seed=0, n_users=150, n_clusters=6, cluster_size=40, clicks=20):
    """Each user likes one cluster of items and clicked ``clicks`` of its items, in random time order."""
    rng = np.random.default_rng(seed)
    events = []
    for user in range(n_users):
        cluster = user % n_clusters
        chosen = cluster * cluster_size + rng.choice(cluster_size, size=clicks, replace=False)
        events.extend((user, item, t) for item, t in zip(chosen, rng.permutation(clicks).astype(float)))
    user, item, time = (np.array(column) for column in zip(*events))
    return split_by_time(user, item, time, n_users=n_users, n_items=n_clusters * cluster_size, holdout=0.5)


def test_fitted_truth_ranks_each_users_planted_future_near_the_top():
    split = planted_log()
    n_items = 240
    users, items, figures = calibrate(split.histories, split.futures, n_items, 1.7, CalibrationConfig())
    cluster_unseen = 40 - 10  # each user's cluster has 30 items outside their visible history
    for user, (history, future) in enumerate(zip(split.histories, split.futures)):
        scores = users[user] @ items.T
        scores[history] = -np.inf
        rank = np.argsort(np.argsort(-scores))  # 0 = best unseen item
        assert rank[future].max() < cluster_unseen, f"user {user}: future ranks {sorted(rank[future])}"
    fid = figures["fidelity"]
    assert fid["recall_at_k"] == 1.0 and fid["k"] == 50  # every future item is among the top 50
    assert fid["chance_recall_at_k"] < 0.25
    tight = fidelity(users, items, split.histories, split.futures, 1.7, k=10)
    assert tight["recall_at_k"] > 0.8 and tight["chance_recall_at_k"] < 0.05


def test_scale_rule_puts_the_median_users_kth_unseen_item_at_the_threshold():
    split = planted_log(seed=1, n_users=60)
    users, items, figures = calibrate(split.histories, split.futures, 240, 1.7, CalibrationConfig(factors=8))
    assert figures["attractive_items_k"] == 10  # the median future length
    kth = kth_best_unseen(users, items, split.histories, 10)
    assert np.median(kth) == pytest.approx(1.7, rel=1e-5)
    assert figures["scale"] == pytest.approx(1.7 / figures["median_kth_score_unscaled"])
    given = calibrate(split.histories, split.futures, 240, 1.7, CalibrationConfig(factors=8, attractive_items=3))[2]
    assert given["attractive_items_k"] == 3 and given["scale"] < figures["scale"]


def test_fit_is_deterministic_for_a_seed():
    split = planted_log(n_users=30)
    clicks = interaction_matrix([split.full(u) for u in range(30)], 240)
    assert clicks.shape == (30, 240) and clicks.nnz == 30 * 20
    a = fit_implicit_als(clicks, CalibrationConfig(factors=4, seed=3))
    b = fit_implicit_als(clicks, CalibrationConfig(factors=4, seed=3))
    c = fit_implicit_als(clicks, CalibrationConfig(factors=4, seed=4))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])
    assert a[0].dtype == np.float32 and a[0].shape == (30, 4) and a[1].shape == (240, 4)


def test_fidelity_by_hand():
    users = np.array([[1.0, 0.0]])
    items = np.array([[5.0, 0], [4.0, 0], [3.0, 0], [2.0, 0], [1.0, 0], [0.0, 0]])
    figures = fidelity(users, items, [np.array([0])], [np.array([2, 5])], threshold=2.5, k=2)
    # unseen 1..5; top-2 = items 1, 2; one of the two future items -> 1/2; chance 2 * 2 / 5 / 2
    assert figures["recall_at_k"] == 0.5 and figures["chance_recall_at_k"] == pytest.approx(0.4)
    assert figures["future_above_threshold"] == 0.5 and figures["median_attractive_items"] == 2.0
    assert kth_best_unseen(users, items, [np.array([0])], 2).tolist() == [3.0]


def test_scale_rule_refuses_a_truth_without_preferences():
    with pytest.raises(ValueError, match="cannot calibrate"):
        calibrated_scale(np.zeros((3, 2)), np.ones((8, 2)), [np.array([0])] * 3, k=2, threshold=1.7)
    with pytest.raises(ValueError, match="positive no-click threshold"):
        calibrated_scale(np.ones((3, 2)), np.ones((8, 2)), [np.array([0])] * 3, k=2, threshold=-1.0)


@pytest.mark.parametrize(("kwargs", "message"), [({"factors": 0}, "factors"), ({"alpha": 0.0}, "alpha"),
                                                 ({"iterations": 1.5}, "iterations"),
                                                 ({"attractive_items": 0}, "attractive_items")])
def test_calibration_config_is_validated(kwargs, message):
    with pytest.raises(ValueError, match=f"CalibrationConfig.{message} must be"):
        CalibrationConfig(**kwargs)


def test_text_embedding_puts_texts_on_the_same_subject_together():
    texts = ["football match goal team", "team wins the football match", "goal in the match",
             "bread recipe with cheese", "cheese and bread for dinner", "a dinner recipe", ""]
    vectors = text_embedding(texts, dims=3)
    assert vectors.shape == (7, 3)
    np.testing.assert_allclose(np.linalg.norm(vectors[:6], axis=1), 1.0)
    assert not vectors[6].any()  # no known word: a zero row
    sims = vectors @ vectors.T
    assert sims[0, 1] > sims[0, 3] and sims[3, 4] > sims[4, 1]


def test_generated_users_are_deterministic_and_click_distinct_items():
    texts = [f"{w} story number {i} about {w}" for i, w in enumerate(["sport", "food", "music", "travel"] * 15)]
    categories = [t.split()[0] for t in texts]
    config = CatalogueUsersConfig(n_users=25, attractive_items=5, mean_clicks=8.0, min_clicks=3, seed=2)
    first = generate_users(texts, categories, Rules(), config)
    again = generate_users(texts, categories, Rules(), config)
    for a, b in zip(first[:5], again[:5]):
        np.testing.assert_array_equal(a, b)
    users, items, event_user, event_item, event_time, figures = first
    keys = event_user * 60 + event_item
    assert np.unique(keys).size == keys.size  # a user never clicks an item twice
    assert (np.diff(event_time) >= 0).all() and figures["attractive_items_k"] == 5
    top = np.sort(users @ items.T, axis=1)[:, ::-1][:, 4]
    assert np.median(top[:25]) == pytest.approx(1.7, rel=1e-5)
