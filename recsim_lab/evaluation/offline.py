"""Offline evaluation: hold out part of each user's clicks, fit the agent on the rest, rank, and score.

``recsim-lab offline --env W --agent A`` runs :func:`offline_evaluate`: it splits the world
(:func:`holdout_split`), fits the agent once on the visible part, has it rank every user's candidates
(:func:`agent_scores`), and computes the metrics of :mod:`recsim_lab.evaluation.offline_metrics` (their
definitions are there). Outputs: ``users.csv`` (one row per evaluated user) and ``summary.json``, each written
atomically into a new directory ``<out>/offline__<env>__<agent>__<seed>__<time>/``.

**What is held out.** An imported world keeps each user's real held-out future (:attr:`World.futures`); it
is held out as a whole and the visible histories are the agent's data, unchanged. A synthetic world has no
future, so each user's last ``holdout`` clicks (default 5; at most all but one) are held out and the agent
is fitted on the rest. ``holdout=N`` on an imported world uses the last N visible clicks too.

**How an agent ranks** (two routes, both excluding the user's visible history from the candidates, as in
online play, where a clicked item cannot be clicked again):

1. ``scores(users) -> (B, n_items)`` float, higher is better (the optional offline method): used when the
   agent has it. ``funk_svd`` and ``content`` have it; any agent can add it.
2. otherwise the protocol's ``recommend(users, k)``, with ``k`` each user's number of candidates (a full
   ranking; users with equal counts share a call), or at most ``depth``: an item at position j of the
   answer scores ``k - j``, candidates the agent did not return share score 0 (tied below all ranked ones;
   AUC counts ties as one half), items from the history and repeats are skipped. ``popularity``,
   ``oracle``, ``random`` and ``hybrid`` take this route at full depth (a ``depth`` leaves the unranked tail
   tied, which keeps ``random``'s expected AUC at exactly 0.5).
"""

from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from recsim_lab.atomic import atomic_write_text
from recsim_lab.data import Dataset
from recsim_lab.data.seen import SeenItems
from recsim_lab.evaluation.offline_metrics import coverage, pooled_auc, ranking_metrics, user_auc, weighted_mean
from recsim_lab.run.failures import call_agent
from recsim_lab.run.runner import RunConfig, checked_agent, new_run_directory
from recsim_lab.seeding import derive_seeds
from recsim_lab.validation import check_choice, check_scalar
from recsim_lab.worlds.presets import make_world
from recsim_lab.worlds.world import World

DEFAULT_HOLDOUT = 5
"""Clicks held out per user of a world without futures (the last ones of the visible history)."""
POOLED_AUC_MAX_PAIRS = 50_000_000
"""Above this many (user, candidate) pairs the pooled AUC is not computed (it keeps every score: 8 bytes
each); the per-user metrics are computed in bounded chunks at any size."""
_CELLS = 1 << 22  # scores held at a time by the per-user metrics (users per chunk = _CELLS // n_items)


@dataclass
class OfflineConfig:
    """One offline evaluation of an agent on a world."""

    env: str = "default"
    """Preset name (``recsim-lab envs``) or world directory."""
    agent: str = "popularity"
    """Built-in name, ``path/to/file.py:Class`` or ``package.module:Class``."""
    seed: int = 0
    """Root seed; the agent's fit seed derives from it as in ``recsim-lab run``."""
    k: int = 10
    """Cut-off K of Recall@K, NDCG@K, coverage@K and popularity@K."""
    holdout: int | None = None
    """Last clicks held out per user; ``None``: the world's futures when it has them, else 5."""
    depth: int | None = None
    """Most items asked of ``recommend`` per user (route 2); ``None``: all candidates (a full ranking)."""
    split: str = "test"
    """Users evaluated: ``test`` (all) or ``train`` (the first ``n_train_users``); the fit sees all users."""
    out: str = "runs"
    """Folder that receives the output directory."""
    agent_options: dict[str, Any] = field(default_factory=dict)
    """Hyperparameters passed to the agent's constructor."""

    def __post_init__(self) -> None:
        for name in ("env", "agent", "out"):
            check_scalar(getattr(self, name), name, str)
        self.seed = check_scalar(self.seed, "seed", int, min_val=0)
        self.k = check_scalar(self.k, "k", int, min_val=1)
        self.holdout = check_scalar(self.holdout, "holdout", int, min_val=1, allow_none=True)
        self.depth = check_scalar(self.depth, "depth", int, min_val=1, allow_none=True)
        check_choice(self.split, "split", ("train", "test"))
        check_scalar(self.agent_options, "agent_options", dict)


@dataclass(frozen=True)
class Holdout:
    """A hold-out split: what the agent is fitted on and what it must find.

    Attributes:
        data: the visible dataset (histories without the held-out clicks).
        heldout: per user, int64 distinct item ids held out, none in the user's visible history (may be empty).
        source: ``"futures"`` or ``"last N"``.
    """

    data: Dataset
    heldout: tuple[np.ndarray, ...]
    source: str


def holdout_split(world: World, holdout: int | None = None) -> Holdout:
    """Split ``world`` as the module docstring says.

    With ``holdout=N`` user u keeps the first ``len(h) - m`` clicks of their history ``h`` visible,
    ``m = min(N, len(h) - 1)``, and the last ``m`` are held out, less any that also occur in the visible part
    (repeats cannot be clicked again).
    """
    data = world.dataset
    if holdout is None and world.futures is not None:
        futures = tuple(np.asarray(f, dtype=np.int64) for f in world.futures)
        return Holdout(data, futures, "futures")
    n = DEFAULT_HOLDOUT if holdout is None else holdout
    visible, heldout = [], []
    for history in data.histories:
        cut = len(history) - min(n, max(len(history) - 1, 0))
        visible.append(history[:cut])
        later = np.unique(history[cut:])
        heldout.append(later[~np.isin(later, history[:cut])])
    split = Dataset(data.headlines, data.descriptions, data.categories, visible, n_train_users=data.n_train_users)
    return Holdout(split, tuple(heldout), f"last {n}")


def agent_scores(agent: Any, users: np.ndarray, seen: SeenItems, depth: int | None = None) -> np.ndarray:
    """``(B, n_items)`` float64 scores of every item for ``users`` ``(B,)``, by the route of the module
    docstring (history items get whatever the route gives; the caller excludes them).

    Raises:
        ValueError: the agent's scores or rankings have the wrong shape, NaN scores or ids out of range.
        AgentRaised: the agent's ``scores`` or ``recommend`` raised.
    """
    n_items = seen.n_items
    if callable(getattr(agent, "scores", None)):
        scores = np.asarray(call_agent(agent.scores, users), dtype=np.float64)
        if scores.shape != (users.size, n_items):
            raise ValueError(f"agent.scores(users) must return ({users.size}, {n_items}) scores, got "
                             f"shape {scores.shape}")
        if np.isnan(scores).any():
            raise ValueError("agent.scores(users) returned NaN scores")
        return scores
    wanted = n_items - seen.sizes[users]
    if depth is not None:
        wanted = np.minimum(wanted, depth)
    scores = np.zeros((users.size, n_items), dtype=np.float64)
    for k in np.unique(wanted[wanted > 0]):
        rows = np.flatnonzero(wanted == k)
        slates = np.asarray(call_agent(agent.recommend, users[rows], int(k)))
        if slates.shape != (rows.size, k) or not np.issubdtype(slates.dtype, np.integer):
            raise ValueError(f"agent.recommend(users, {k}) must return ({rows.size}, {k}) integer item ids, got "
                             f"{slates.dtype} {slates.shape}")
        if slates.size and (slates.min() < 0 or slates.max() >= n_items):
            raise ValueError(f"agent.recommend(users, {k}) returned item ids outside 0..{n_items - 1}")
        flat = (rows[:, None] * n_items + slates).ravel()
        np.maximum.at(scores.reshape(-1), flat, np.broadcast_to(k - np.arange(k, dtype=np.float64), slates.shape)
                      .ravel())  # position j scores k - j; a repeated id keeps its first (highest) position
    return scores


@dataclass
class OfflineResult:
    """Per-user values (one entry per evaluated user, in id order) and the summary."""

    users: np.ndarray
    columns: dict[str, np.ndarray]
    summary: dict[str, Any]


def evaluate_rankings(agent: Any, split: Holdout, users: np.ndarray, *, k: int = 10,
                      depth: int | None = None) -> OfflineResult:
    """Rank ``users`` with a fitted ``agent`` and compute every metric.

    Users without a held-out item, or whose candidates are all held out, are left out (counted in the
    summary as ``users_skipped``).

    Args:
        agent: fitted on ``split.data``.
        split: the hold-out split.
        users: ``(U,)`` int64 user ids to evaluate.
        k: the cut-off K.
        depth: most items asked of ``recommend`` per user (route 2).

    Returns:
        Per-user columns ``n_candidates``, ``n_heldout``, ``auc``, ``hits``, ``recall``, ``ndcg``, ``rr``,
        ``popularity`` and the summary (``auc``, ``group_auc``, ``weighted_auc``, ``recall``, ``ndcg``,
        ``mrr``, ``coverage``, ``popularity``, ``heldout_popularity``, counts, the route).
    """
    data = split.data
    n_items = data.n_items
    seen = SeenItems.from_histories(data.histories, n_items)
    n_heldout = np.array([split.heldout[u].size for u in users], dtype=np.int64)
    users = np.asarray(users, dtype=np.int64)
    keep = (n_heldout > 0) & (n_items - seen.sizes[users] > n_heldout)
    users = users[keep]
    popularity = data.click_counts() / max(data.n_users, 1)
    pooled = users.size * n_items <= POOLED_AUC_MAX_PAIRS
    columns: dict[str, list[np.ndarray]] = {name: [] for name in
                                            ("n_candidates", "n_heldout", "auc", "hits", "recall", "ndcg",
                                             "rr", "popularity")}
    tops, positive_scores, negative_scores, heldout_pop = [], [], [], []
    rows = max(1, _CELLS // max(n_items, 1))
    for start in range(0, users.size, rows):
        chunk = users[start:start + rows]
        scores = agent_scores(agent, chunk, seen, depth)
        candidates = ~seen.dense(chunk)
        positives = np.zeros_like(candidates)
        lengths = np.array([split.heldout[u].size for u in chunk])
        positives[np.repeat(np.arange(chunk.size), lengths), np.concatenate([split.heldout[u] for u in chunk])] = True
        metrics = ranking_metrics(scores, candidates, positives, k, popularity)
        columns["n_candidates"].append(candidates.sum(axis=1))
        columns["n_heldout"].append(lengths)
        columns["auc"].append(user_auc(scores, candidates, positives))
        for name in ("hits", "recall", "ndcg", "rr", "popularity"):
            columns[name].append(metrics[name])
        tops.append(metrics["top"])
        heldout_pop.append(popularity[positives.nonzero()[1]])
        if pooled:
            positive_scores.append(scores[positives])
            negative_scores.append(scores[candidates & ~positives])
    values = {name: (np.concatenate(parts) if parts else np.empty(0)) for name, parts in columns.items()}
    n_pos = values["n_heldout"].astype(np.float64)
    route = "scores" if callable(getattr(agent, "scores", None)) else "recommend"
    summary = {
        "auc": pooled_auc(np.concatenate(positive_scores), np.concatenate(negative_scores))
        if pooled and users.size else None,
        "group_auc": _mean(values["auc"]),
        "weighted_auc": weighted_mean(values["auc"], n_pos),
        f"recall@{k}": _mean(values["recall"]),
        f"ndcg@{k}": _mean(values["ndcg"]),
        "mrr": _mean(values["rr"]),
        f"coverage@{k}": coverage(np.vstack(tops), n_items) if tops else float("nan"),
        f"popularity@{k}": _mean(values["popularity"]),
        "heldout_popularity": _mean(np.concatenate(heldout_pop)) if heldout_pop else float("nan"),
        "k": k,
        "users_evaluated": int(users.size),
        "users_skipped": int((~keep).sum()),
        "heldout_items": int(n_pos.sum()),
        "route": route if route == "scores" or depth is None else f"recommend (depth {depth})",
    }
    if not pooled:
        summary["auc_note"] = f"not computed: more than {POOLED_AUC_MAX_PAIRS:,} (user, candidate) pairs"
    return OfflineResult(users, values, summary)


def _mean(values: np.ndarray) -> float:
    return float(np.nanmean(values)) if values.size and not np.isnan(values).all() else float("nan")


def offline_evaluate(config: OfflineConfig, world: World | None = None) -> tuple[OfflineResult, Path]:
    """Split, fit, rank, score and write ``users.csv`` and ``summary.json``; returns the result and the
    output directory.

    Raises:
        ValueError: a bad configuration or agent option, an agent whose rankings are malformed, or a world
            in which no user has a held-out item.
        AgentCheckError: an agent that is not built in and breaks the protocol.
        AgentRaised: the agent raised.
    """
    started = time.perf_counter()
    world = make_world(config.env) if world is None else world
    split = holdout_split(world, config.holdout)
    agent = checked_agent(RunConfig(env=config.env, agent=config.agent, seed=config.seed,
                                    agent_options=dict(config.agent_options), progress=False), world)
    agent_seed, _ = derive_seeds(config.seed, 0)
    call_agent(agent.fit, split.data, seed=agent_seed)
    result = evaluate_rankings(agent, split, split.data.users(config.split), k=config.k, depth=config.depth)
    if not result.users.size:
        raise ValueError(f"no user of {config.env!r} has a held-out item to rank (holdout {split.source})")
    result.summary = {"agent": config.agent, "env": config.env, "seed": config.seed, "split": config.split,
                      "holdout": split.source, **result.summary,
                      "wall_s": round(time.perf_counter() - started, 3), "config": asdict(config)}
    directory = new_run_directory(Path(config.out), config.env, config.agent, config.seed, prefix="offline__")
    atomic_write_text(directory / "users.csv", users_csv(result, config.k))
    atomic_write_text(directory / "summary.json", json.dumps(_jsonable(result.summary), indent=2) + "\n")
    return result, directory


def users_csv(result: OfflineResult, k: int) -> str:
    """``user_id,n_candidates,n_heldout,auc,hits@K,recall@K,ndcg@K,rr,popularity@K``, one row per user."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    names = ("n_candidates", "n_heldout", "auc", "hits", "recall", "ndcg", "rr", "popularity")
    writer.writerow(["user_id", *(f"{n}@{k}" if n in ("hits", "recall", "ndcg", "popularity") else n
                                  for n in names)])
    for row, user in enumerate(result.users):
        writer.writerow([int(user), *(_cell(result.columns[n][row]) for n in names)])
    return out.getvalue()


def _cell(value: Any) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() else f"{value:.6g}" if not np.isnan(value) else ""


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(v) for key, v in value.items()}
    if isinstance(value, float) and np.isnan(value):
        return None
    return value


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """The printed summary: one line per metric."""
    k = summary["k"]
    lines = [f"{summary['agent']} on {summary['env']} ({summary['split']}, held out: {summary['holdout']}, "
             f"seed {summary['seed']}, ranked by {summary['route']}): {summary['users_evaluated']:,} users, "
             f"{summary['heldout_items']:,} held-out items"]
    for key in ("auc", "group_auc", "weighted_auc", f"recall@{k}", f"ndcg@{k}", "mrr", f"coverage@{k}",
                f"popularity@{k}", "heldout_popularity"):
        value = summary.get(key)
        lines.append(f"  {key:20} {'n/a' if value is None or value != value else f'{value:.4f}'}")
    return lines

