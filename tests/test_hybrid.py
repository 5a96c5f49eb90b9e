"""The hybrid agent, with stand-in children whose scores are known."""

from __future__ import annotations

import numpy as np
import pytest
from test_content import HashingEncoder

from agents.checker import check_agent
from agents.helpers.ranking import top_k_unseen
from agents.hybrid import HybridAgent
from agents.popularity import PopularityAgent
from recsim_lab.data.seen import SeenItems


class Fixed(PopularityAgent):
    """A linear child whose score of item i for any user is ``table[i]`` (set per class below)."""

    table = np.zeros(0)

    @property
    def item_keys(self):
        return self.table[: self.seen.n_items, None].astype(np.float32)

    def queries(self, users):
        return np.ones((len(users), 1), dtype=np.float32)

    def scores(self, users):
        return self.queries(users) @ self.item_keys.T

    def scores_of(self, users, items):
        table = self.item_keys[:, 0]
        return np.tile(table[items], (users.size, 1)) if items.ndim == 1 else table[items]

    def recommend(self, users, k):
        return top_k_unseen(self.scores(users), users, self.seen, k)


class Rising(Fixed):
    table = np.arange(200, dtype=float)  # prefers high ids


class Falling(Fixed):
    table = -10.0 * np.arange(200, dtype=float)  # prefers low ids, on a 10x larger scale


class RandomLinear(Fixed):
    """A linear child with seeded random 3-d user queries and item keys: every user ranks differently."""

    seed = 0

    def fit(self, data, *, seed):
        super().fit(data, seed=seed)
        rng = np.random.default_rng(self.seed)
        self._queries = rng.standard_normal((data.n_users, 3)).astype(np.float32)
        self._keys = rng.standard_normal((data.n_items, 3)).astype(np.float32)

    @property
    def item_keys(self):
        return self._keys

    def queries(self, users):
        return self._queries[users]

    def scores_of(self, users, items):
        keys = self._keys[items]
        return self.queries(users) @ keys.T if items.ndim == 1 else np.einsum("bd,bcd->bc", self.queries(users), keys)

    def save(self, path):
        super().save(path)
        np.save(path / "queries.npy", self._queries)
        np.save(path / "keys.npy", self._keys)

    def load(self, path):
        super().load(path)
        self._queries, self._keys = np.load(path / "queries.npy"), np.load(path / "keys.npy")


class OtherRandomLinear(RandomLinear):
    seed = 1


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


LINEAR = ("test_hybrid:RandomLinear", "test_hybrid:OtherRandomLinear")


def test_the_retrieved_blend_equals_the_full_row_blend_when_every_item_is_retrieved(tiny_world, monkeypatch):
    data, users = tiny_world.dataset, np.arange(tiny_world.dataset.n_users)
    full = HybridAgent(children=LINEAR, weights=(0.7, 0.3))
    full.fit(data, seed=0)
    expected = full.recommend(users, 5)
    monkeypatch.setattr("agents.hybrid.FULL_ROW_ITEMS", 0)  # a "large" catalogue: retrieve, then re-score
    retrieved = HybridAgent(children=LINEAR, weights=(0.7, 0.3), candidates=data.n_items)
    retrieved.fit(data, seed=0)
    assert retrieved.index is not None
    np.testing.assert_array_equal(retrieved.recommend(users, 5), expected)


class Souring(RandomLinear):
    """Every item it shows drops far below the rest, as an ignored slate lowers its items."""

    def update(self, users, slates, clicks):
        super().update(users, slates, clicks)
        self._keys[np.unique(slates)] = -100.0


@pytest.mark.parametrize("exact", [True, False])
def test_the_joint_index_follows_the_keys_of_every_item_shown(exact, tiny_world, monkeypatch):
    """With 5 candidates per user (10 retrieved), an index that still held the shown items at their old keys
    would offer them again and nothing else; refreshed, it offers the next best items."""
    monkeypatch.setattr("agents.hybrid.FULL_ROW_ITEMS", 0)
    monkeypatch.setattr("agents.helpers.retrieval.EXACT_BELOW", 0 if not exact else 10**6)
    agent = HybridAgent(children=("test_hybrid:Souring", "test_hybrid:OtherRandomLinear"), weights=(1.0, 0.0),
                        candidates=5, nprobe=64)
    agent.fit(tiny_world.dataset, seed=0)
    users = np.array([0])
    first = agent.recommend(users, 5)
    agent.update(users, first, np.array([-1]))
    second = agent.recommend(users, 5)
    souring = agent.agents[0]
    unseen = np.setdiff1d(np.arange(tiny_world.dataset.n_items), np.concatenate([tiny_world.dataset.histories[0],
                                                                                   first[0]]))
    expected = unseen[np.argsort(-(souring._queries[0] @ souring._keys[unseen].T), kind="stable")[:5]]
    assert not np.isin(second, first).any()
    assert sorted(second[0].tolist()) == sorted(expected.tolist())


def test_the_approximate_joint_index_is_kept_in_the_checkpoint(tiny_world, monkeypatch, tmp_path):
    monkeypatch.setattr("agents.hybrid.FULL_ROW_ITEMS", 0)
    monkeypatch.setattr("agents.helpers.retrieval.EXACT_BELOW", 0)  # faiss, even for 120 items
    agent = HybridAgent(children=LINEAR, candidates=20)
    agent.fit(tiny_world.dataset, seed=0)
    assert not agent.index.exact
    users = np.arange(tiny_world.dataset.n_users)
    expected = agent.recommend(users, 5)
    agent.save(tmp_path)
    assert (tmp_path / "index.npy").is_file()
    fresh = HybridAgent(children=LINEAR, candidates=20)
    fresh.load(tmp_path)
    np.testing.assert_array_equal(fresh.recommend(users, 5), expected)


@pytest.mark.parametrize("mode", ["slots", "blend"])
def test_hybrid_passes_the_checker(mode, tiny_world):
    check_agent(HybridAgent(children=("test_hybrid:Rising", "popularity") if mode == "slots"
                            else ("test_hybrid:Rising", "test_hybrid:Falling"), mode=mode), tiny_world.dataset)


def test_child_options_and_the_encoder_go_on_top_of_the_tuned_options(tmp_path):
    agent = HybridAgent(child_options={"content": {"decay": 0.9}}, encoder=str(tmp_path))
    content = agent.agents[1]
    assert (content.decay, content.encoder) == (0.9, str(tmp_path))
    assert (content.ignore_penalty, content.passed_penalty) == (0.0, 0.0)  # the tuned blend options stay
    assert HybridAgent(mode="slots").agents[1].ignore_penalty == 1.0  # tuned for the blend only
    with pytest.raises(ValueError, match="none of the children .* takes an encoder"):
        HybridAgent(children=("funk_svd", "popularity"), mode="slots", encoder=str(tmp_path))


@pytest.mark.parametrize(("options", "message"), [
    ({"mode": "mix"}, "mode must be one of 'slots', 'blend', got 'mix' (str)"),
    ({"weights": (1.0,)}, "weights must have one entry per child (2)"),
    ({"weights": (1.0, float("nan"))}, "weights[1] must be a float, got nan (float)"),
    ({"candidates": 0}, "candidates must be an integer in [1, inf), got 0 (int)"),
    ({"nprobe": 2.5}, "nprobe must be an integer in [1, inf), got 2.5 (float)"),
    ({"mode": "slots", "slots": (5,)}, "slots must have one non-negative entry per child (2)"),
    ({"children": ("test_hybrid:Rising", "popularity")}, "mode='blend' needs children with scores(), scores_of()"),
    ({"child_options": {"content": {}}, "children": ("test_hybrid:Rising", "test_hybrid:Falling")},
     "child_options names ['content']"),
])
def test_invalid_options(options, message):
    with pytest.raises(ValueError) as error:
        HybridAgent(**{"children": ("test_hybrid:Rising", "test_hybrid:Falling"), **options})
    assert message in str(error.value)


@pytest.mark.parametrize("path", ["full rows", "joint index"])
def test_the_default_children_blend_check_and_restore_on_either_path(path, tiny_world, monkeypatch, tmp_path):
    if path == "joint index":
        monkeypatch.setattr("agents.hybrid.FULL_ROW_ITEMS", 0)
    options = {"funk_svd": {"epochs": 2},
               "content": {"encoder": HashingEncoder(), "show_progress": False, "cache_dir": str(tmp_path / "cache")}}
    check_agent(HybridAgent(child_options=options), tiny_world.dataset)
    data, users = tiny_world.dataset, np.arange(tiny_world.dataset.n_users)
    agent = HybridAgent(child_options=options)
    agent.fit(data, seed=0)
    slates = agent.recommend(users, 5)
    agent.update(users, slates, np.where(users % 2 == 0, slates[:, 1], -1))
    agent.save(tmp_path / "checkpoint")
    expected = agent.recommend(users, 5)
    history = SeenItems.from_histories(data.histories, data.n_items)
    history.add(users, np.where(users % 2 == 0, slates[:, 1], -1))
    assert not history.contains(users, expected).any()
    assert (np.sort(expected, axis=1)[:, 1:] != np.sort(expected, axis=1)[:, :-1]).all()
    fresh = HybridAgent(child_options=options)
    fresh.load(tmp_path / "checkpoint")
    np.testing.assert_array_equal(fresh.recommend(users, 5), expected)


def test_fit_chooses_the_blend_whose_replayed_sessions_find_the_held_out_clicks(tmp_path):
    """Every user's history ends with item 0 (held out in fit); the visible part is items 36-39. Falling
    ranks low ids first, so its first slate [0, 1, 2, 3, 4] holds item 0: one click in the 20 replayed
    slates, 0.05 per user-step. Rising ranks high ids first and never shows item 0: 0. Standardised, the two
    are exact opposites, so a blend ranks like Falling when Falling weighs more, like Rising when Rising
    does (at 0.5 / 0.5 every item ties)."""
    from recsim_lab.data import Dataset

    data = Dataset(headlines=[f"item {i}" for i in range(40)], descriptions=[""] * 40, categories=[""] * 40,
                   histories=[np.array([36, 37, 38, 39, 0])] * 10, n_train_users=5)
    agent = HybridAgent(children=("test_hybrid:Rising", "test_hybrid:Falling"), adapt=False)
    agent.fit(data, seed=0)
    rates = {blend: rate for blend, rate in agent.replay_rates.items() if blend[0] != blend[1]}
    assert len(rates) == 10
    for (rising, falling), rate in rates.items():
        assert rate == pytest.approx(0.05 if falling > rising else 0.0)
    assert agent.blend[1] > agent.blend[0]
    users = np.arange(10)
    assert not np.isin(agent.recommend(users, 5), [0, 36, 37, 38, 39]).any()  # refitted on the whole history
    np.testing.assert_array_equal(agent.recommend(users, 5), agent.agents[1].recommend(users, 5))
    agent.save(tmp_path)
    fresh = HybridAgent(children=("test_hybrid:Rising", "test_hybrid:Falling"), adapt=False)
    fresh.load(tmp_path)  # the checkpoint carries the choice
    assert (fresh.blend, fresh.replay_rates) == (agent.blend, agent.replay_rates)
    np.testing.assert_array_equal(fresh.recommend(users, 5), agent.recommend(users, 5))


@pytest.mark.parametrize("adapt", [True, False])
def test_online_the_blends_that_earn_clicks_are_played_more(adapt, tmp_path):
    """The same world as above: fit chooses a blend that ranks like Falling (low ids first). Online, users
    click only slates that rank like Rising (high ids first), which is one of the arms (Rising alone): after
    a few steps Thompson sampling plays it for nearly every user; without ``adapt``, never."""
    from recsim_lab.data import Dataset

    data = Dataset(headlines=[f"item {i}" for i in range(40)], descriptions=[""] * 40, categories=[""] * 40,
                   histories=[np.array([36, 37, 38, 39, 0])] * 200, n_train_users=100)
    agent = HybridAgent(children=("test_hybrid:Rising", "test_hybrid:Falling"), adapt=adapt)
    agent.fit(data, seed=0)
    assert agent.arms == ((agent.blend, (1.0, 0.0), (0.0, 1.0)) if adapt else (agent.blend,))
    users = np.arange(200)
    rising = []
    for _ in range(8):
        slates = agent.recommend(users, 5)
        liked = slates[:, 0] >= 20  # Rising's slate starts at the highest unseen id
        agent.update(users, slates, np.where(liked, slates[:, 0], -1))
        rising.append(liked.mean())
    if adapt:
        assert rising[0] == pytest.approx(1 / 3, abs=0.1)  # the arms are drawn alike at first
        assert min(rising[-3:]) >= 0.9
        assert agent.bandit.clicks[1].sum() == sum(rising) * 200 and agent.bandit.clicks[[0, 2]].sum() == 0
        agent.save(tmp_path)
        fixed = HybridAgent(children=("test_hybrid:Rising", "test_hybrid:Falling"), adapt=False)
        fixed.load(tmp_path)  # adapt=False plays the fitted blend, whatever the checkpoint's arms
        assert (fixed.arms, fixed.bandit) == ((agent.blend,), None)
    else:
        assert max(rising) == 0


def test_the_children_choose_their_settings_once(tiny_world, monkeypatch, tmp_path):
    """The content child chooses its prior in the hybrid's fit on the visible data, and keeps that choice for
    its fit on the whole histories, instead of holding out and replaying again."""
    import agents.content

    choices = []
    choose = agents.content.choose_in_fit

    def counted(*args, **kwargs):
        choices.append(args[0])
        return choose(*args, **kwargs)

    monkeypatch.setattr(agents.content, "choose_in_fit", counted)
    content = {"encoder": HashingEncoder(), "show_progress": False, "cache_dir": str(tmp_path)}
    agent = HybridAgent(child_options={"funk_svd": {"epochs": 2}, "content": content})
    agent.fit(tiny_world.dataset, seed=0)
    assert choices == [agent.agents[1]]
    assert agent.agents[1].popularity_weight is None  # given back: a new fit chooses again
    assert agent.agents[1].prior_weight in agents.content.PRIOR_WEIGHTS


def test_given_weights_skip_the_choice():
    agent = HybridAgent(children=("test_hybrid:Rising", "test_hybrid:Falling"), weights=(0.25, 0.75))
    from recsim_lab.data import Dataset

    data = Dataset(headlines=["a"] * 10, descriptions=[""] * 10, categories=[""] * 10,
                   histories=[np.array([9, 0])] * 3, n_train_users=3)
    agent.fit(data, seed=0)
    assert (agent.blend, agent.replay_rates) == ((0.25, 0.75), {})
