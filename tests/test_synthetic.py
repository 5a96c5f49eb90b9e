"""The built-in synthetic world: deterministic, calibrated, and with real signal in histories and texts."""

from __future__ import annotations

import re

import numpy as np

from recsim_lab.worlds.presets import make_world
from recsim_lab.worlds.synthetic import SyntheticConfig, build_synthetic_world

SMALL = SyntheticConfig(n_users=150, n_train_users=50, n_items=600, dim=12, attractive_items=20)


def test_same_seed_same_world_and_other_seed_another():
    a, b = build_synthetic_world(SMALL), build_synthetic_world(SMALL)
    np.testing.assert_array_equal(a.user_embeddings, b.user_embeddings)
    np.testing.assert_array_equal(a.item_embeddings, b.item_embeddings)
    assert list(a.dataset.headlines) == list(b.dataset.headlines)
    assert all(np.array_equal(x, y) for x, y in zip(a.dataset.histories, b.dataset.histories))
    c = build_synthetic_world(SyntheticConfig(**{**SMALL.__dict__, "seed": 1}))
    assert not np.array_equal(a.item_embeddings, c.item_embeddings)


def test_calibration_puts_the_median_user_attractive_item_at_the_threshold():
    world = build_synthetic_world(SMALL)
    scores = world.user_embeddings @ world.item_embeddings.T
    above = (scores > world.rules.no_click_threshold).sum(axis=1)
    assert abs(np.median(above) - SMALL.attractive_items) <= 3


def test_histories_carry_signal_about_the_hidden_truth():
    world = build_synthetic_world(SMALL)
    scores = world.user_embeddings @ world.item_embeddings.T
    lengths = np.array([h.size for h in world.dataset.histories])
    assert lengths.min() >= 1 and 10 <= lengths.mean() <= 30
    for history in world.dataset.histories:
        assert np.unique(history).size == history.size  # a clicked item cannot be clicked again
    history_scores = np.concatenate([scores[u, h] for u, h in enumerate(world.dataset.histories)])
    assert np.median(history_scores) > np.quantile(scores, 0.95)


def test_texts_follow_the_hidden_topics():
    world = build_synthetic_world(SMALL)
    vocab: dict[str, int] = {}
    rows = [[vocab.setdefault(w, len(vocab)) for w in set(re.findall(r"[a-z]+", text.lower()))]
            for text in world.dataset.item_texts()]
    bag = np.zeros((len(rows), len(vocab)))
    for i, row in enumerate(rows):
        bag[i, row] = 1
    bag *= np.log(len(rows) / bag.sum(axis=0))  # tf-idf, so template words weigh little
    bag /= np.linalg.norm(bag, axis=1, keepdims=True)
    text_similarity = bag @ bag.T
    np.fill_diagonal(text_similarity, -1)
    latent = world.item_embeddings[:, 1:] / np.linalg.norm(world.item_embeddings[:, 1:], axis=1, keepdims=True)
    latent_similarity = latent @ latent.T
    nearest_by_text = text_similarity.argmax(axis=1)
    upper = np.triu_indices(len(rows), 1)
    assert latent_similarity[np.arange(len(rows)), nearest_by_text].mean() > 0.5
    assert abs(latent_similarity[upper].mean()) < 0.15
    same_category = np.equal.outer(world.dataset.categories, world.dataset.categories)[upper]
    assert latent_similarity[upper][same_category].mean() > latent_similarity[upper][~same_category].mean() + 0.3


def test_default_preset_has_the_datalab_shape():
    world = make_world("default")
    assert (world.dataset.n_users, world.dataset.n_train_users, world.dim) == (2000, 1000, 42)
    assert world.dataset.n_items == 3000
    assert world.rules.slate_size == 5 and world.rules.horizon == 2000


def test_sparse_preset_has_its_own_shape():
    world = make_world("sparse")
    assert (world.dataset.n_users, world.dataset.n_train_users, world.dataset.n_items, world.dim) == (
        2000, 1000, 20000, 8)
    assert (world.rules.no_click_threshold, world.rules.temperature) == (1.0, 0.2)
    lengths = np.array([h.size for h in world.dataset.histories])
    assert lengths.min() >= 2 and 5.0 < lengths.mean() < 7.0  # mean_history 6, at least 2
    assert not np.array_equal(make_world("sparse", seed=1).item_embeddings, world.item_embeddings)
