"""Generated users' tastes over item groups, and the logging rounds that drew their click logs.

Both generators, :mod:`~recsim_lab.worlds.synthetic` (groups: subtopics) and
:mod:`~recsim_lab.worlds.catalogue_users` (groups: categories), give each user 1 to 3 liked groups with
Dirichlet weights (:func:`sample_tastes`), then simulate a logging policy whose exposure follows interest
(:func:`simulate_logging`): each round, every user short of their drawn log length is shown ``slate_size``
distinct items, each slot taken with probability ``exposure_focus`` from one liked group (picked by weight,
once per slate) and otherwise from the whole catalogue, and answers through the choice model
(:mod:`recsim_lab.worlds.choice`), clicking at most one item not clicked before.

Two keyword flags only fix the order of random draws that each generator has always used (``counts_first``,
``within_first``); either order gives the same distribution, and the flags keep existing worlds
byte-identical.
"""

from __future__ import annotations

import numpy as np

from recsim_lab.data.seen import SeenItems
from recsim_lab.distinct import distinct_rows
from recsim_lab.worlds.choice import click_probabilities, sample_choices
from recsim_lab.worlds.world import Rules

_MAX_LIKED = 3  # a user likes 1 to this many groups


def sample_tastes(rng: np.random.Generator, n_users: int, n_groups: int, *, p: np.ndarray | None = None,
                  counts_first: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Each user's liked groups and their weights.

    Args:
        rng: the generator of the draws.
        n_users: users to draw.
        n_groups: groups ``0..n_groups-1`` to like.
        p: ``(n_groups,)`` probability of each group among the liked ones (drawn without replacement);
            ``None``: uniform.
        counts_first: draw how many groups each user likes before the groups and weights (the catalogue
            generator's order) instead of after them (the synthetic one's).

    Returns:
        ``(liked, weights)``: ``(n_users, m)`` int distinct groups per user and ``(n_users, m)`` float64
        Dirichlet(1) weights over the first 1..m of them (the rest 0), rows summing to 1, where
        ``m = min(3, n_groups)``.
    """
    slots = min(_MAX_LIKED, n_groups)
    if counts_first:
        n_liked = rng.integers(1, slots + 1, size=n_users)
    liked = np.stack([rng.choice(n_groups, size=slots, replace=False, p=p) for _ in range(n_users)])
    weights = rng.dirichlet(np.ones(slots), size=n_users)
    if not counts_first:
        n_liked = rng.integers(1, slots + 1, size=n_users)
    weights[np.arange(slots)[None, :] >= n_liked[:, None]] = 0.0
    return liked, weights / weights.sum(axis=1, keepdims=True)


def simulate_logging(rng: np.random.Generator, users: np.ndarray, items: np.ndarray, item_group: np.ndarray,
                     n_groups: int, liked: np.ndarray, weights: np.ndarray, rules: Rules, *, mean_length: float,
                     min_length: int, rounds: int, exposure_focus: float, within_first: bool = False
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Simulate logging rounds until every user has clicked their drawn number of items (or rounds ran out).

    A user's drawn length is ``min_length`` plus a geometric number of extra clicks with mean
    ``mean_length - min_length``, capped at ``n_items - slate_size``; a user who rarely clicks ends below it.

    Args:
        rng: the generator of every draw.
        users: ``(n_users, d)`` user vectors, already scaled.
        items: ``(n_items, d)`` item vectors.
        item_group: ``(n_items,)`` int group of each item, in ``0..n_groups-1`` (a group may be empty).
        n_groups: number of groups.
        liked, weights: ``(n_users, m)`` from :func:`sample_tastes`.
        rules: the slate size and the choice model's threshold and temperature.
        mean_length, min_length, rounds, exposure_focus: see above.
        within_first: draw the slots' positions within the group before their focus coin flips (the
            catalogue generator's order) instead of after them (the synthetic one's).

    Returns:
        ``(event_user, event_item, event_round)``: int64, int64 and float64 ``(n_clicks,)``, in order of
        round, each user clicking at most once per round and never the same item twice.
    """
    n_users, n_items, k = users.shape[0], items.shape[0], rules.slate_size
    extra = max(mean_length - min_length, 0.0)
    lengths = min_length + (rng.geometric(1.0 / (1.0 + extra), size=n_users) - 1 if extra else 0)
    lengths = np.minimum(lengths, n_items - k)
    members = np.argsort(item_group, kind="stable")
    sizes = np.bincount(item_group, minlength=n_groups)
    starts = np.searchsorted(item_group[members], np.arange(n_groups))
    seen = SeenItems(n_users, n_items)
    have = np.zeros(n_users, dtype=np.int64)
    out_user, out_item, out_round = [], [], []
    for round_ in range(rounds):
        need = np.flatnonzero(have < lengths)
        if need.size == 0:
            break
        pick = (weights[need].cumsum(axis=1) <= rng.random(need.size)[:, None]).sum(axis=1)
        groups = liked[need, np.minimum(pick, liked.shape[1] - 1)]
        count = sizes[groups][:, None]
        first, second = rng.random((need.size, k)), rng.random((need.size, k))
        position, coin = (first, second) if within_first else (second, first)
        focused = (coin < exposure_focus) & (count > 0)
        within = members[np.minimum(starts[groups][:, None] + (position * count).astype(np.int64), n_items - 1)]
        slates = distinct_rows(rng, np.where(focused, within, rng.integers(n_items, size=(need.size, k))), n_items)
        scores = np.einsum("bd,bkd->bk", users[need], items[slates])
        scores[seen.contains(need, slates)] = -np.inf
        choice = sample_choices(click_probabilities(scores, rules.no_click_threshold, rules.temperature),
                                rng.random(need.size))
        rows = np.flatnonzero(choice < k)
        clicked = slates[rows, choice[rows]]
        seen.add(need[rows], clicked)
        have[need[rows]] += 1
        out_user.append(need[rows])
        out_item.append(clicked)
        out_round.append(np.full(rows.size, float(round_)))
    if not out_user:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), np.empty(0)
    return np.concatenate(out_user), np.concatenate(out_item), np.concatenate(out_round)
