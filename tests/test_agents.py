"""The built-in baselines and the agent checker."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import hand_world

from agents.checker import AgentCheckError, check_agent
from agents.helpers.ranking import random_unseen
from agents.oracle import OracleAgent
from agents.popularity import PopularityAgent
from agents.random import RandomAgent
from agents.registry import load_agent_class, make_agent
from recsim_lab.data import Dataset
from recsim_lab.data.seen import SeenItems
from recsim_lab.worlds.world import World


@pytest.mark.parametrize("name", ["random", "popularity", "oracle"])
def test_builtin_agents_pass_the_checker(name, tiny_world):
    agent = make_agent(name, world=tiny_world)
    check_agent(agent, tiny_world.dataset)


@pytest.mark.parametrize("name", ["random", "popularity", "oracle"])
def test_recommendations_are_distinct_and_outside_the_history(name, tiny_world):
    agent = make_agent(name, world=tiny_world)
    agent.fit(tiny_world.dataset, seed=0)
    users = tiny_world.dataset.users("test")
    slates = agent.recommend(users, 5)
    seen = SeenItems.from_histories(tiny_world.dataset.histories, tiny_world.dataset.n_items)
    assert slates.shape == (users.size, 5)
    assert (np.sort(slates, axis=1)[:, 1:] != np.sort(slates, axis=1)[:, :-1]).all()
    assert not seen.contains(users, slates).any()
    clicks = slates[:, 2]
    agent.update(users, slates, clicks)
    assert not (agent.recommend(users, 5) == clicks[:, None]).any()  # a clicked item joins the history


def test_oracle_shows_the_best_unseen_items_by_hand():
    world = hand_world()
    oracle = OracleAgent(world)
    oracle.fit(world.dataset, seed=0)
    # user 0 scores: [1.7, 1.8, 0, 0, 1.6, 0]; user 1: [0, 0, 0, 2.0 (clicked before), 0, 0]
    slates = oracle.recommend(np.array([0, 1]), 3)
    assert slates[0].tolist() == [1, 0, 4]
    assert 3 not in slates[1].tolist()  # user 1's best item is in their history; the rest tie at 0
    oracle.update(np.array([0]), slates[:1], np.array([1]))
    assert oracle.recommend(np.array([0]), 2)[0].tolist() == [0, 4]


def three_user_dataset(histories) -> Dataset:
    """6 items, one user per history (popularity sees only the visible data, so no world is needed)."""
    return Dataset(headlines=[f"item {i}" for i in range(6)], descriptions=[""] * 6, categories=["c"] * 6,
                   histories=[np.array(h, dtype=np.int64) for h in histories], n_train_users=1)


def test_popularity_ranks_by_clicks_and_learns_from_them():
    agent = PopularityAgent()
    agent.fit(three_user_dataset(([1, 2], [2, 4], [])), seed=0)  # counts: item 2 twice, items 1 and 4 once
    assert agent.recommend(np.array([2]), 4)[0].tolist() == [2, 1, 4, 0]  # ties broken by lower id
    assert agent.recommend(np.array([0]), 3)[0].tolist() == [4, 0, 3]
    # Users 0 and 1 both click item 5 in one batch: its count becomes 2 (both clicks count), tying item 2.
    agent.update(np.array([1, 0]), np.array([[3, 5, 0], [3, 5, 0]]), np.array([5, 5]))
    assert agent.recommend(np.array([2]), 3)[0].tolist() == [2, 5, 1]
    assert agent.recommend(np.array([1]), 3)[0].tolist() == [1, 0, 3]  # 5 is now in user 1's history
    # A slate with no click (-1) counts for no item (not the last item, as index -1 would).
    agent.update(np.array([2]), np.array([[0, 3, 4]]), np.array([-1]))
    assert agent.recommend(np.array([2]), 3)[0].tolist() == [2, 5, 1]
    agent.update(np.array([2]), np.array([[1, 3, 4]]), np.array([1]))
    assert agent.recommend(np.array([2]), 3)[0].tolist() == [2, 5, 4]  # item 1 is user 2's history now
    agent.update(np.array([2]), np.array([[0, 3, 4]]), np.array([0]))
    assert agent.recommend(np.array([0]), 3)[0].tolist() == [0, 4, 3]  # items 0 and 4 at one click each
    agent.update(np.array([2]), np.array([[3, 4, 5]]), np.array([4]))
    assert agent.recommend(np.array([0]), 3)[0].tolist() == [4, 0, 3]  # item 4 now at two clicks


def test_random_agent_is_reproducible_and_covers_the_catalogue(tiny_world):
    a, b = RandomAgent(), RandomAgent()
    a.fit(tiny_world.dataset, seed=3)
    b.fit(tiny_world.dataset, seed=3)
    users = np.arange(40)
    np.testing.assert_array_equal(a.recommend(users, 5), b.recommend(users, 5))
    a.update(users[:1], a.recommend(users[:1], 5), np.array([-1]))
    assert not np.array_equal(a.recommend(users, 5), b.recommend(users, 5))  # an update moves the stream on
    counts = np.bincount(a.recommend(users, 5).ravel(), minlength=120)
    assert (counts > 0).sum() > 70  # 200 draws over ~115 unseen items: about 94 distinct expected


class Broken(PopularityAgent):
    """A popularity agent with one fault switched on."""

    def __init__(self, fault: str) -> None:
        super().__init__()
        self.fault = fault

    def recommend(self, users, k):
        slates = super().recommend(users, k)
        if self.fault == "shape":
            return slates[:, :-1]
        if self.fault == "repeat":
            slates[:, 1] = slates[:, 0]
        if self.fault == "range":
            slates[0, 0] = 10_000
        if self.fault == "float":
            return slates.astype(float)
        if self.fault == "learns":
            self.counts[0] += 1
        return slates

    def load(self, path: Path) -> None:
        if self.fault != "no-restore":
            super().load(path)


@pytest.mark.parametrize(("fault", "message"), [
    ("shape", "recommend(users, k) returned shape (8, 4), expected (8, 5)"),
    ("repeat", "recommend(users, k) returned a slate with a repeated item"),
    ("range", "recommend(users, k) returned item ids outside 0..119"),
    ("float", "recommend(users, k) returned dtype float64, expected integer item ids"),
    ("learns", "recommend() changed the saved state: only update() may learn"),
    ("no-restore", "load() then save() does not reproduce the checkpoint"),
])
def test_checker_names_what_is_wrong(fault, message, tiny_world):
    with pytest.raises(AgentCheckError) as error:
        check_agent(Broken(fault), tiny_world.dataset)
    assert message in str(error.value)


def test_checker_reports_missing_methods(tiny_world):
    with pytest.raises(AgentCheckError, match=r"missing method\(s\) \['update', 'save', 'load'\]"):
        check_agent(type("Half", (), {"fit": lambda *a, **k: None, "recommend": lambda *a: None})(),
                    tiny_world.dataset)


def test_agent_names_and_paths(tmp_path):
    with pytest.raises(ValueError, match="unknown agent 'popularty'. Did you mean 'popularity'?"):
        load_agent_class("popularty")
    path = tmp_path / "mine.py"
    path.write_text("from agents.popularity import PopularityAgent\nclass Mine(PopularityAgent):\n    pass\n")
    assert load_agent_class(f"{path}:Mine").__name__ == "Mine"
    with pytest.raises(ValueError, match="unknown class in .*mine.py 'Mien'. Did you mean 'Mine'?"):
        load_agent_class(f"{path}:Mien")
    with pytest.raises(ValueError, match="agent file .*nothere.py' not found"):
        load_agent_class(f"{tmp_path}/nothere.py:Mine")
    assert load_agent_class("agents.random:RandomAgent") is RandomAgent
    with pytest.raises(ValueError, match="has no option\\(s\\) \\['factors'\\]"):
        make_agent("popularity", factors=3)
    with pytest.raises(ValueError, match="privileged"):
        make_agent("oracle")


def brute_force_best_unseen(world, user: int, seen: set[int], k: int) -> list[int]:
    """The k best items of ``user`` outside ``seen``, by float64 dot products sorted in full."""
    scores = world.user_embeddings[user].astype(np.float64) @ world.item_embeddings.astype(np.float64).T
    return [int(i) for i in np.argsort(-scores, kind="stable") if int(i) not in seen][:k]


@pytest.mark.parametrize("ranking_cells", [None, 12], ids=["deepens-to-the-catalogue", "capped-at-depth-4"])
def test_oracle_deepens_its_ranking_and_keeps_showing_the_true_next_best(ranking_cells, monkeypatch):
    """Depth 2 with k = 3 is exhausted at once; each user clicks one item of every slate until fewer than k
    unseen items are left. With the depth capped (12 cells / 3 users = 4), the full-catalogue path serves."""
    if ranking_cells is not None:
        monkeypatch.setattr("agents.oracle._RANKING_CELLS", ranking_cells)
    rng = np.random.default_rng(7)
    histories = ([], [5, 9], [0])
    dataset = Dataset(headlines=[f"item {i}" for i in range(16)], descriptions=[""] * 16, categories=["c"] * 16,
                      histories=[np.array(h, dtype=np.int64) for h in histories], n_train_users=1)
    world = World(dataset, rng.normal(size=(3, 4)), rng.normal(size=(16, 4)), name="deep")
    oracle = OracleAgent(world, depth=2)
    oracle.fit(dataset, seed=0)
    seen = [set(h) for h in histories]
    k, rounds = 3, 0
    while True:
        users = np.array([u for u in range(3) if 16 - len(seen[u]) >= k])
        if users.size == 0:
            break
        slates = oracle.recommend(users, k)
        for row, user in enumerate(users.tolist()):
            assert slates[row].tolist() == brute_force_best_unseen(world, user, seen[user], k), (rounds, user)
        position = rounds % k  # click the first, then the second, then the third item shown
        clicks = slates[:, position]
        oracle.update(users, slates, clicks)
        for user, item in zip(users.tolist(), clicks.tolist()):
            seen[user].add(item)
        rounds += 1
    assert rounds == 14  # user 0: 16 items, one click per round, stops at 2 unseen
    assert oracle.ranking.shape[1] == (16 if ranking_cells is None else 4)


def test_random_unseen_draws_whole_rankings_uniformly_and_quickly():
    rng = np.random.default_rng(0)
    seen = SeenItems.from_histories([np.arange(800), np.arange(5)], 1682)
    slates = random_unseen(rng, np.array([0, 1]), seen, 870)  # k near each user's unseen count (882, 1677)
    assert all(len(set(row)) == 870 for row in slates) and not (slates[0] < 800).any()
    small = SeenItems.from_histories([np.array([0])], 6)
    counts = np.bincount(np.concatenate([random_unseen(rng, np.array([0]), small, 4)[0] for _ in range(4000)]),
                         minlength=6)
    assert counts[0] == 0  # never the seen item; each of the 5 others with probability 4/5
    assert np.abs(counts[1:] / 4000 - 0.8).max() < 4 * np.sqrt(0.8 * 0.2 / 4000)
    # A whole ranking is a uniform order too: each of the 5 items heads it with probability 1/5 (the offline
    # harness scores a ranking by position, so an order that leans on item ids would bias random's AUC).
    wide = SeenItems.from_histories([np.array([0])], 400)  # the head of a 200-deep ranking: 1..199 half the time
    low = np.mean([random_unseen(rng, np.array([0]), wide, 200)[0, 0] < 200 for _ in range(2000)])
    assert abs(low - 199 / 399) < 4 * np.sqrt(0.25 / 2000)


def test_the_oracle_gives_slates_longer_than_its_ranking_depth(tiny_world):
    oracle = OracleAgent(world=tiny_world, depth=4)
    oracle.fit(tiny_world.dataset, seed=0)
    users = np.arange(3)
    slates = oracle.recommend(users, 50)  # the offline harness asks for whole rankings
    scores = tiny_world.user_embeddings[users] @ tiny_world.item_embeddings.T
    seen = SeenItems.from_histories(tiny_world.dataset.histories, tiny_world.dataset.n_items)
    scores[seen.dense(users)] = -np.inf
    expected = np.argsort(-scores, axis=1, kind="stable")[:, :50]
    assert slates.shape == (3, 50)
    assert np.allclose(np.take_along_axis(scores, slates, axis=1), np.take_along_axis(scores, expected, axis=1))
