"""Two-tower agent: protocol, exact restore, reproducibility, and the online user-side step by hand.

Text features use a bag-of-words stand-in encoder (no torch model), as in ``tests/test_content.py``.
"""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from conftest import HashingEncoder

from agents.checker import check_agent
from agents.two_tower import TwoTowerAgent
from recsim_lab.data import Dataset

FAST = dict(factors=8, hidden=8, epochs=2, batch_size=32, negatives=16)



pytestmark = pytest.mark.usefixtures("private_embedding_cache")


def _fast(**options) -> TwoTowerAgent:
    return TwoTowerAgent(encoder=HashingEncoder(32), show_progress=False, text_dim=16, **{**FAST, **options})


def _by_hand() -> TwoTowerAgent:
    """Identity user tower (weights 0: q_u = mean of the history's keys + delta_u), keys k0 = (1, 0),
    k1 = (0, 1), k3 = (0, 2), the others 0, biases 0. User 0 has no clicks, user 1 clicked item 3."""
    data = Dataset(headlines=[f"item {i}" for i in range(6)], descriptions=[""] * 6, categories=["c"] * 6,
                   histories=[np.array([], np.int64), np.array([3], np.int64)], n_train_users=1)
    agent = TwoTowerAgent(factors=2, hidden=3, text=False, epochs=0, online_learning_rate=0.5,
                          ignored_weight=0.5)
    agent.fit(data, seed=0)
    agent.item_keys[:] = 0.0
    agent.item_keys[[0, 1, 3], :2] = [[1.0, 0.0], [0.0, 1.0], [0.0, 2.0]]
    for weights in (agent.w_1, agent.c_1, agent.w_2, agent.c_2):
        weights[:] = 0.0
    agent.history_sums[1] = [0.0, 2.0]
    return agent


def _state(agent: TwoTowerAgent) -> list[np.ndarray]:
    return [agent.item_keys.copy(), agent.w_1.copy(), agent.history_sums.copy(), agent.history_counts.copy(),
            agent.offsets.copy(), agent.seen.bits.copy()]


def test_importing_the_module_does_not_import_tensorflow():
    code = "import sys, agents.two_tower; print('tensorflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True
                          ).stdout.strip() == "False"


@pytest.mark.parametrize("text", [True, False])
def test_passes_the_checker(tiny_world, text):
    check_agent(_fast(text=text), tiny_world.dataset)


def test_a_click_steps_the_offset_on_the_slate_logit_and_refreshes_the_pooled_history():
    """User 0 (query 0) clicks item 0 in slate (0, 1): both logits are 0, so pi = (1/2, 1/2) and the
    gradient is pi0 k0 + pi1 k1 - k0 = (-1/2, 1/2); with rate 1/2, delta = (1/4, -1/4). The click joins
    the history, whose mean is now k0 = (1, 0), so the query is (1.25, -0.25): item 0 scores 1.25 (from 0),
    item 1 -0.25 (from 0)."""
    agent = _by_hand()
    agent.update(np.array([0]), np.array([[0, 1]]), np.array([0]))
    np.testing.assert_allclose(agent.offsets[0], [0.25, -0.25])
    np.testing.assert_allclose(agent.queries(np.array([0]))[0], [1.25, -0.25, 1.0])
    np.testing.assert_allclose(agent.scores(np.array([0]))[0, :2], [1.25, -0.25])
    assert agent.history_counts[0] == 1 and agent.seen.contains(np.array([0]), np.array([[0]]))[0, 0]


def test_an_ignored_slate_pushes_the_query_away_from_the_shown_items():
    """User 1 (query k3 = (0, 2)) ignores slate (0, 1): logits (0, 2), pi = (1, e^2) / (1 + e^2); the
    gradient is ignored_weight * (pi0 k0 + pi1 k1), so item j's score falls by rate * 0.5 * pi_j = pi_j / 4
    (k0 and k1 are orthonormal); the history is unchanged."""
    agent = _by_hand()
    before = agent.scores(np.array([1]))[0]
    agent.update(np.array([1]), np.array([[0, 1]]), np.array([-1]))
    pi = np.array([1.0, math.exp(2.0)]) / (1.0 + math.exp(2.0))
    np.testing.assert_allclose(agent.scores(np.array([1]))[0, :2] - before[:2], -pi / 4, rtol=1e-5)
    np.testing.assert_allclose(agent.history_sums[1], [0.0, 2.0])
    assert agent.history_counts[1] == 1


def test_the_warm_start_learns_to_predict_a_held_back_click():
    """Two groups of users, each clicking within its own half of the catalogue: after training, every
    user's best unseen items are in their group's half (the leave-one-out pooling had to learn it)."""
    rng = np.random.default_rng(0)
    histories = [rng.choice(20, 6, replace=False) + 20 * (u % 2) for u in range(40)]
    data = Dataset(headlines=[f"item {i}" for i in range(40)], descriptions=[""] * 40, categories=["c"] * 40,
                   histories=histories, n_train_users=20)
    agent = TwoTowerAgent(factors=8, hidden=8, text=False, epochs=40, batch_size=32, negatives=8,
                          learning_rate=0.02)
    agent.fit(data, seed=0)
    slates = agent.recommend(np.arange(40), 5)
    assert ((slates >= 20) == (np.arange(40) % 2 == 1)[:, None]).all()


def test_recommendations_are_the_top_unseen_scores(tiny_world):
    agent = _fast()
    agent.fit(tiny_world.dataset, seed=0)
    users = np.arange(tiny_world.dataset.n_users)
    scores = agent.scores(users)
    np.testing.assert_allclose(scores, agent.queries(users) @ agent.item_keys.T)
    scores[agent.seen.dense(users)] = -np.inf
    slates = agent.recommend(users, 5)
    np.testing.assert_allclose(np.take_along_axis(scores, slates, 1), -np.sort(-scores, axis=1)[:, :5],
                               rtol=1e-6)


def test_save_load_restores_exactly_into_a_fresh_agent(tiny_world, tmp_path):
    agent = _fast()
    agent.fit(tiny_world.dataset, seed=0)
    users = np.arange(10)
    slates = agent.recommend(users, 5)
    agent.update(users, slates, np.where(users % 2 == 0, slates[:, 1], -1))
    agent.save(tmp_path)
    fresh = _fast()
    fresh.load(tmp_path)
    slates = fresh.recommend(users, 5)
    np.testing.assert_array_equal(slates, agent.recommend(users, 5))
    clicks = np.where(users % 3 == 0, slates[:, 0], -1)
    for twin in (agent, fresh):
        twin.update(users, slates, clicks)
    for old, new in zip(_state(agent), _state(fresh)):
        np.testing.assert_array_equal(old, new)


def test_same_seed_same_recommendations(tiny_world):
    agents = [_fast() for _ in range(3)]
    for agent, seed in zip(agents, (5, 5, 6)):
        agent.fit(tiny_world.dataset, seed=seed)
    users = np.arange(tiny_world.dataset.n_users)
    np.testing.assert_array_equal(agents[0].item_keys, agents[1].item_keys)
    np.testing.assert_array_equal(agents[0].recommend(users, 5), agents[1].recommend(users, 5))
    assert not np.array_equal(agents[0].item_keys, agents[2].item_keys)


def test_text_changes_the_item_keys(tiny_world):
    with_text, without = _fast(epochs=0), _fast(epochs=0, text=False)
    for agent in (with_text, without):
        agent.fit(tiny_world.dataset, seed=0)
    assert not np.allclose(with_text.item_keys, without.item_keys)


def test_no_state_before_fit_or_load():
    with pytest.raises(RuntimeError, match="fit"):
        TwoTowerAgent(text=False).recommend(np.arange(3), 5)


@pytest.mark.parametrize(("option", "value"), [("factors", 0), ("text", 1), ("text_dim", 0),
                                               ("ignored_weight", -1.0), ("online_steps", True)])
def test_invalid_hyperparameters(option, value):
    with pytest.raises(ValueError, match=option):
        TwoTowerAgent(**{option: value, **({} if option == "text" else {"text": False})})
