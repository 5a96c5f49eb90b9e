"""The leaderboard: rank valid submissions by mean score, normalised against the world's references.

``normalised_score = (mean_score - random) / (oracle - random)``: 0 is the built-in ``random`` agent, 1 the
``oracle`` (greedy on the hidden truth, so a strong submission may pass 1). The references are those agents'
mean scores on the same world under the official protocol (test population, all active users per step,
:data:`REFERENCE_EPISODES` episodes, root seed :data:`REFERENCE_SEED`), computed in-process once per call
(seconds at the DataLab scale).

Entries are sorted by mean score, best first; equal scores share a rank ("1, 2, 2, 4") and keep the order in
which the submissions were given.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from agents.registry import make_agent
from recsim_lab.evaluation.submission import Submission
from recsim_lab.run.runner import run_episodes
from recsim_lab.run.scoring import csv_field, summarize
from recsim_lab.worlds.world import World

REFERENCE_EPISODES = 5
"""Episodes the reference agents play."""
REFERENCE_SEED = 0
"""Root seed of the reference runs."""
LEADERBOARD_HEADER = "rank,name,mean_score,normalised_score,users"


@dataclass(frozen=True)
class References:
    """Mean scores of the lower (``random``) and upper (``oracle``) reference agents on a world."""

    random: float
    oracle: float
    episodes: int
    seed: int

    def normalise(self, mean_score: float) -> float:
        """``(mean_score - random) / (oracle - random)``."""
        return (mean_score - self.random) / (self.oracle - self.random)


@dataclass(frozen=True)
class Entry:
    """One row of the leaderboard."""

    rank: int
    name: str
    mean_score: float
    normalised_score: float
    users: int


def reference_scores(world: World, *, episodes: int = REFERENCE_EPISODES, seed: int = REFERENCE_SEED) -> References:
    """Play the ``random`` and ``oracle`` agents on ``world``'s test population and return their mean scores.

    Raises:
        ValueError: the oracle does not beat random on this world, so no score can be normalised.
    """

    means = {}
    with tempfile.TemporaryDirectory(prefix="recsim-lab-references-") as tmp:
        for name in ("random", "oracle"):
            results = run_episodes(world, make_agent(name, world=world), episodes=episodes, seed=seed,
                                   checkpoint=Path(tmp, name), progress=False)
            means[name] = summarize(results, world.rules.horizon)["mean_score"]
    if not means["oracle"] > means["random"]:
        raise ValueError(f"on world {world.name!r} the oracle ({means['oracle']:.6f}) does not beat random "
                         f"({means['random']:.6f}); scores cannot be normalised")
    return References(means["random"], means["oracle"], episodes, seed)


def submission_names(paths: Sequence[str | Path]) -> list[str]:
    """Leaderboard names: each file's stem (``team_a.csv`` -> ``team_a``), or the paths as given when two
    stems are the same (``runs/a/scores.csv``, ``runs/b/scores.csv``)."""
    stems = [Path(p).stem for p in paths]
    return stems if len(set(stems)) == len(stems) else [str(p) for p in paths]


def rank(submissions: Sequence[tuple[str, Submission]], references: References) -> list[Entry]:
    """Entries for ``(name, submission)`` pairs, best mean score first; ties share a rank, in input order."""
    means = [submission.mean_score for _, submission in submissions]
    order = sorted(range(len(submissions)), key=lambda i: -means[i])  # sorted() is stable
    return [Entry(rank=1 + sum(m > means[i] for m in means), name=submissions[i][0], mean_score=means[i],
                  normalised_score=references.normalise(means[i]), users=int(submissions[i][1].users.size))
            for i in order]


def leaderboard_csv(entries: Sequence[Entry]) -> str:
    """``leaderboard.csv`` text: :data:`LEADERBOARD_HEADER` then one row per entry (exact float repr)."""
    rows = (f"{e.rank},{csv_field(e.name)},{e.mean_score!r},{e.normalised_score!r},{e.users}" for e in entries)
    return LEADERBOARD_HEADER + "\n" + "".join(row + "\n" for row in rows)
