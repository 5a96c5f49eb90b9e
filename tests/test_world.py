"""World directories: save/load round trip and rejection of bad hidden truth."""

from __future__ import annotations

import json

import numpy as np
import pytest

from recsim_lab.errors import DataFormatError
from recsim_lab.worlds.world import Rules, World


def test_save_then_load_round_trips(tmp_path, tiny_world):
    loaded = World.load(tiny_world.save(tmp_path))
    np.testing.assert_array_equal(loaded.user_embeddings, tiny_world.user_embeddings)
    np.testing.assert_array_equal(loaded.item_embeddings, tiny_world.item_embeddings)
    assert loaded.rules == tiny_world.rules and loaded.name == "tiny"
    assert loaded.dataset.n_train_users == tiny_world.dataset.n_train_users
    assert loaded.info["seed"] == tiny_world.info["seed"]
    with np.load(tmp_path / "world.npz") as arrays:
        assert arrays["user_embeddings"].dtype == np.float32


def rewrite_npz(directory, **arrays):
    np.savez(directory / "world.npz", **arrays)


@pytest.mark.parametrize(("change", "message"), [
    (lambda u, i: (u * np.nan, i), "user_embeddings contains NaN or inf (first in row 0)"),
    (lambda u, i: (u, np.where(np.arange(len(i))[:, None] == 3, np.inf, i)),
     "item_embeddings contains NaN or inf (first in row 3)"),
    (lambda u, i: (u[:, :3], i), "user_embeddings and item_embeddings must have the same dimension"),
    (lambda u, i: (u[:-1], i), "user_embeddings has 39 rows but the dataset has 40 users"),
    (lambda u, i: (u, i[:-2]), "item_embeddings has 118 rows but the dataset has 120 items"),
    (lambda u, i: (u[:, 0], i), "user_embeddings must be a 2-D array"),
])
def test_bad_hidden_truth_is_rejected(tmp_path, tiny_world, change, message):
    tiny_world.save(tmp_path)
    users, items = change(tiny_world.user_embeddings, tiny_world.item_embeddings)
    rewrite_npz(tmp_path, user_embeddings=users, item_embeddings=items)
    with pytest.raises(DataFormatError, match="world.npz") as error:
        World.load(tmp_path)
    assert message in str(error.value)


def test_pickled_arrays_are_refused(tmp_path, tiny_world):
    tiny_world.save(tmp_path)
    objects = np.empty(2, dtype=object)
    rewrite_npz(tmp_path, user_embeddings=objects, item_embeddings=tiny_world.item_embeddings)
    with pytest.raises(DataFormatError, match="world.npz"):
        World.load(tmp_path)


def test_missing_truth_and_bad_rules_are_reported(tmp_path, tiny_world):
    tiny_world.save(tmp_path)
    meta = json.loads((tmp_path / "world.json").read_text())
    meta["rules"]["slate_sise"] = 4
    (tmp_path / "world.json").write_text(json.dumps(meta))
    with pytest.raises(DataFormatError, match=r"world.json: rules: unknown rule\(s\) \['slate_sise'\]"):
        World.load(tmp_path)
    (tmp_path / "world.npz").unlink()
    with pytest.raises(DataFormatError, match="world.npz: not found"):
        World.load(tmp_path)


@pytest.mark.parametrize(("field", "value"), [("slate_size", 0), ("horizon", 1.5), ("temperature", 0.0),
                                              ("initial_patience", -1.0), ("no_click_threshold", np.nan)])
def test_invalid_rules_are_rejected(field, value):
    with pytest.raises(ValueError, match=f"Rules.{field} must be"):
        Rules(**{field: value})


def small_catalogue(n_items: int, slate_size: int) -> World:
    from recsim_lab.data import Dataset

    dataset = Dataset(headlines=[f"item {i}" for i in range(n_items)], descriptions=[""] * n_items,
                      categories=[""] * n_items, histories=[np.zeros(0, dtype=np.int64)], n_train_users=1)
    return World(dataset, np.ones((1, 2)), np.ones((n_items, 2)), rules=Rules(slate_size=slate_size))


@pytest.mark.parametrize(("n_items", "slate_size"), [(4, 5), (1, 2), (2, 3)])
def test_a_catalogue_smaller_than_a_slate_is_refused(n_items, slate_size):
    with pytest.raises(ValueError, match=f"a world needs at least slate_size={slate_size} items, got {n_items}"):
        small_catalogue(n_items, slate_size)


@pytest.mark.parametrize(("n_items", "slate_size"), [(5, 5), (4, 3), (1, 1)])
def test_a_catalogue_of_at_least_one_slate_is_accepted(n_items, slate_size):
    assert small_catalogue(n_items, slate_size).dataset.n_items == n_items
