"""The log-replay choice model by hand, on both step paths; futures stored in worlds; replay in the envs,
the oracle and the runner."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import HAND_ITEMS, HAND_USERS, hand_world

from agents.oracle import OracleAgent
from envs.batch_env import BatchSlateEnv
from envs.slate_env import SlateEnv
from recsim_lab.errors import DataFormatError
from recsim_lab.run.runner import RunConfig, run
from recsim_lab.sim.population import Population
from recsim_lab.worlds.world import Rules, World

FUTURES = ([4, 2, 5], [0])  # user 0: 4 first, then 2, then 5; user 1 (history [3]): 0
SLATE = [0, 1, 2, 3, 4]


def replay_world(rules: Rules | None = None, futures=FUTURES) -> World:
    hand = hand_world()
    return World(hand.dataset, HAND_USERS, HAND_ITEMS, rules=rules or Rules(choice="replay"), name="replay",
                 futures=[np.array(f, dtype=np.int64) for f in futures])


def both_paths(world, users=(0, 1)):
    batch, one = Population(world, np.array(users)), Population(world, np.array(users))

    def step_batch(user, slate, uniform=0.5):
        clicked, left = batch.respond(np.array([user]), batch.check([slate], 1), np.array([uniform]))
        return int(clicked[0]), bool(left[0])

    def step_one(user, slate, uniform=0.5):
        return one.respond_one(user, one.check_one(slate), uniform)

    return [(batch, step_batch), (one, step_one)]


PATHS = pytest.mark.parametrize("path", [0, 1], ids=["batched", "one-user"])


@PATHS
def test_clicks_the_earliest_remaining_future_item_whatever_the_draw(path):
    population, step = both_paths(replay_world())[path]
    assert step(0, SLATE, 0.999) == (4, False)  # 4 comes first in user 0's future, though 0 and 1 score higher
    assert population.patience[0] == 5.5  # p = 1 for a logged click: + min(0.5 * 1, 1)
    assert step(0, SLATE, 0.0) == (2, False)  # 4 left the future when clicked; 2 is next
    assert step(0, [2, 4, 5, 0, 1], 0.3) == (5, False)  # 2 and 4 are clicked already; 5 is last
    assert step(0, SLATE, 0.3) == (-1, False)  # the future is used up: no click
    assert population.patience[0] == 5.0 + 1.5 - 1.0
    assert population.clicks[0] == 3 and population.session_length[0] == 4


@PATHS
def test_no_click_without_a_future_item_in_the_slate(path):
    population, step = both_paths(replay_world())[path]
    assert step(1, [1, 2, 3, 4, 5], 0.0) == (-1, False)  # user 1's future is item 0 only
    assert population.patience[1] == 4.0
    assert step(1, [5, 4, 3, 2, 0], 0.7) == (0, False)


@PATHS
def test_patience_increment_is_capped_at_one(path):
    population, step = both_paths(replay_world(Rules(choice="replay", patience_increment_weight=3.0)))[path]
    step(0, SLATE)
    assert population.patience[0] == 6.0


@PATHS
def test_user_leaves_when_patience_runs_out_after_the_future(path):
    population, step = both_paths(replay_world())[path]
    assert step(1, SLATE) == (0, False)  # patience 5.5
    for _ in range(5):
        assert step(1, SLATE) == (-1, False)
    assert step(1, SLATE) == (-1, True)  # 5.5 - 6 <= 0
    assert population.session_length[1] == 7 and population.active_users.tolist() == [0]


def test_reset_restores_every_future():
    population = Population(replay_world(), np.array([0, 1]))
    assert population.respond_one(0, SLATE, 0.5) == (4, False)
    assert population.respond_one(0, SLATE, 0.5) == (2, False)
    population.reset()
    assert population.respond_one(0, SLATE, 0.5) == (4, False)
    batch = Population(replay_world(), np.array([0, 1]))
    batch.respond(np.array([0, 1]), np.array([SLATE, SLATE]), np.array([0.1, 0.9]))
    batch.reset()
    clicked, _ = batch.respond(np.array([0, 1]), np.array([SLATE, SLATE]), np.array([0.1, 0.9]))
    assert clicked.tolist() == [4, 0]


def random_replay_world(tiny_world, seed=0):
    """The tiny synthetic world with random futures outside each user's history, under replay."""
    rng = np.random.default_rng(seed)
    n_items = tiny_world.dataset.n_items
    futures = []
    for history in tiny_world.dataset.histories:
        unseen = np.setdiff1d(np.arange(n_items), history)
        futures.append(rng.choice(unseen, size=int(rng.integers(0, 30)), replace=False))
    return World(tiny_world.dataset, tiny_world.user_embeddings, tiny_world.item_embeddings,
                 rules=Rules(choice="replay"), name="tiny-replay", futures=futures)


def test_batched_and_one_user_paths_agree_on_random_steps(tiny_world):
    world = random_replay_world(tiny_world)
    rng = np.random.default_rng(3)
    users = world.dataset.users("test")
    batch, one = Population(world, users), Population(world, users)
    clicks = 0
    for _ in range(60):
        active = batch.active_users.copy()
        if active.size == 0:
            break
        rows = []  # up to 2 future items, then random ones
        for user in active.tolist():
            future = world.futures[user].tolist()
            picked = [future[j] for j in rng.permutation(len(future))[:2]]
            rows.append(list(dict.fromkeys(picked + rng.choice(world.dataset.n_items, 5, replace=False).tolist()))[:5])
        slates = np.array(rows, dtype=np.int64)
        uniforms = rng.random(active.size)
        clicked, left = batch.respond(active, batch.check(slates, active.size), uniforms)
        clicks += int((clicked >= 0).sum())
        for b, user in enumerate(active.tolist()):
            assert one.respond_one(user, one.check_one(slates[b]), float(uniforms[b])) == (clicked[b], left[b])
    assert clicks > 50
    np.testing.assert_array_equal(batch.patience, one.patience)
    np.testing.assert_array_equal(batch.seen.bits, one.seen.bits)


def test_only_future_items_are_ever_clicked_in_both_envs(tiny_world):
    world = random_replay_world(tiny_world, seed=1)
    futures = [set(f.tolist()) for f in world.futures]
    env = SlateEnv(world)
    user, _ = env.reset(seed=0)
    terminated = False
    while not terminated:
        user_served = int(user)
        user, reward, terminated, _, info = env.step(env.action_space.sample())
        assert info["user"] == user_served
        if info["clicked_item"] >= 0:
            assert info["clicked_item"] in futures[info["user"]]
    batch = BatchSlateEnv(world)
    users, _ = batch.reset(seed=0)
    rng = np.random.default_rng(0)
    terminated = False
    while not terminated:
        slates = np.stack([rng.choice(world.dataset.n_items, 5, replace=False) for _ in users])
        users, _, terminated, info = batch.step(slates)
        for user, item in zip(info["user"].tolist(), info["clicked_item"].tolist()):
            assert item < 0 or item in futures[user]


def test_the_oracle_replays_each_future_in_order(tiny_world):
    world = random_replay_world(tiny_world, seed=2)
    oracle = OracleAgent(world, depth=8)  # shallower than most futures: its ranking must deepen
    oracle.fit(world.dataset, seed=0)
    population = Population(world, world.dataset.users("test"))
    rng = np.random.default_rng(0)
    while population.n_active:
        active = population.active_users.copy()
        slates = oracle.recommend(active, 5)
        clicked, _ = population.respond(active, population.check(slates, active.size), rng.random(active.size))
        oracle.update(active, slates, clicked)
    lengths = np.array([f.size for f in world.futures])
    np.testing.assert_array_equal(population.clicks, lengths)  # every future item, none missed


def test_rules_and_worlds_validate_the_choice_model(tiny_world):
    with pytest.raises(ValueError, match="Rules.choice must be one of 'softmax', 'replay', got 'logit'"):
        Rules(choice="logit")
    with pytest.raises(ValueError, match="needs each user's held-out future"):
        tiny_world.with_choice("replay")
    assert tiny_world.with_choice(None) is tiny_world
    hand = hand_world()
    with pytest.raises(ValueError, match="future of user 1 has item 3, which is already in their visible history"):
        World(hand.dataset, HAND_USERS, HAND_ITEMS, futures=[np.array([0]), np.array([3])])
    with pytest.raises(ValueError, match="future of user 0 repeats item 2"):
        World(hand.dataset, HAND_USERS, HAND_ITEMS, futures=[np.array([2, 2]), np.array([], dtype=np.int64)])
    with pytest.raises(ValueError, match="future of user 0 has item id 6, outside 0..5"):
        World(hand.dataset, HAND_USERS, HAND_ITEMS, futures=[np.array([6]), np.array([0])])
    with pytest.raises(ValueError, match="one array per user"):
        World(hand.dataset, HAND_USERS, HAND_ITEMS, futures=[np.array([1])])


def test_futures_round_trip_through_world_directories(tmp_path, tiny_world):
    world = random_replay_world(tiny_world)
    loaded = World.load(world.save(tmp_path / "replay"))
    assert loaded.rules.choice == "replay"
    assert all(np.array_equal(a, b) for a, b in zip(loaded.futures, world.futures))
    with np.load(tmp_path / "replay" / "world.npz") as arrays:
        assert arrays["future_indptr"].tolist()[-1] == arrays["future_items"].size
    old = World.load(tiny_world.save(tmp_path / "old"))  # no futures: still a valid softmax world
    assert old.futures is None and old.rules.choice == "softmax"
    meta = json.loads((tmp_path / "old" / "world.json").read_text())
    meta["rules"]["choice"] = "replay"
    (tmp_path / "old" / "world.json").write_text(json.dumps(meta))
    with pytest.raises(DataFormatError, match="needs each user's held-out future"):
        World.load(tmp_path / "old")
    with np.load(tmp_path / "replay" / "world.npz") as arrays:
        kept = {name: arrays[name] for name in arrays.files if name != "future_items"}
    np.savez(tmp_path / "replay" / "world.npz", **kept)
    with pytest.raises(DataFormatError, match="future_indptr and future_items come together"):
        World.load(tmp_path / "replay")


def test_run_can_switch_a_world_to_replay(tmp_path, tiny_world):
    directory = random_replay_world(tiny_world).with_choice("softmax").save(tmp_path / "world")
    outcome = run(RunConfig(env=str(directory), agent="oracle", episodes=1, choice="replay", out=str(tmp_path),
                            progress=False))
    config = json.loads((outcome.directory / "config.json").read_text())
    assert config["choice"] == "replay" and config["world"]["rules"]["choice"] == "replay"
    assert outcome.summary["clicks"] == sum(f.size for f in World.load(directory).futures)
    with pytest.raises(ValueError, match="choice must be"):
        RunConfig(choice="greedy")
