"""Property-based checks (hypothesis) of the choice model and the history bitset."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from recsim_lab.data.seen import SeenItems
from recsim_lab.worlds.choice import click_probabilities, click_probabilities_one, sample_choice_one, sample_choices

scores = st.lists(st.one_of(st.floats(-5, 5), st.just(-np.inf)), min_size=5, max_size=5)


@given(scores, st.floats(0.5, 3.0), st.floats(0.05, 2.0), st.floats(0.0, 0.999999))
@settings(max_examples=300, deadline=None)
def test_probabilities_are_a_distribution_and_both_paths_agree(row, threshold, temperature, uniform):
    p = click_probabilities(np.array([row]), threshold, temperature)[0]
    assert np.all(p >= 0) and abs(p.sum() - 1) < 1e-12
    assert all(p[j] == 0 for j, s in enumerate(row) if s == -np.inf)
    np.testing.assert_allclose(click_probabilities_one(row, threshold, temperature), p, rtol=1e-12, atol=1e-300)
    finite = [j for j, s in enumerate(row) if s != -np.inf]
    for a in finite:  # a higher score never gets a lower probability
        for b in finite:
            if row[a] > row[b]:
                assert p[a] >= p[b]
    pick = sample_choices(p[None], np.array([uniform]))[0]
    assert pick == sample_choice_one(p.tolist(), uniform) or abs(np.cumsum(p)[pick] - uniform) < 1e-12
    assert p[pick] > 0


pairs = st.lists(st.tuples(st.integers(0, 6), st.integers(-1, 40)), max_size=60)


@given(st.lists(pairs, max_size=5))
@settings(max_examples=200, deadline=None)
def test_seen_items_behave_like_python_sets(batches):
    seen, reference = SeenItems(7, 41), [set() for _ in range(7)]
    for batch in batches:
        users = np.array([u for u, _ in batch], dtype=np.int64)
        items = np.array([i for _, i in batch], dtype=np.int64)
        seen.add(users, items)
        for u, i in batch:
            if i >= 0:
                reference[u].add(i)
    assert seen.sizes.tolist() == [len(s) for s in reference]
    everything = np.tile(np.arange(41), (7, 1))
    expected = np.array([[i in reference[u] for i in range(41)] for u in range(7)])
    np.testing.assert_array_equal(seen.contains(np.arange(7), everything), expected)
    np.testing.assert_array_equal(seen.dense(np.arange(7)), expected)
    for u in range(7):
        assert seen.contains_one(u, list(range(41))) == expected[u].tolist()
