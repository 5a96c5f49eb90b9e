"""FunkSVD: protocol, exact restore, and the direction of online learning."""

from __future__ import annotations

import numpy as np
import pytest

from agents.funk_svd import FunkSVDAgent
from recsim_lab.agent_checker import check_agent
from recsim_lab.seen import SeenItems

FAST = dict(factors=8, epochs=3)
TRAINED = dict(factors=8, epochs=40, batch_size=32)  # about 300 Adam steps on the tiny world


@pytest.fixture(scope="module")
def fitted(tiny_world):
    agent = FunkSVDAgent(**TRAINED)
    agent.fit(tiny_world.dataset, seed=0)
    return agent


def test_passes_the_checker(tiny_world):
    check_agent(FunkSVDAgent(**FAST), tiny_world.dataset)


def test_recommendations_skip_the_history_and_repeat_nothing(fitted, tiny_world):
    users = tiny_world.dataset.users("test")
    slates = fitted.recommend(users, 5)
    assert (np.diff(np.sort(slates, axis=1), axis=1) > 0).all()
    seen = SeenItems.from_histories(tiny_world.dataset.histories, tiny_world.dataset.n_items)
    assert not seen.contains(users, slates).any()
    expected = np.argsort(-np.where(seen.dense(users), -np.inf, fitted.scores(users)), axis=1, kind="stable")
    np.testing.assert_array_equal(np.sort(slates, axis=1), np.sort(expected[:, :5], axis=1))


def test_training_ranks_history_items_above_others(fitted, tiny_world):
    scores = fitted.scores(np.arange(tiny_world.dataset.n_users))
    history = np.mean([scores[u, h].mean() for u, h in enumerate(tiny_world.dataset.histories) if h.size])
    assert history > scores.mean() + 1.0


def test_a_click_raises_and_an_ignored_slate_lowers_the_score(tiny_world):
    agent = FunkSVDAgent(**FAST)
    agent.fit(tiny_world.dataset, seed=0)
    users = np.array([3])
    slate = agent.recommend(users, 5)
    before = agent.scores(users)[0, slate[0]]
    agent.update(users, slate, np.array([slate[0, 2]]))
    assert agent.scores(users)[0, slate[0, 2]] > before[2]
    slate = agent.recommend(users, 5)
    before = agent.scores(users)[0, slate[0]]
    agent.update(users, slate, np.array([-1]))
    assert (agent.scores(users)[0, slate[0]] < before).all()


def test_save_load_restores_exactly_into_a_fresh_agent(fitted, tiny_world, tmp_path):
    users = np.arange(10)
    fitted.save(tmp_path)
    expected = fitted.recommend(users, 5)
    fresh = FunkSVDAgent(**TRAINED)
    fresh.load(tmp_path)
    np.testing.assert_array_equal(fresh.recommend(users, 5), expected)
    slates = fresh.recommend(users, 5)
    twin = FunkSVDAgent(**TRAINED)
    twin.load(tmp_path)
    for agent in (fresh, twin):  # same state, same feedback: same learning (online negatives are seeded)
        agent.update(users, slates, np.where(users % 2 == 0, slates[:, 0], -1))
    np.testing.assert_array_equal(fresh.item_keys, twin.item_keys)


def test_same_seed_same_model(tiny_world):
    a, b = FunkSVDAgent(**FAST), FunkSVDAgent(**FAST)
    a.fit(tiny_world.dataset, seed=5)
    b.fit(tiny_world.dataset, seed=5)
    np.testing.assert_array_equal(a.item_keys, b.item_keys)


@pytest.mark.parametrize(("option", "value"), [("factors", 0), ("negatives", 1.5), ("learning_rate", -1.0),
                                               ("ignored_weight", np.nan)])
def test_invalid_hyperparameters(option, value):
    with pytest.raises(ValueError, match=option):
        FunkSVDAgent(**{option: value})
