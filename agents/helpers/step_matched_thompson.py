"""Thompson sampling among a few arms, each arm's clicks compared only with clicks at the same session step.

An agent that chooses online among ways to build a slate (the hybrid among blends) draws an arm per
user-step and counts the response. Plain click rates per arm mislead here: users who click stay and users
who do not leave, so late steps click far more than early ones, and an arm played mostly late looks better
than one played mostly early whatever its worth. So each user-step is filed under the user's step: the
responses counted for that user so far (0, 1, ...; :data:`STEPS` and later share the last stratum; the runner
restores a checkpoint saved right after ``fit``, so this is the step of the episode), and an arm's
*advantage* is its clicks less what the average arm clicked at the same steps:

    advantage_a = sum_s clicks[a, s] - pulls[a, s] * rate_s,   rate_s = clicks[:, s].sum() / pulls[:, s].sum()

Each draw is ``advantage_a / (n_a + 1) + z * sqrt(1 / (4 (n_a + 1)))`` (``n_a`` the arm's pulls, ``z``
standard normal, the variance that of a click at rate 1/2): the arm of the highest draw is played. The draws
follow from the seed and the number of user-steps counted, so drawing changes no saved state: it only notes
each user's arm for :meth:`StepMatchedThompson.count` (not saved: a save between a draw and its count drops
that pull). Before any response every arm is drawn alike.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from recsim_lab.checkpoint import load_arrays, save_arrays

STEPS = 64
"""Session steps told apart; later steps share the last stratum."""


def advantages(clicks: np.ndarray, pulls: np.ndarray) -> np.ndarray:
    """``(A,)`` float64: per arm, its clicks less the clicks of the average arm over the same pulls, step by step.

    Args:
        clicks: ``(A, S)`` clicked user-steps per arm and session step.
        pulls: ``(A, S)`` user-steps served per arm and session step.
    """
    totals = pulls.sum(axis=0)
    rates = np.divide(clicks.sum(axis=0), totals, out=np.zeros(totals.shape), where=totals > 0)
    return (clicks - pulls * rates).sum(axis=1)


class StepMatchedThompson:
    """Draws one of ``n_arms`` per user-step and counts the responses (see the module docstring)."""

    def __init__(self, n_arms: int, n_users: int, seed: int) -> None:
        self.seed = int(seed)
        self.clicks = np.zeros((n_arms, STEPS))
        """``(A, STEPS)`` clicked user-steps per arm and session step."""
        self.pulls = np.zeros((n_arms, STEPS))
        """``(A, STEPS)`` user-steps served per arm and session step."""
        self.steps = np.zeros(n_users, dtype=np.int64)
        """``(n_users,)`` responses counted per user: the session step of their next user-step."""
        self.arm = np.full(n_users, -1, dtype=np.int64)
        """``(n_users,)`` the arm last drawn for each user and not yet counted (-1: none); not saved, as a
        draw is not learning."""

    def draw(self, users: np.ndarray) -> np.ndarray:
        """``(B,)`` int64: an arm per user of ``users`` ``(B,)`` (distinct), kept for :meth:`count`."""
        n = self.pulls.sum(axis=1) + 1
        generator = np.random.default_rng([self.seed, int(n.sum())])
        noise = generator.standard_normal((users.size, n.size))
        arms = (advantages(self.clicks, self.pulls) / n + noise * np.sqrt(0.25 / n)).argmax(axis=1)
        self.arm[users] = arms
        return arms

    def count(self, users: np.ndarray, clicked: np.ndarray) -> None:
        """Count the responses ``clicked`` ``(B,)`` bool of ``users`` ``(B,)`` (distinct) under the arms last
        drawn for them; users with no arm drawn only move on a step."""
        arms, steps = self.arm[users], np.minimum(self.steps[users], STEPS - 1)
        drawn = arms >= 0
        np.add.at(self.pulls, (arms[drawn], steps[drawn]), 1)
        np.add.at(self.clicks, (arms[drawn], steps[drawn]), clicked[drawn])
        self.steps[users] += 1
        self.arm[users] = -1

    def save(self, directory: Path) -> None:
        save_arrays(directory, arm_seed=np.array(self.seed), arm_clicks=self.clicks, arm_pulls=self.pulls,
                    arm_steps=self.steps)

    @classmethod
    def load(cls, directory: Path) -> StepMatchedThompson:
        seed, clicks, pulls, steps = load_arrays(directory, "arm_seed", "arm_clicks", "arm_pulls", "arm_steps")
        bandit = cls(clicks.shape[0], steps.size, int(seed))
        bandit.clicks, bandit.pulls, bandit.steps = clicks, pulls, steps
        return bandit
