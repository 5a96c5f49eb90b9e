"""Thompson sampling among arms compared step of the session by step of the session."""

from __future__ import annotations

import numpy as np
import pytest

from agents.helpers.step_matched_thompson import STEPS, StepMatchedThompson, advantages


def test_an_arm_played_late_gains_nothing_from_the_late_steps_clicking_more():
    """Arm 0 is played at steps 0 and 1, arm 1 only at step 0, where both click 3 in 10. Step 1 clicks more
    (8 in 10): arm 0's raw rate is 0.55 against 0.3, but neither beats the other at any step."""
    pulls = np.array([[10.0, 10.0], [10.0, 0.0]])
    np.testing.assert_allclose(advantages(np.array([[3.0, 8.0], [3.0, 0.0]]), pulls), [0.0, 0.0])
    # one more click for arm 0 at step 0, one fewer for arm 1: step 0's rate is still 6 / 20 = 0.3
    np.testing.assert_allclose(advantages(np.array([[4.0, 8.0], [2.0, 0.0]]), pulls), [1.0, -1.0])
    np.testing.assert_allclose(advantages(np.zeros((2, 3)), np.zeros((2, 3))), [0.0, 0.0])  # nothing yet


def test_responses_are_filed_under_each_users_step_in_the_session():
    bandit = StepMatchedThompson(n_arms=2, n_users=3, seed=0)
    first = bandit.draw(np.array([0, 1]))
    bandit.count(np.array([0, 1]), np.array([True, False]))
    second = bandit.draw(np.array([0]))
    bandit.count(np.array([0]), np.array([True]))
    bandit.count(np.array([2]), np.array([True]))  # no arm drawn for user 2: it only moves on a step
    pulls, clicks = np.zeros((2, STEPS)), np.zeros((2, STEPS))
    np.add.at(pulls, (first, [0, 0]), 1)
    np.add.at(clicks, (first[:1], [0]), 1)
    pulls[second[0], 1] += 1
    clicks[second[0], 1] += 1
    np.testing.assert_array_equal(bandit.pulls, pulls)
    np.testing.assert_array_equal(bandit.clicks, clicks)
    np.testing.assert_array_equal(bandit.steps, [2, 1, 1])


def test_draws_change_nothing_and_survive_a_checkpoint(tmp_path):
    bandit = StepMatchedThompson(n_arms=3, n_users=50, seed=4)
    users = np.arange(50)
    for _ in range(3):
        arms = bandit.draw(users)
        bandit.count(users, arms == 2)
    bandit.save(tmp_path)
    expected = bandit.draw(users)
    np.testing.assert_array_equal(bandit.draw(users), expected)  # the same state draws the same arms
    np.testing.assert_array_equal(StepMatchedThompson.load(tmp_path).draw(users), expected)


@pytest.mark.parametrize("best", [0, 2])
def test_the_arm_that_clicks_more_at_every_step_is_played_most(best):
    """Arm ``best`` clicks at rate 0.6 and the others at 0.4, at every step; after 20 steps of 200 users
    nearly every user-step goes to it."""
    rng = np.random.default_rng(1)
    bandit = StepMatchedThompson(n_arms=3, n_users=200, seed=0)
    users = np.arange(200)
    for _ in range(20):
        arms = bandit.draw(users)
        bandit.count(users, rng.random(200) < np.where(arms == best, 0.6, 0.4))
    assert (bandit.draw(users) == best).mean() > 0.9
