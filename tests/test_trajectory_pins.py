"""Pinned trajectories: every step of both envs, hashed, against digests recorded before the env was sped up.

The digests were computed on commit bc87cff (before the one-user and batched steps were rewritten for
speed); a faster step must reproduce every served user, click, departure and session length bit for bit.
A changed digest means a changed result, not a flaky test: the envs are deterministic given the seed.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

import numpy as np
import pytest

from agents.oracle import OracleAgent
from envs.batch_env import BatchSlateEnv
from envs.slate_env import SlateEnv
from recsim_lab.worlds.presets import make_world
from recsim_lab.worlds.world import World


def _digest(rows: list[tuple]) -> str:
    return hashlib.sha256(np.array(rows, dtype=np.float64).tobytes()).hexdigest()[:16]


def one_user_digest(world: World, seed: int, steps: int, oracle_every: int) -> str:
    """Play ``steps`` one-user steps (resetting with ``seed + episode`` after each episode); every
    ``oracle_every``-th slate is the oracle's (so users click and stay), the rest are uniformly random."""
    env, rng = SlateEnv(world), np.random.default_rng(seed)
    oracle = OracleAgent(world)
    oracle.fit(world.dataset, seed=0)
    user, _ = env.reset(seed=seed)
    rows, episode = [], 0
    for step in range(steps):
        if step % oracle_every == 0:
            slate = oracle.recommend(np.array([user]), world.rules.slate_size)[0]
        else:
            slate = rng.choice(world.dataset.n_items, world.rules.slate_size, replace=False)
        user, reward, terminated, truncated, info = env.step(slate)
        oracle.update(np.array([info["user"]]), slate[None], np.array([info["clicked_item"]]))
        rows.append((user, reward, terminated, truncated, info["user"], info["clicked_item"], info["left"],
                     info["session_length"], info["n_active"], env.population.patience[info["user"]]))
        if terminated:
            episode += 1
            oracle.fit(world.dataset, seed=0)
            user, _ = env.reset(seed=seed + episode)
    return _digest(rows)


def batched_digest(world: World, seed: int, episodes: int, batch_size: int | None) -> str:
    """Play whole batched episodes; half the users of each batch get the oracle's slates, half random ones."""
    env, rng = BatchSlateEnv(world, batch_size=batch_size), np.random.default_rng(seed)
    oracle = OracleAgent(world)
    rows = []
    for episode in range(episodes):
        oracle.fit(world.dataset, seed=0)
        users, info = env.reset(seed=seed + episode)
        rows.append((-1, users.size, info["n_active"]))
        terminated = False
        while not terminated:
            slates = oracle.recommend(users, world.rules.slate_size)
            for row in range(1, users.size, 2):
                slates[row] = rng.choice(world.dataset.n_items, world.rules.slate_size, replace=False)
            users, rewards, terminated, info = env.step(slates)
            oracle.update(info["user"], slates, info["clicked_item"])
            rows.extend(zip(info["user"].tolist(), info["clicked_item"].tolist(), info["left"].tolist(),
                            info["session_length"].tolist(), rewards.tolist(),
                            env.population.patience[info["user"]].tolist()))
            rows.append((-2, users.size, info["n_active"], terminated))
        members = env.population.members
        rows.extend(zip(members.tolist(), env.population.session_length[members].tolist(),
                        env.population.clicks[members].tolist()))
    return _digest([row + (0,) * (6 - len(row)) for row in rows])


@pytest.fixture(scope="module")
def small_world() -> World:
    return make_world("small")


@pytest.fixture(scope="module")
def small_replay_world(small_world) -> World:
    """The small world under log replay, each user's future a seeded random draw outside their history."""
    rng = np.random.default_rng(0)
    data = small_world.dataset
    futures = [rng.permutation(np.setdiff1d(np.arange(data.n_items), history))[:12] for history in data.histories]
    return World(data, small_world.user_embeddings, small_world.item_embeddings,
                 rules=replace(small_world.rules, choice="replay"), name="small-replay", futures=futures)


ONE_USER_PINS = {"small": "46669e1815a3f574", "small_replay": "77425a3533564ce4"}
BATCHED_PINS = {("small", None): "7733a416a7569d3a", ("small", 7): "7242453a7cbf93f5",
                ("small_replay", None): "3daf9c9468e5d0bf", ("small_replay", 64): "7e294414e371a6b3"}


@pytest.mark.parametrize("name", sorted(ONE_USER_PINS))
def test_one_user_trajectories_are_pinned(request, name):
    world = request.getfixturevalue(f"{name}_world")
    assert one_user_digest(world, seed=3, steps=8000, oracle_every=6) == ONE_USER_PINS[name]


@pytest.mark.parametrize(("name", "batch_size"), sorted(BATCHED_PINS, key=str))
def test_batched_trajectories_are_pinned(request, name, batch_size):
    world = request.getfixturevalue(f"{name}_world")
    assert batched_digest(world, seed=5, episodes=2, batch_size=batch_size) == BATCHED_PINS[name, batch_size]


@pytest.mark.slow
def test_datalab_trajectories_are_pinned():
    world = make_world("datalab")
    assert one_user_digest(world, seed=1, steps=30_000, oracle_every=3) == "7eab7fe657deaf35"
    assert batched_digest(world, seed=2, episodes=2, batch_size=None) == "8072cbb9bfe483fa"
    assert batched_digest(world, seed=2, episodes=1, batch_size=256) == "2c9b1f32fc7975b8"
