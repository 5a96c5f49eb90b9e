"""FunkSVD: protocol, exact restore, reproducibility, and what online learning does to the scores."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from agents.checker import check_agent
from agents.funk_svd import _ADAM, FunkSVDAgent, _bpr_step, _tensorflow
from recsim_lab.data.seen import SeenItems
from recsim_lab.worlds.synthetic import SyntheticConfig, build_synthetic_world

FAST = dict(factors=8, epochs=3)
TRAINED = dict(factors=8, epochs=30, batch_size=64)  # about 600 Adam steps on the small world


@pytest.fixture(scope="module")
def small_world():
    return build_synthetic_world(SyntheticConfig(n_users=60, n_train_users=30, n_items=200, dim=8,
                                                 attractive_items=10), name="small-test")


@pytest.fixture(scope="module")
def fitted(small_world):
    agent = FunkSVDAgent(**TRAINED)
    agent.fit(small_world.dataset, seed=0)
    return agent


def _state(agent: FunkSVDAgent) -> list[np.ndarray]:
    return [agent.user_factors.copy(), agent.user_bias.copy(), agent.item_keys.copy(),
            agent.seen.bits.copy()]


def test_importing_the_module_does_not_import_tensorflow():
    code = "import sys, agents.funk_svd; print('tensorflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True
                          ).stdout.strip() == "False"


def test_passes_the_checker(small_world):
    check_agent(FunkSVDAgent(**FAST), small_world.dataset)


def test_recommendations_are_the_top_unseen_scores(fitted, small_world):
    users = small_world.dataset.users("test")
    slates = fitted.recommend(users, 5)
    assert slates.shape == (users.size, 5) and slates.dtype == np.int64
    assert slates.min() >= 0 and slates.max() < small_world.dataset.n_items
    assert (np.diff(np.sort(slates, axis=1), axis=1) > 0).all()
    seen = SeenItems.from_histories(small_world.dataset.histories, small_world.dataset.n_items)
    assert not seen.contains(users, slates).any()
    scores = fitted.scores(users)
    assert scores.shape == (users.size, small_world.dataset.n_items) and scores.dtype == np.float32
    masked = np.where(seen.dense(users), -np.inf, scores)
    fifth = -np.sort(-masked, axis=1)[:, 4]
    assert (np.take_along_axis(scores, slates, axis=1) >= fifth[:, None]).all()


def test_hybrid_interface_agrees_with_scores(fitted, small_world):
    users = np.array([0, 5, 9])
    items = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    scores = fitted.scores(users)
    np.testing.assert_allclose(fitted.scores_of(users, items), np.take_along_axis(scores, items, axis=1),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(fitted.scores_of(users, items[0]), scores[:, items[0]], rtol=1e-5, atol=1e-5)
    linear = fitted.queries(users) @ fitted.item_keys.T + fitted.user_bias[users, None]  # the linear form
    np.testing.assert_allclose(linear, scores, rtol=1e-5, atol=1e-5)


def test_training_ranks_history_items_above_others(fitted, small_world):
    scores = fitted.scores(np.arange(small_world.dataset.n_users))
    history = np.mean([scores[u, h].mean() for u, h in enumerate(small_world.dataset.histories) if h.size])
    assert history > scores.mean() + 1.0


def test_recommend_changes_no_state(fitted):
    before = _state(fitted)
    fitted.recommend(np.arange(20), 5)
    fitted.scores(np.arange(20))
    for old, new in zip(before, _state(fitted)):
        np.testing.assert_array_equal(old, new)


@pytest.mark.parametrize("world_name", ["small_world", "tiny_world"])  # tiny_world: factors still near 0
def test_a_click_raises_the_clicked_item_and_an_ignored_slate_lowers_the_shown_items(world_name, request):
    agent = FunkSVDAgent(**FAST)
    agent.fit(request.getfixturevalue(world_name).dataset, seed=0)
    users = np.array([3])
    slate = agent.recommend(users, 5)
    clicked = slate[:, 2]
    before = agent.scores(users)[0, clicked[0]]
    agent.update(users, slate, clicked)
    assert agent.scores(users)[0, clicked[0]] > before
    slate = agent.recommend(users, 5)
    assert clicked[0] not in slate  # the clicked item is history now
    before = agent.scores(users)[0, slate[0]]
    agent.update(users, slate, np.array([-1]))
    assert (agent.scores(users)[0, slate[0]] < before).all()


def test_an_update_is_one_sgd_step_on_the_documented_loss(small_world):
    """The NumPy step equals an autodiff step of the slates' conditional-logit loss, except that the rows of
    item 12, shown to both users, step by their summed gradient over sqrt(2)."""
    import tensorflow as tf

    agent = FunkSVDAgent(factors=4, epochs=2, online_learning_rate=0.3)
    agent.fit(small_world.dataset, seed=1)
    # user 2 clicks 12 beside 10 and 11; user 7 ignores 12, 13 and 14
    users, slates, clicks = np.array([2, 7]), np.array([[10, 11, 12], [12, 13, 14]]), np.array([12, -1])
    params = [tf.Variable(x) for x in (agent.user_factors, agent.user_bias, agent.item_keys)]
    with tf.GradientTape() as tape:
        factors, bias, keys = params
        p, k = tf.gather(factors, users), tf.gather(keys, slates)  # (2, 4), (2, 3, 5)
        logits = tf.einsum("bd,bkd->bk", p, k[:, :, :-1]) + k[:, :, -1] + tf.gather(bias, users)[:, None]
        with_nothing = tf.concat([logits, tf.zeros((2, 1))], axis=1)  # the no-click option scores 0
        chosen = tf.constant([2, 3])  # user 2 picked position 2 (item 12); user 7 nothing
        penalty = 3 * tf.reduce_sum(p * p) + tf.reduce_sum(k[:, :, :-1] ** 2)
        loss = (tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(chosen, with_nothing))
                + agent.online_regularisation / 2 * penalty)
    steps = [agent.online_learning_rate * tf.convert_to_tensor(g).numpy() for g in tape.gradient(loss, params)]
    steps[2][12] /= np.sqrt(2)
    expected = [v.numpy() - step for v, step in zip(params, steps)]
    agent.update(users, slates, clicks)
    for array, want in zip((agent.user_factors, agent.user_bias, agent.item_keys), expected):
        np.testing.assert_allclose(array, want, rtol=1e-5, atol=1e-6)


def test_save_load_restores_exactly_into_a_fresh_agent(small_world, tmp_path):
    agent = FunkSVDAgent(**FAST)
    agent.fit(small_world.dataset, seed=0)
    users = np.arange(10)
    slates = agent.recommend(users, 5)
    agent.update(users, slates, np.where(users % 2 == 0, slates[:, 1], -1))
    agent.save(tmp_path)
    expected = agent.recommend(np.arange(60), 5)
    fresh = FunkSVDAgent(**FAST)
    fresh.load(tmp_path)
    np.testing.assert_array_equal(fresh.recommend(np.arange(60), 5), expected)
    slates = fresh.recommend(users, 5)
    clicks = np.where(users % 3 == 0, slates[:, 0], -1)
    for twin in (agent, fresh):  # same state, same feedback: same learning
        twin.update(users, slates, clicks)
    for old, new in zip(_state(agent), _state(fresh)):
        np.testing.assert_array_equal(old, new)


def test_same_seed_same_recommendations(small_world):
    agents = [FunkSVDAgent(**FAST) for _ in range(3)]
    for agent, seed in zip(agents, (5, 5, 6)):
        agent.fit(small_world.dataset, seed=seed)
    users = np.arange(60)
    np.testing.assert_array_equal(agents[0].item_keys, agents[1].item_keys)
    np.testing.assert_array_equal(agents[0].recommend(users, 5), agents[1].recommend(users, 5))
    assert not np.array_equal(agents[0].item_keys, agents[2].item_keys)


def test_no_state_before_fit_or_load():
    with pytest.raises(RuntimeError, match="fit"):
        FunkSVDAgent().recommend(np.arange(3), 5)


@pytest.mark.parametrize(("option", "value"), [("factors", 0), ("negatives", 1.5), ("learning_rate", -1.0),
                                               ("online_learning_rate", np.nan), ("online_steps", True)])
def test_invalid_hyperparameters(option, value):
    with pytest.raises(ValueError, match=option):
        FunkSVDAgent(**{option: value})


def test_warm_start_adam_matches_keras_adam_when_every_row_has_a_gradient():
    """The lazy Adam of the BPR step against ``tf.keras.optimizers.Adam`` on the documented BPR loss: with
    every row in every batch (repeats included) the two are the same optimiser; a row outside the batch
    does not move."""
    tf = _tensorflow()
    rng = np.random.default_rng(0)
    start = [rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal((5, 4)).astype(np.float32),
             rng.standard_normal(5).astype(np.float32)]
    lazy = [tf.Variable(x) for x in start]
    dense = [tf.Variable(x) for x in start]
    step = _bpr_step(lazy, learning_rate=0.05, regularisation=0.1)
    beta_1, beta_2, epsilon = _ADAM
    keras_adam = tf.keras.optimizers.Adam(learning_rate=0.05, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon)
    users = np.array([0, 1, 2, 1], dtype=np.int64)
    positives = np.array([0, 1, 2, 3], dtype=np.int64)
    negatives = np.array([[4, 1], [2, 4], [0, 3], [4, 0]], dtype=np.int64)  # every item, some twice
    for _ in range(4):
        with tf.GradientTape() as tape:  # sum_j softplus(s_uj - s_ui) + reg / 2 ((1 + n)|p_u|^2 + sum |q|^2)
            p = tf.gather(dense[0], users)
            items = np.concatenate([positives[:, None], negatives], axis=1)
            q = tf.gather(dense[1], items)
            scores = tf.einsum("bd,bmd->bm", p, q) + tf.gather(dense[2], items)
            penalty = 3 * tf.reduce_sum(p * p, axis=1) + tf.reduce_sum(q * q, axis=[1, 2])
            loss = tf.reduce_mean(tf.reduce_sum(tf.nn.softplus(scores[:, 1:] - scores[:, :1]), axis=1)
                                  + 0.1 / 2 * penalty)
        keras_adam.apply_gradients(zip([tf.convert_to_tensor(g) for g in tape.gradient(loss, dense)], dense))
        assert float(step(users, positives, negatives)) == pytest.approx(float(loss), rel=1e-5)
        for a, b in zip(lazy, dense):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
        assert not np.allclose(lazy[1].numpy(), start[1])  # the steps moved the factors
    untouched = lazy[1].numpy()[3].copy()
    step(np.array([0], dtype=np.int64), np.array([0], dtype=np.int64), np.array([[1, 2]], dtype=np.int64))
    np.testing.assert_array_equal(lazy[1].numpy()[3], untouched)  # lazy: item 3 was not in the batch
