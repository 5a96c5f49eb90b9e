"""The choice model against hand-computed probabilities, and sampling against the softmax."""

from __future__ import annotations

import math

import numpy as np
import pytest

from recsim_lab.worlds.choice import click_probabilities, click_probabilities_one, sample_choice_one, sample_choices

E = math.e


def test_equal_scores_give_uniform_choice():
    p = click_probabilities(np.full((1, 5), 1.7), threshold=1.7, temperature=0.1)
    np.testing.assert_allclose(p, np.full((1, 6), 1 / 6))


def test_hand_computed_probabilities():
    # logits / 0.1 = [17, 18, 0, 0, 16 | 17]; dividing by e^17: [1, e, e^-17, e^-17, 1/e | 1]
    total = 2 + E + 1 / E + 2 * math.exp(-17)
    expected = np.array([1, E, math.exp(-17), math.exp(-17), 1 / E, 1]) / total
    scores = np.array([[1.7, 1.8, 0.0, 0.0, 1.6]])
    np.testing.assert_allclose(click_probabilities(scores, 1.7, 0.1)[0], expected, rtol=1e-12)
    np.testing.assert_allclose(click_probabilities_one(scores[0].tolist(), 1.7, 0.1), expected, rtol=1e-12)
    assert expected[1] == pytest.approx(0.5344466, abs=1e-6)


def test_minus_infinity_is_never_chosen():
    scores = np.array([[-np.inf, 5.0, -np.inf, -np.inf, -np.inf]])
    p = click_probabilities(scores, 1.7, 0.1)[0]
    assert p[0] == 0 and p[2:5].sum() == 0
    assert p[1] == pytest.approx(1 / (1 + math.exp(-33)))
    draws = sample_choices(np.repeat(p[None], 1000, axis=0), np.random.default_rng(0).random(1000))
    assert set(draws.tolist()) <= {1, 5}


def test_sampling_uses_first_index_whose_cdf_exceeds_the_draw():
    p = np.array([[0.125, 0.25, 0.0, 0.25, 0.125, 0.25]])  # exact in binary: cdf 1/8, 3/8, 3/8, 5/8, 3/4, 1
    cases = {0.0: 0, 0.1249: 0, 0.125: 1, 0.3749: 1, 0.375: 3, 0.625: 4, 0.75: 5, 0.999: 5}
    for u, index in cases.items():
        assert sample_choices(p, np.array([u]))[0] == index
        assert sample_choice_one(p[0].tolist(), u) == index


def test_click_frequencies_follow_the_softmax():
    scores = np.array([[1.9, 1.75, 1.6, 1.7, 0.0]])
    p = click_probabilities(scores, 1.7, 0.1)[0]
    n = 60_000
    draws = sample_choices(np.repeat(p[None], n, axis=0), np.random.default_rng(7).random(n))
    counts = np.bincount(draws, minlength=6)
    expected = n * p
    # Pearson chi-square over the positions with a non-negligible expectation; 99.9% quantile of
    # chi2 with 4 degrees of freedom is 18.47.
    keep = expected > 5
    chi2 = ((counts[keep] - expected[keep]) ** 2 / expected[keep]).sum()
    assert chi2 < 18.47
