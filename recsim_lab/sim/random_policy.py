"""Does a world keep its log's popularity? The clicks a uniformly random policy gets, item by item.

:func:`random_policy_clicks` serves each given user ``slates`` slates of distinct items drawn uniformly
from those outside the user's visible history (what the ``random`` agent shows at the start of an episode)
and adds up, per item, the probability that the user clicks it under the world's choice model
(:meth:`~recsim_lab.sim.population.Population.choice_probabilities`), every slate answered from the
start-of-episode state. That sum is the expected number of clicks each item gets from the simulated random
policy: the mean of counting sampled clicks, without the sampling noise of the click itself (only the
slates are drawn), so a few thousand slates already rank a catalogue's items.

:func:`popularity_agreement` compares those clicks with the log's: Spearman's rank correlation
(:mod:`recsim_lab.sim.rank_correlation`) between the number of users who clicked each item in the log (visible
history and held-out future) and the random policy's clicks on it. Near 1: items popular in the log are the
ones the world's users click most when shown at random; near 0 or below: the world has lost or inverted the
log's popularity, and popularity-based agents will be judged against a different world than the log.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from recsim_lab.distinct import later_repeats
from recsim_lab.sim.population import Population
from recsim_lab.sim.rank_correlation import spearman
from recsim_lab.validation import check_scalar
from recsim_lab.worlds.world import World

SHOWN_PER_ITEM = 50
"""Default number of slates: enough for each item to be shown about this many times over all users."""
SLATES_RANGE = (10, 200)
"""Default slates per user are clipped to this range."""


def log_click_counts(world: World) -> np.ndarray:
    """``(n_items,)`` int64: users who clicked each item in the log (visible histories and, for an imported
    world, held-out futures)."""
    counts = world.dataset.click_counts()
    if world.futures:
        counts += np.bincount(np.concatenate(world.futures).astype(np.int64), minlength=world.dataset.n_items)
    return counts


def default_slates(n_items: int, n_users: int, slate_size: int) -> int:
    """Slates per user so that each item is shown about :data:`SHOWN_PER_ITEM` times, within
    :data:`SLATES_RANGE`."""
    wanted = int(np.ceil(SHOWN_PER_ITEM * n_items / (slate_size * max(n_users, 1))))
    return int(np.clip(wanted, *SLATES_RANGE))


def random_policy_clicks(world: World, users: np.ndarray, slates: int, seed: int) -> np.ndarray:
    """``(n_items,)`` float64 expected clicks of each item when each of ``users`` is shown ``slates`` uniformly
    random slates of distinct unseen items (see the module docstring). Users with fewer unseen items than a
    slate holds are skipped. Deterministic for ``seed``."""
    check_scalar(slates, "slates", int, min_val=1)
    rng = np.random.default_rng(seed)
    population = Population(world, users)
    k, n_items = world.rules.slate_size, world.dataset.n_items
    users = population.members[population.seen.sizes[population.members] <= n_items - k]
    clicks = np.zeros(n_items)
    for _ in range(slates):
        drawn = rng.integers(n_items, size=(users.size, k))
        while True:
            redraw = later_repeats(drawn) | population.seen.contains(users, drawn)
            if not redraw.any():
                break
            drawn[redraw] = rng.integers(n_items, size=int(redraw.sum()))
        probabilities = population.choice_probabilities(users, drawn)
        np.add.at(clicks, drawn.ravel(), probabilities[:, :k].ravel())
    return clicks


def popularity_agreement(world: World, users: np.ndarray, seed: int, slates: int | None = None) -> dict[str, Any]:
    """Spearman's rho between the log's clicks per item and a random policy's on ``world`` (module docstring).

    Returns:
        ``{"spearman", "users", "slates_per_user", "seed", "random_policy_clicks"}`` (the last: the total
        expected clicks, so a reader sees how much the correlation rests on); ``spearman`` is ``None`` when it
        is undefined (every item clicked equally often in the log, or by the random policy).
    """
    slates = default_slates(world.dataset.n_items, len(users), world.rules.slate_size) if slates is None else slates
    clicks = random_policy_clicks(world, users, slates, seed)
    rho = spearman(log_click_counts(world), clicks)
    return {"spearman": None if np.isnan(rho) else rho, "users": int(len(users)),
            "slates_per_user": slates, "seed": seed, "random_policy_clicks": float(clicks.sum())}
