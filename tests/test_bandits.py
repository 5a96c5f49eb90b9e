"""The bandit agents (epsilon_greedy, ucb1, thompson, lin_ucb, lin_ts) against values computed by hand on
worlds of two to five items. The linear ones get a stand-in encoder (no sentence model)."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from conftest import HashingEncoder

from agents.checker import check_agent
from agents.epsilon_greedy import EpsilonGreedyAgent
from agents.helpers.linear_bandit import sherman_morrison
from agents.lin_ts import LinTSAgent
from agents.lin_ucb import LinUCBAgent
from agents.registry import BUILTIN_AGENTS, load_agent_class
from agents.thompson import ThompsonAgent
from agents.ucb1 import UCB1Agent
from recsim_lab.data import Dataset

BANDITS = ("epsilon_greedy", "ucb1", "thompson", "lin_ucb", "lin_ts")


pytestmark = pytest.mark.usefixtures("private_embedding_cache")


def dataset(n_items: int, histories: list[list[int]]) -> Dataset:
    return Dataset(headlines=[f"item{i}" for i in range(n_items)], descriptions=[""] * n_items,
                   categories=[""] * n_items, histories=[np.array(h, dtype=np.int64) for h in histories],
                   n_train_users=len(histories))


class TableEncoder:
    """Item ``i``'s text ``"item<i> "`` encodes to ``table[i]``."""

    def __init__(self, table) -> None:
        self.table = np.asarray(table, dtype=np.float32)
        self.identity = f"test-table-{zlib.crc32(self.table.tobytes())}"

    def encode(self, texts: list[str]) -> np.ndarray:
        return self.table[[int(t.split()[0].removeprefix("item")) for t in texts]]



def one(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


# ------------------------------------------------------------------------------------ per-item bandits


def test_a_pull_is_a_shown_item_and_a_click_its_reward():
    agent = UCB1Agent()
    agent.fit(dataset(4, [[], [], []]), seed=0)
    agent.update(one(0, 1), np.array([[0, 1], [1, 2]]), one(1, -1))
    np.testing.assert_array_equal(agent.shows, [1, 2, 1, 0])
    np.testing.assert_array_equal(agent.clicks, [0, 1, 0, 0])
    assert agent.seen.contains(one(0), one(1)[None]).all()


def two_items_ucb(exploration: float) -> UCB1Agent:
    """Item 0 shown 3 times with 1 click, item 1 once without; 4 pulls in 3 updates (by users 1-3)."""
    agent = UCB1Agent(exploration=exploration)
    agent.fit(dataset(2, [[], [], [], []]), seed=0)
    agent.update(one(1, 2), np.array([[0], [1]]), one(0, -1))
    agent.update(one(3), np.array([[0]]), one(-1))
    agent.update(one(3), np.array([[0]]), one(-1))
    return agent


def test_ucb1_index_and_pick_on_two_items_by_hand():
    # t = 4 pulls: index_0 = 1/3 + sqrt(2 ln 4 / 3) = 1.29468, index_1 = 0 + sqrt(2 ln 4 / 1) = 1.66511
    np.testing.assert_allclose(two_items_ucb(1.0).index(), [1.294685, 1.665109], rtol=1e-5)
    assert two_items_ucb(1.0).recommend(one(0), 1)[0, 0] == 1  # the bonus outweighs item 0's higher rate
    assert two_items_ucb(0.5).recommend(one(0), 1)[0, 0] == 1  # 0.81401 < 0.83255
    assert two_items_ucb(0.3).recommend(one(0), 1)[0, 0] == 0  # 0.62172 > 0.49953


def test_ucb1_shows_every_item_once_most_popular_first():
    agent = UCB1Agent()
    agent.fit(dataset(3, [[2, 1], [2], []]), seed=0)  # history clicks: item 2 twice, item 1 once
    assert agent.recommend(one(2), 1)[0, 0] == 2
    agent.update(one(2), one(2)[None], one(-1))
    assert agent.recommend(one(2), 1)[0, 0] == 1  # never shown: infinite index, popularity breaks the tie
    agent.update(one(2), one(1)[None], one(-1))
    assert agent.recommend(one(2), 1)[0, 0] == 0
    assert (agent.recommend(one(0), 1) == 0).all()  # user 0 clicked items 1 and 2


def test_epsilon_greedy_ranks_by_click_rate_and_explores_at_rate_epsilon():
    data = dataset(2, [[]] * 4001)
    greedy = EpsilonGreedyAgent(epsilon=0.0)
    greedy.fit(data, seed=0)
    # item 0: 1 click in 3 shows (rate 1/3), item 1: 1 click in 2 shows (1/2); popularity would pick item 0
    greedy.update(one(4000, 3999), np.array([[0], [1]]), one(0, 1))
    greedy.update(one(3998, 3997), np.array([[0], [1]]), one(-1, -1))
    greedy.update(one(3996), np.array([[0]]), one(-1))
    np.testing.assert_allclose(greedy.estimate(), [1 / 3, 1 / 2])
    users = np.arange(3000, dtype=np.int64)
    assert (greedy.recommend(users, 1) == 1).all()
    explorer = EpsilonGreedyAgent(epsilon=0.4)
    explorer.fit(data, seed=0)
    explorer.shows, explorer.clicks = greedy.shows.copy(), greedy.clicks.copy()
    # a slot explores with probability 0.4 and then draws either item: item 0 with probability 0.2
    share = (explorer.recommend(users, 1)[:, 0] == 0).mean()
    assert abs(share - 0.2) < 0.03  # 4 standard deviations: sqrt(0.2 * 0.8 / 3000) = 0.0073


def test_epsilon_greedy_slates_keep_the_greedy_head_and_stay_distinct():
    agent = EpsilonGreedyAgent(epsilon=0.5)
    agent.fit(dataset(10, [[0]] * 500), seed=1)
    agent.update(one(0), np.array([[1, 2, 3]]), one(3))  # item 3 the best estimate, then by popularity: 0
    slates = agent.recommend(np.arange(500, dtype=np.int64), 3)
    assert (np.sort(slates, axis=1)[:, 1:] != np.sort(slates, axis=1)[:, :-1]).all()
    assert not (slates[1:] == 0).any()  # users 1.. clicked item 0
    full_greedy = (slates[1:, 0] == 3).mean()  # slot 0 keeps the best item unless every slot explores
    assert abs(full_greedy - (1 - 0.5 ** 3)) < 0.07


def test_thompson_posterior_after_known_clicks():
    agent = ThompsonAgent(prior_clicks=2.0, prior_misses=3.0)
    agent.fit(dataset(3, [[], [], []]), seed=0)
    agent.update(one(0, 1), np.array([[0, 1], [0, 2]]), one(0, -1))
    agent.update(one(2), np.array([[1, 0]]), one(1))
    alpha, beta = agent.posterior()
    np.testing.assert_array_equal(alpha, [3, 3, 2])  # 2 + clicks (1, 1, 0)
    np.testing.assert_array_equal(beta, [5, 4, 4])  # 3 + shows (3, 2, 1) - clicks (1, 1, 0)


def test_thompson_picks_each_item_with_its_posterior_probability():
    # Beta(2, 1) against Beta(1, 2): P(X0 > X1) = int_0^1 2x (2x - x^2) dx = 4/3 - 1/2 = 5/6
    agent = ThompsonAgent()
    agent.fit(dataset(2, [[]] * 4001), seed=0)
    agent.update(one(4000, 3999), np.array([[0], [1]]), one(0, -1))
    share = (agent.recommend(np.arange(3000, dtype=np.int64), 1)[:, 0] == 0).mean()
    assert abs(share - 5 / 6) < 0.03  # 4.4 standard deviations: sqrt(5/36 / 3000) = 0.0068


# --------------------------------------------------------------------------------------- linear bandits

# x0 = (1, 0), x1 = (0, 1), x2 = (0.6, 0.8), x3 = (0.8, 0.6), x4 = (-0.6, 0.8)
TABLE = [[1, 0], [0, 1], [0.6, 0.8], [0.8, 0.6], [-0.6, 0.8]]


def linear(cls, **options):
    """User 0 clicked item 0 before (history), then was shown items 1 and 2 and clicked 2."""
    agent = cls(encoder=TableEncoder(TABLE), dim=None, show_progress=False, **options)
    agent.fit(dataset(5, [[0], [1]]), seed=0)
    agent.update(one(0), np.array([[1, 2]]), one(2))
    return agent


def test_linear_state_by_hand_after_warm_start_and_one_slate():
    # A = I + x0 x0^T + x1 x1^T + x2 x2^T = [[2.36, 0.48], [0.48, 2.64]], det 6 -> A^-1 = [[2.64, -0.48],
    # [-0.48, 2.36]] / 6; b = x0 + x2 (the history click and the click); theta = A^-1 b = (0.64, 2.8/15)
    agent = linear(LinUCBAgent)
    np.testing.assert_allclose(agent.a_inv[0], [[0.44, -0.08], [-0.08, 2.36 / 6]], atol=1e-7)
    np.testing.assert_allclose(agent.b[0], [1.6, 0.8], atol=1e-7)
    np.testing.assert_allclose(agent.theta(one(0))[0], [0.64, 2.8 / 15], atol=1e-7)
    np.testing.assert_allclose(agent.a_inv[1], np.diag([1.0, 0.5]), atol=1e-7)  # user 1: history [1] only


def test_sherman_morrison_matches_a_direct_inverse():
    rng = np.random.default_rng(3)
    a = np.stack([np.eye(4) * 2.0 + m.T @ m for m in rng.standard_normal((3, 6, 4))])
    x = rng.standard_normal((3, 4))
    direct = np.linalg.inv(a + x[:, :, None] * x[:, None, :])
    np.testing.assert_allclose(sherman_morrison(np.linalg.inv(a), x), direct, rtol=1e-10, atol=1e-12)


def test_linear_updates_match_a_direct_inverse_over_many_slates():
    rng = np.random.default_rng(0)
    table = rng.standard_normal((30, 6))
    histories = [list(rng.choice(30, size=3, replace=False)) for _ in range(8)]
    agent = LinTSAgent(encoder=TableEncoder(table), dim=None, ridge=0.7, show_progress=False)
    agent.fit(dataset(30, histories), seed=0)
    x = (table / np.linalg.norm(table, axis=1, keepdims=True)).astype(np.float32).astype(np.float64)
    gram = [0.7 * np.eye(6) + x[h].T @ x[h] for h in histories]
    b = [x[h].sum(axis=0) for h in histories]
    for _ in range(6):
        users = np.sort(rng.choice(8, size=5, replace=False))
        slates = np.stack([rng.choice(30, size=4, replace=False) for _ in users])
        clicks = np.where(rng.random(5) < 0.5, slates[:, 1], -1)
        agent.update(users, slates, clicks)
        for user, slate, click in zip(users, slates, clicks, strict=True):
            gram[user] += x[slate].T @ x[slate]
            b[user] += x[click] if click >= 0 else 0
    np.testing.assert_allclose(agent.a_inv, np.linalg.inv(np.stack(gram)), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(agent.b, np.stack(b), atol=1e-6)


def test_a_user_twice_in_a_batch_is_updated_in_order():
    once = linear(LinUCBAgent)
    twice = linear(LinUCBAgent)
    once.update(one(1, 1), np.array([[3, 4], [0, 2]]), one(4, -1))
    for slate, click in (([3, 4], 4), ([0, 2], -1)):
        twice.update(one(1), np.array([slate]), one(click))
    np.testing.assert_allclose(once.a_inv, twice.a_inv)
    np.testing.assert_allclose(once.b, twice.b)


def test_history_negatives_add_reward_zero_pulls():
    plain = LinUCBAgent(encoder=TableEncoder(TABLE), dim=None, show_progress=False)
    plain.fit(dataset(5, [[0, 1], [1]]), seed=0)
    negatives = LinUCBAgent(encoder=TableEncoder(TABLE), dim=None, history_negatives=3, show_progress=False)
    negatives.fit(dataset(5, [[0, 1], [1]]), seed=0)
    # unit features: trace(A) = d * ridge + pulls; user 0 has 2 clicks and 6 negatives
    np.testing.assert_allclose(np.trace(np.linalg.inv(plain.a_inv[0])), 2 + 2)
    np.testing.assert_allclose(np.trace(np.linalg.inv(negatives.a_inv[0])), 2 + 2 + 6)
    np.testing.assert_allclose(negatives.b, plain.b)  # negatives add nothing to b


@pytest.mark.parametrize(("alpha", "pick"), [(0.0, 3), (1.0, 3), (7.0, 3), (9.0, 4)])
def test_lin_ucb_pick_by_hand(alpha, pick):
    # user 0 (seen 0 and 2): means x.theta 2.8/15, 0.624, -0.23467 and variances x^T A^-1 x 2.36/6, 0.3464,
    # 0.48693 for items 1, 3 and 4 (standard deviations 0.62716, 0.58856, 0.69780): item 4's larger bonus
    # overtakes item 3 above alpha = 7.86 (alpha 7: 4.7439 > 4.6499; alpha 9: 6.0455 > 5.9210)
    agent = linear(LinUCBAgent, alpha=alpha)
    expected = np.array([2.8 / 15, 0.624, -3.52 / 15]) + alpha * np.sqrt([2.36 / 6, 0.3464, 0.48693333])
    np.testing.assert_allclose(agent.scores(one(0))[0, [1, 3, 4]], expected, rtol=1e-5)
    assert agent.recommend(one(0), 1)[0, 0] == pick


def test_lin_ts_draws_follow_the_gaussian_posterior():
    agent = LinTSAgent(encoder=TableEncoder(TABLE), dim=None, scale=0.5, show_progress=False)
    agent.fit(dataset(5, [[0]] * 20000), seed=0)
    users = np.arange(20000, dtype=np.int64)
    agent.update(users, np.tile([1, 2], (20000, 1)), np.full(20000, 2))
    draws = agent.sample_theta(users)
    np.testing.assert_allclose(draws.mean(axis=0), [0.64, 2.8 / 15], atol=0.012)  # se 0.5 * sqrt(0.44 / 20000)
    covariance = np.cov(draws.T)  # 0.25 * A^-1 = [[0.11, -0.02], [-0.02, 0.09833]]
    np.testing.assert_allclose(covariance, [[0.11, -0.02], [-0.02, 0.59 / 6]], atol=0.006)
    greedy = linear(LinTSAgent, scale=0.0)
    assert greedy.recommend(one(0), 1)[0, 0] == 3  # the posterior mean's best item


# --------------------------------------------------------------------------------------- the protocol


@pytest.mark.parametrize("name", BANDITS)
def test_every_bandit_passes_check_agent_and_is_registered(name, tiny_world):
    cls = load_agent_class(name)
    agent = cls(encoder=HashingEncoder(32), show_progress=False) if name.startswith("lin_") else cls()
    check_agent(agent, tiny_world.dataset)
    assert name in BUILTIN_AGENTS


@pytest.mark.parametrize("name", ["epsilon_greedy", "thompson", "lin_ts"])
def test_exploration_restarts_from_the_seed_on_load(name, tiny_world, tmp_path):
    cls = load_agent_class(name)
    agent = cls(encoder=HashingEncoder(32), show_progress=False) if name.startswith("lin_") else cls()
    agent.fit(tiny_world.dataset, seed=7)
    agent.save(tmp_path)
    users = np.arange(tiny_world.dataset.n_users, dtype=np.int64)
    first = [agent.recommend(users, 5) for _ in range(3)]
    agent.load(tmp_path)
    again = [agent.recommend(users, 5) for _ in range(3)]
    np.testing.assert_array_equal(np.stack(first), np.stack(again))
    assert not np.array_equal(first[0], first[1])  # it does explore


@pytest.mark.parametrize(("cls", "options"), [
    (EpsilonGreedyAgent, {"epsilon": 1.5}), (UCB1Agent, {"exploration": -1.0}),
    (ThompsonAgent, {"prior_misses": 0.0}), (LinUCBAgent, {"alpha": -0.1}), (LinTSAgent, {"ridge": 0.0}),
    (LinTSAgent, {"history_negatives": 1.5}), (LinUCBAgent, {"dim": 0})])
def test_bad_hyperparameters_are_rejected(cls, options):
    if cls in (LinUCBAgent, LinTSAgent):
        options = {"encoder": HashingEncoder(32), **options}
    with pytest.raises(ValueError):
        cls(**options)
