"""Triplet margin agent: protocol, exact restore, reproducibility, and the online hinge step by hand."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from agents.checker import check_agent
from agents.triplet import TripletAgent
from recsim_lab.data import Dataset

FAST = dict(factors=8, epochs=2)


def _dataset(n_items: int = 6, histories: tuple = ([], [3])) -> Dataset:
    return Dataset(headlines=[f"item {i}" for i in range(n_items)], descriptions=[""] * n_items,
                   categories=["c"] * n_items, histories=[np.array(h, dtype=np.int64) for h in histories],
                   n_train_users=1)


def _by_hand(margin: float, n_items: int = 6, **options) -> TripletAgent:
    """User 0 at p = (1, 0); items 0, 1, 2 at (1, 0), (0, 1), (0.5, 0.5); every bias 0."""
    agent = TripletAgent(factors=2, epochs=0, margin=margin, online_learning_rate=0.1, **options)
    agent.fit(_dataset(n_items), seed=0)
    agent.user_factors[:] = 0.0
    agent.user_factors[0] = [1.0, 0.0]
    agent.item_factors[:] = 0.0
    agent.item_factors[:3] = [[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]]
    return agent


def _state(agent: TripletAgent) -> list[np.ndarray]:
    return [agent.user_factors.copy(), agent.item_factors.copy(), agent.item_bias.copy(), agent.w_user.copy(),
            agent.counters.copy(), agent.seen.bits.copy()]


def test_importing_the_module_does_not_import_tensorflow():
    code = "import sys, agents.triplet; print('tensorflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True
                          ).stdout.strip() == "False"


@pytest.mark.parametrize("scorer", ["dot", "mlp"])
def test_passes_the_checker(tiny_world, scorer):
    check_agent(TripletAgent(scorer=scorer, hidden=8, **FAST), tiny_world.dataset)


def test_a_click_is_one_hinge_step_computed_by_hand():
    """Click on 0 in slate (0, 1, 2), margin 2: both triplets (0 > 1, 0 > 2) are active, weight 1/2 each.

    d/dp = 1/2 (q1 - q0) + 1/2 (q2 - q0) = (-0.75, 0.75); d/dq0 = -p; d/dq1 = d/dq2 = p / 2; d/db0 = -1,
    d/db1 = d/db2 = 1/2. With rate 0.1: p = (1.075, -0.075), q0 = (1.1, 0), q1 = (-0.05, 1),
    q2 = (0.45, 0.5), b = (0.1, -0.05, -0.05), so the scores p.q + b are 1.2825, -0.17875 and 0.39625
    (from 1, 0 and 0.5): the click rises, the items passed over fall.
    """
    agent = _by_hand(margin=2.0)
    np.testing.assert_allclose(agent.scores(np.array([0]))[0, :3], [1.0, 0.0, 0.5])
    agent.update(np.array([0]), np.array([[0, 1, 2]]), np.array([0]))
    np.testing.assert_allclose(agent.user_factors[0], [1.075, -0.075], rtol=1e-6)
    np.testing.assert_allclose(agent.item_factors[:3], [[1.1, 0.0], [-0.05, 1.0], [0.45, 0.5]], rtol=1e-6)
    np.testing.assert_allclose(agent.item_bias[:3], [0.1, -0.05, -0.05], rtol=1e-6)
    np.testing.assert_allclose(agent.scores(np.array([0]))[0, :3], [1.2825, -0.17875, 0.39625], rtol=1e-5)
    assert agent.seen.contains(np.array([0]), np.array([[0]]))[0, 0]


def test_a_triplet_inside_the_margin_changes_nothing():
    """Margin 0.5: s0 - s1 = 1 and s0 - s2 = 0.5 already reach it, so the hinge is 0 and nothing moves."""
    agent = _by_hand(margin=0.5)
    before = _state(agent)[:3]
    agent.update(np.array([0]), np.array([[0, 1, 2]]), np.array([0]))
    for old, new in zip(before, _state(agent)[:3]):
        np.testing.assert_array_equal(old, new)


def test_an_ignored_slate_ranks_each_shown_item_below_a_random_one():
    """No click on (3, 4, 5) with every vector 0: each triplet (random r_j > shown j) is active (margin 1),
    weight ignored_weight / 3; only biases move (the factors' gradients are 0): each shown item's falls by
    rate * weight, each drawn item's rises by it. The draws are replayed from the agent's counters."""
    agent = _by_hand(margin=1.0, n_items=1000, ignored_weight=0.6)
    agent.user_factors[:] = 0.0
    agent.item_factors[:] = 0.0
    slate = np.array([[3, 4, 5]])
    drawn = np.random.default_rng(agent.counters.tolist()).integers(1000, size=(1, 3))[0]
    assert not np.isin(drawn, slate).any()  # true of this seed; the sums below assume it
    agent.update(np.array([0]), slate, np.array([-1]))
    expected = np.zeros(1000, np.float32)
    np.add.at(expected, drawn, 0.1 * 0.2)
    expected[[3, 4, 5]] -= 0.1 * 0.2
    np.testing.assert_allclose(agent.item_bias, expected, rtol=1e-6)
    assert not agent.user_factors.any() and not agent.item_factors.any()
    assert agent.counters[1] == 1


def test_the_mlp_step_is_the_autodiff_step_of_the_hinge(tiny_world):
    """With the MLP scorer, one online step equals TensorFlow's gradient of the documented loss on the
    embeddings and biases (the MLP's weights stay)."""
    import tensorflow as tf

    agent = TripletAgent(scorer="mlp", factors=4, hidden=6, epochs=3, margin=5.0, online_learning_rate=0.3)
    agent.fit(tiny_world.dataset, seed=1)
    users, slates, clicks = np.array([2, 7]), np.array([[10, 11, 12], [12, 13, 14]]), np.array([12, 13])
    params = [tf.Variable(x) for x in (agent.user_factors, agent.item_factors, agent.item_bias)]
    w_user, w_item, c_1, w_2 = agent.w_user, agent.w_item, agent.c_1, agent.w_2
    with tf.GradientTape() as tape:
        p_all, q_all, b_all = params

        def score(u, i):
            z = tf.gather(p_all, u) @ w_user + tf.gather(q_all, i) @ w_item + c_1
            return tf.linalg.matvec(tf.nn.relu(z), w_2) + tf.gather(b_all, i)

        u, i, j = np.array([2, 2, 7, 7]), np.array([12, 12, 13, 13]), np.array([10, 11, 12, 14])
        loss = tf.reduce_sum(0.5 * tf.nn.relu(agent.margin - score(u, i) + score(u, j)))
    expected = [v.numpy() - agent.online_learning_rate * tf.convert_to_tensor(g).numpy()
                for v, g in zip(params, tape.gradient(loss, params))]
    mlp = [x.copy() for x in (agent.w_user, agent.w_item, agent.c_1, agent.w_2)]
    agent.update(users, slates, clicks)
    for array, want in zip((agent.user_factors, agent.item_factors, agent.item_bias), expected):
        np.testing.assert_allclose(array, want, rtol=1e-5, atol=1e-6)
    for old, new in zip(mlp, (agent.w_user, agent.w_item, agent.c_1, agent.w_2)):
        np.testing.assert_array_equal(old, new)


@pytest.mark.parametrize("scorer", ["dot", "mlp"])
def test_warm_start_ranks_history_items_above_others(tiny_world, scorer):
    """Trained on the histories, a user's clicked items outscore the rest on average."""
    data = tiny_world.dataset
    agent = TripletAgent(scorer=scorer, factors=8, hidden=16, epochs=30, batch_size=32)
    agent.fit(data, seed=0)
    users = np.arange(data.n_users)
    scores, seen = agent.scores(users), agent.seen.dense(users)
    assert scores[seen].mean() > scores[~seen].mean() + 0.5


@pytest.mark.parametrize("scorer", ["dot", "mlp"])
def test_recommendations_are_the_top_unseen_scores(tiny_world, scorer):
    agent = TripletAgent(scorer=scorer, hidden=8, **FAST)
    agent.fit(tiny_world.dataset, seed=0)
    users = np.arange(tiny_world.dataset.n_users)
    scores = agent.scores(users)
    scores[agent.seen.dense(users)] = -np.inf
    slates = agent.recommend(users, 5)
    np.testing.assert_allclose(np.take_along_axis(scores, slates, 1), -np.sort(-scores, axis=1)[:, :5])


@pytest.mark.parametrize("scorer", ["dot", "mlp"])
def test_save_load_restores_exactly_into_a_fresh_agent(tiny_world, tmp_path, scorer):
    agent = TripletAgent(scorer=scorer, hidden=8, **FAST)
    agent.fit(tiny_world.dataset, seed=0)
    users = np.arange(10)
    slates = agent.recommend(users, 5)
    agent.update(users, slates, np.where(users % 2 == 0, slates[:, 1], -1))
    agent.save(tmp_path)
    fresh = TripletAgent(scorer=scorer, hidden=8, **FAST)
    fresh.load(tmp_path)
    slates = fresh.recommend(users, 5)
    np.testing.assert_array_equal(slates, agent.recommend(users, 5))
    clicks = np.where(users % 3 == 0, slates[:, 0], -1)
    for twin in (agent, fresh):  # same state, same feedback: same learning (random positives are seeded)
        twin.update(users, slates, clicks)
    for old, new in zip(_state(agent), _state(fresh)):
        np.testing.assert_array_equal(old, new)


def test_a_checkpoint_of_another_shape_is_refused(tiny_world, tmp_path):
    agent = TripletAgent(**FAST)
    agent.fit(tiny_world.dataset, seed=0)
    agent.save(tmp_path)
    with pytest.raises(ValueError, match="scorer"):
        TripletAgent(scorer="mlp", **FAST).load(tmp_path)


def test_same_seed_same_recommendations(tiny_world):
    agents = [TripletAgent(**FAST) for _ in range(3)]
    for agent, seed in zip(agents, (5, 5, 6)):
        agent.fit(tiny_world.dataset, seed=seed)
    users = np.arange(tiny_world.dataset.n_users)
    np.testing.assert_array_equal(agents[0].item_factors, agents[1].item_factors)
    np.testing.assert_array_equal(agents[0].recommend(users, 5), agents[1].recommend(users, 5))
    assert not np.array_equal(agents[0].item_factors, agents[2].item_factors)


def test_dot_scorer_keys_give_the_scores(tiny_world):
    agent = TripletAgent(**FAST)
    agent.fit(tiny_world.dataset, seed=0)
    users = np.arange(5)
    np.testing.assert_allclose(agent.queries(users) @ agent.item_keys.T, agent.scores(users), rtol=1e-5)
    mlp = TripletAgent(scorer="mlp", hidden=4, **FAST)
    mlp.fit(tiny_world.dataset, seed=0)
    assert not hasattr(mlp, "item_keys")


def test_no_state_before_fit_or_load():
    with pytest.raises(RuntimeError, match="fit"):
        TripletAgent().recommend(np.arange(3), 5)


@pytest.mark.parametrize(("option", "value"), [("factors", 0), ("scorer", "cosine"), ("margin", -1.0),
                                               ("ignored_weight", np.nan), ("online_steps", True)])
def test_invalid_hyperparameters(option, value):
    with pytest.raises(ValueError, match=option):
        TripletAgent(**{option: value})
