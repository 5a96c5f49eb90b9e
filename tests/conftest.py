"""Shared fixtures: a 2-user, 6-item world small enough to solve by hand, a tiny synthetic world, a stand-in
text encoder and a private embedding cache."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from recsim_lab.data import Dataset
from recsim_lab.worlds.synthetic import SyntheticConfig, build_synthetic_world
from recsim_lab.worlds.world import Rules, World

# User 0 looks along x, user 1 along y; true score = dot product.
HAND_USERS = np.array([[1.0, 0.0], [0.0, 1.0]])
HAND_ITEMS = np.array([[1.7, 0.0], [1.8, 0.0], [0.0, 0.0], [0.0, 2.0], [1.6, 0.0], [0.0, 0.0]])


def hand_world(rules: Rules | None = None, histories: tuple = ([], [3])) -> World:
    """2 users, 6 items, d = 2. User 1 has already clicked item 3."""
    dataset = Dataset(headlines=[f"item {i}" for i in range(6)], descriptions=[""] * 6, categories=["c"] * 6,
                      histories=[np.array(h, dtype=np.int64) for h in histories], n_train_users=1)
    return World(dataset, HAND_USERS, HAND_ITEMS, rules=rules or Rules(), name="hand")


@pytest.fixture
def world() -> World:
    return hand_world()


@pytest.fixture(scope="session")
def tiny_world() -> World:
    """A small synthetic world: 40 users (20 train), 120 items, 6 dims."""
    return build_synthetic_world(SyntheticConfig(n_users=40, n_train_users=20, n_items=120, dim=6,
                                                 attractive_items=8, mean_history=5.0), name="tiny")


@pytest.fixture(scope="session")
def tiny_world_dir(tiny_world: World, tmp_path_factory: pytest.TempPathFactory):
    return tiny_world.save(tmp_path_factory.mktemp("tiny_world"))


@pytest.fixture(autouse=True)
def organiser_key(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Every test's evaluations sign with a key (and record world seeds) under a temporary folder, never in
    the user's ~/.config; the path of that key file."""
    path = tmp_path_factory.mktemp("organiser") / "receipt.key"
    monkeypatch.setenv("RECSIM_LAB_KEY", str(path))
    return path


class HashingEncoder:
    """Bag of words hashed into ``dim`` buckets: a stand-in text encoder; counts its calls."""

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim
        self.calls = 0

    @property
    def identity(self) -> str:
        return f"test-hashing-encoder-{self.dim}"

    def encode(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                out[row, zlib.crc32(word.encode("utf-8")) % self.dim] += 1.0
        return out


@pytest.fixture
def private_embedding_cache(tmp_path, monkeypatch):
    """The test gets its own embedding cache; nothing is written to the home directory."""
    monkeypatch.setenv("RECSIM_LAB_CACHE", str(tmp_path / "cache"))
