"""The hybrid agent, with stand-in children whose scores are known."""

from __future__ import annotations

import numpy as np
import pytest

from agents.hybrid import HybridAgent
from agents.popularity import PopularityAgent
from recsim_lab.agent_checker import check_agent
from recsim_lab.ranking import top_k


class Fixed(PopularityAgent):
    """A child whose score of item i for any user is ``table[i]`` (set per class below)."""

    table = np.zeros(0)

    def scores(self, users):
        return np.tile(self.table[: self.seen.n_items], (users.size, 1)).astype(np.float32)

    def scores_of(self, users, items):
        table = self.table[: self.seen.n_items].astype(np.float32)
        return np.tile(table[items], (users.size, 1)) if items.ndim == 1 else table[items]

    def candidates(self, users, n):
        scores = self.scores(users)
        scores[self.seen.dense(users)] = -np.inf
        best = top_k(scores, min(n, scores.shape[1]))
        return np.where(np.take_along_axis(scores, best, axis=1) == -np.inf, -1, best)

    def recommend(self, users, k):
        return self.candidates(users, k)


class Rising(Fixed):
    table = np.arange(200, dtype=float)  # prefers high ids


class Falling(Fixed):
    table = -10.0 * np.arange(200, dtype=float)  # prefers low ids, on a 10x larger scale


def test_slots_take_shares_in_order_and_skip_duplicates(tiny_world):
    agent = HybridAgent(children=("test_hybrid:Rising", "test_hybrid:Falling"), mode="slots", slots=(2, 3))
    agent.fit(tiny_world.dataset, seed=0)
    users = np.array([0])
    rising, falling = agent.agents[0].recommend(users, 5)[0], agent.agents[1].recommend(users, 5)[0]
    assert agent.recommend(users, 5)[0].tolist() == rising[:2].tolist() + falling[:3].tolist()


def test_slots_fill_when_children_overlap(tiny_world):
    agent = HybridAgent(children=("test_hybrid:Rising", "test_hybrid:Rising"), mode="slots", slots=(2, 3))
    agent.fit(tiny_world.dataset, seed=0)
    users = np.arange(5)
    np.testing.assert_array_equal(agent.recommend(users, 5), agent.agents[0].recommend(users, 5))


def test_blend_standardises_each_child_before_weighting(tiny_world):
    # Rising and Falling are exact opposites once standardised, whatever their scales: with weights
    # (0.75, 0.25) the blend is 0.5 * standardised(Rising), so it ranks like Rising alone.
    agent = HybridAgent(children=("test_hybrid:Rising", "test_hybrid:Falling"), weights=(0.75, 0.25))
    agent.fit(tiny_world.dataset, seed=0)
    users = np.arange(10)
    np.testing.assert_array_equal(agent.recommend(users, 5), agent.agents[0].recommend(users, 5))
    flipped = HybridAgent(children=("test_hybrid:Rising", "test_hybrid:Falling"), weights=(0.25, 0.75))
    flipped.fit(tiny_world.dataset, seed=0)
    np.testing.assert_array_equal(flipped.recommend(users, 5), flipped.agents[1].recommend(users, 5))


@pytest.mark.parametrize("mode", ["slots", "blend"])
def test_hybrid_passes_the_checker(mode, tiny_world):
    check_agent(HybridAgent(children=("test_hybrid:Rising", "popularity") if mode == "slots"
                            else ("test_hybrid:Rising", "test_hybrid:Falling"), mode=mode), tiny_world.dataset)


@pytest.mark.parametrize(("options", "message"), [
    ({"mode": "mix"}, "mode must be one of ('slots', 'blend'), got 'mix'"),
    ({"weights": (1.0,)}, "weights must have one entry per child (2)"),
    ({"mode": "slots", "slots": (5,)}, "slots must have one non-negative entry per child (2)"),
    ({"children": ("test_hybrid:Rising", "popularity")}, "mode='blend' needs children with scores(), candidates()"),
    ({"child_options": {"content": {}}, "children": ("test_hybrid:Rising", "test_hybrid:Falling")},
     "child_options names ['content']"),
])
def test_invalid_options(options, message):
    with pytest.raises(ValueError) as error:
        HybridAgent(**{"children": ("test_hybrid:Rising", "test_hybrid:Falling"), **options})
    assert message in str(error.value)
