"""Choosing an agent's setting in ``fit`` by replaying sessions against the last part of each user's history.

An agent whose best setting depends on the world it meets (the hybrid's blend weights, the content agent's
popularity prior) fits on every user's history less its last clicks (:func:`hold_out_last`), then, for each
candidate setting, restarts from that state and serves the users a few slates, learning from every response,
where a user clicks a slate item only if it is one of their held-out clicks (:func:`replay_rate`); it keeps
the candidate with the most clicks (:func:`choose_by_replay`; both steps: :func:`choose_in_fit`) and fits again
on the whole histories.

A replay rather than a ranking metric (how many held-out clicks a candidate's first ten items hold), because
online play rewards what an agent learns from its first responses as much as its first ranking. Measured
against the online score, neither proxy is exact: for the hybrid's blend both chose 0.8 / 0.2 on the
``default`` world, and on MovieLens 100K the replay chose 0.7 / 0.3, the hit rate 0.9 / 0.1, while
FunkSVD alone scored best online (all within 0.01 of each other); for FunkSVD's online rate the replay
preferred the fastest rate where the online score did not, so that rate stays fixed (figures in
``benchmarks/README.md``, "Choosing settings in fit").
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from recsim_lab.data import Dataset
from recsim_lab.data.seen import SeenItems

REPLAY_STEPS = 20
"""Slates served to each compared user per candidate."""
SLATE_SIZE = 5
"""Items per replayed slate (the DataLab rule's slate size; ``fit`` does not see the world's rules)."""
MAX_CELLS = 50_000_000
"""Users compared times catalogue size at most (at least 100 users, at most 1,000), bounding the cost of a
replay that scores the whole catalogue per user-step."""

Candidate = TypeVar("Candidate")


@dataclass(frozen=True)
class Holdout:
    """The visible part of a dataset and, for the users being compared, their held-out clicks."""

    visible: Dataset
    """``data`` with each user's held-out clicks removed from the end of their history."""
    users: np.ndarray
    """``(U,)`` int64 ascending ids of the users compared: a sample of those with held-out clicks."""
    held_out: SeenItems
    """Each user's held-out items (empty for users not in ``users``)."""


def hold_out_last(data: Dataset, share: float, seed: int) -> Holdout:
    """Hold out the last ``max(1, round(share * n))`` of each history of ``n >= 2`` clicks (at least one
    click stays visible); users with fewer clicks keep theirs. ``seed`` draws the users compared when more
    than ``min(1000, max(100, MAX_CELLS // n_items))`` have held-out clicks.

    Args:
        data: the dataset ``fit`` was given.
        share: in ``(0, 1)``, the share of each history held out.
        seed: a non-negative int.
    """
    lengths = np.array([h.size for h in data.histories], dtype=np.int64)
    cut = np.where(lengths >= 2, np.clip(np.rint(share * lengths).astype(np.int64), 1, lengths - 1), 0)
    visible = replace(data, histories=[h[:h.size - c] for h, c in zip(data.histories, cut)])
    users = np.flatnonzero(cut)
    most = min(1000, max(100, MAX_CELLS // max(data.n_items, 1)))
    if users.size > most:
        users = np.sort(np.random.default_rng(seed).choice(users, size=most, replace=False))
    held_out = SeenItems(data.n_users, data.n_items)
    for user in users:
        held_out.add(np.full(cut[user], user), data.histories[user][-cut[user]:])
    return Holdout(visible, users.astype(np.int64), held_out)


def replay_rate(agent: Any, holdout: Holdout, steps: int = REPLAY_STEPS, k: int = SLATE_SIZE) -> float:
    """Clicks per user-step when ``agent`` serves ``holdout.users`` ``steps`` slates of ``k`` items each,
    learning from every response (``update``), and a user clicks the first item of their slate that they
    held out (none: the slate is ignored). The agent's state changes."""
    users = holdout.users
    rows = np.arange(users.size)
    clicks = 0
    for _ in range(steps):
        slates = np.asarray(agent.recommend(users, k), dtype=np.int64)
        hit = holdout.held_out.contains(users, slates)
        picked = np.where(hit.any(axis=1), slates[rows, hit.argmax(axis=1)], -1)
        agent.update(users, slates, picked)
        clicks += int((picked >= 0).sum())
    return clicks / (users.size * steps) if users.size else 0.0


def choose_by_replay(agent: Any, holdout: Holdout, setting: str, candidates: Sequence[Candidate],
                     default: Candidate) -> tuple[Candidate, list[float]]:
    """The candidate of the highest :func:`replay_rate` (the first one among ties) and every candidate's
    rate; ``default`` and no rates when no user has held-out clicks.

    Args:
        agent: fitted on ``holdout.visible``; it is restored from its checkpoint (``save``, then ``load``)
            before each candidate, and left in the state of the last one replayed.
        holdout: from :func:`hold_out_last`.
        setting: the name of the attribute of ``agent`` that each candidate is put into in turn.
        candidates: the settings to compare, in order of preference among ties.
        default: the setting to use when there is nothing to compare on.
    """
    if not holdout.users.size:
        return default, []
    rates = []
    with tempfile.TemporaryDirectory() as checkpoint:
        agent.save(Path(checkpoint))
        for candidate in candidates:
            agent.load(Path(checkpoint))
            setattr(agent, setting, candidate)
            rates.append(replay_rate(agent, holdout))
    return candidates[int(np.argmax(rates))], rates


def choose_in_fit(agent: Any, data: Dataset, share: float, seed: int, start: Callable[[Dataset], None],
                  setting: str, candidates: Sequence[Candidate], default: Candidate) -> tuple[Candidate, list[float]]:
    """What an agent's ``fit`` does to choose a setting: hold out the last ``share`` of each history
    (:func:`hold_out_last` with ``seed``), ``start(visible data)`` to fit the agent on the rest, then
    :func:`choose_by_replay`. The caller then fits again on the whole ``data``."""
    holdout = hold_out_last(data, share, seed)
    start(holdout.visible)
    return choose_by_replay(agent, holdout, setting, candidates, default)
