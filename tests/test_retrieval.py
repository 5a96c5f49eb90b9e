"""Inner-product retrieval: exact search against brute force, approximate search against exact."""

from __future__ import annotations

import numpy as np
import pytest

from agents.helpers.retrieval import InnerProductIndex


def test_exact_search_matches_brute_force():
    rng = np.random.default_rng(0)
    items, queries = rng.standard_normal((500, 8)), rng.standard_normal((20, 8))
    found = InnerProductIndex(items).search(queries, 10)
    expected = np.argsort(-(queries @ items.T.astype(np.float32)), axis=1)[:, :10]
    np.testing.assert_array_equal(found, expected)


def test_approximate_search_has_high_recall_and_restores_from_its_bytes():
    rng = np.random.default_rng(1)
    centres = rng.standard_normal((40, 16))
    items = (centres[rng.integers(40, size=20_000)] + 0.3 * rng.standard_normal((20_000, 16))).astype(np.float32)
    queries = centres[rng.integers(40, size=200)] + 0.3 * rng.standard_normal((200, 16))
    exact = InnerProductIndex(items, exact=True).search(queries, 50)
    index = InnerProductIndex(items, exact=False, nprobe=24, seed=0)
    approximate = index.search(queries, 50)
    recall = np.mean([np.intersect1d(a, e).size / 50 for a, e in zip(approximate, exact)])
    assert recall > 0.9
    restored = InnerProductIndex(items, stored=index.stored())
    assert not restored.exact
    np.testing.assert_array_equal(restored.search(queries, 50), approximate)
    with pytest.raises(ValueError, match="holds 20000 vectors of width 16, not the 100 x 16 items"):
        InnerProductIndex(items[:100], stored=index.stored())
    assert InnerProductIndex(items, exact=True).stored() is None


@pytest.mark.parametrize("exact", [True, False])
def test_refreshed_items_are_found_at_their_new_vectors_and_the_given_array_is_not_written(exact):
    """Items 7 and 11 move onto the query's direction, far beyond every other item: both indexes must then
    rank them first; the exact index writes into its own copy, not the caller's array."""
    rng = np.random.default_rng(2)
    items = rng.standard_normal((3000, 8)).astype(np.float32)
    original = items.copy()
    query = np.zeros((1, 8), dtype=np.float32)
    query[0, 0] = 1.0
    index = InnerProductIndex(items, exact=exact, nprobe=64, seed=0)
    assert not np.isin([7, 11], index.search(query, 5)).any()
    index.refresh(np.array([7, 11]), np.array([[50.0] + [0.0] * 7, [40.0] + [0.0] * 7]))
    assert index.search(query, 2)[0].tolist() == [7, 11]
    assert index.n_items == 3000 and (exact or index.index.ntotal + index.outgrown_ids.size == 3000)
    np.testing.assert_array_equal(items, original)


def test_items_refreshed_past_the_bound_are_searched_exactly_and_kept_in_the_checkpoint():
    """The lifted index holds items up to its norm bound; item 7, moved to norm 50, leaves it for the exact
    short list (still ranked by inner product), survives a restore, and goes back in when it shrinks again."""
    rng = np.random.default_rng(3)
    items = rng.standard_normal((3000, 8)).astype(np.float32)
    index = InnerProductIndex(items, exact=False, nprobe=219, seed=0)  # every cluster: the search is exact
    queries = rng.standard_normal((5, 8)).astype(np.float32)
    index.refresh(np.array([7, 3]), np.array([[50.0] + [0.0] * 7, items[3]]))
    assert index.outgrown_ids.tolist() == [7] and index.index.ntotal == 2999
    moved = items.copy()
    moved[7] = [50.0] + [0.0] * 7
    expected = np.argsort(-(queries @ moved.T), axis=1, kind="stable")[:, :10]
    np.testing.assert_array_equal(index.search(queries, 10), expected)
    np.testing.assert_array_equal(InnerProductIndex(items, stored=index.stored(), nprobe=219).search(queries, 10),
                                  expected)
    index.refresh(np.array([7]), items[7:8])
    assert index.outgrown_ids.size == 0 and index.index.ntotal == 3000
    np.testing.assert_array_equal(index.search(queries, 10), np.argsort(-(queries @ items.T), axis=1)[:, :10])
