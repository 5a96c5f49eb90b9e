"""Does offline predict online? Every agent's offline metrics beside its online normalised score, per world,
and the rank correlation (Kendall's tau-b) between each offline metric and the online score.

    python benchmarks/offline_vs_online.py [--worlds small,default,seed1] [--ml100k WORLD_DIR]
                                           [--agents all] [--episodes 2] [--seed 0] [--k 10]
                                           [--csv PATH] [--plot PATH]

Worlds: preset names, ``seedN`` (the default world's generator with ``SyntheticConfig(seed=N)``) or world
directories; ``--ml100k DIR`` adds an imported MovieLens 100K world (``recsim-lab data import movielens-100k``)
under the name ``ml100k``.

Per world and agent:

- **offline**: :func:`recsim_lab.evaluation.offline.holdout_split` (a synthetic world: each user's last 5
  clicks; an imported world: its held-out futures), the agent fitted on the visible part with the seed
  ``recsim-lab offline`` uses, every user's candidates ranked, and the metrics of
  :mod:`recsim_lab.evaluation.offline_metrics` (as ``recsim-lab offline --env W --agent A --seed S``, without
  its files). ``random`` is ranked through ``recommend`` with a depth of half the catalogue (its sampler
  cannot return a full ranking; the tie below leaves its expected AUC at 0.5); ``oracle`` with its ``depth``
  option set to the catalogue size.
- **online**: the test population through the runner (fit on the whole visible data, checkpoint, restore
  before each of ``--episodes`` episodes, batched path), ``normalised = (agent - random) / (oracle - random)``;
  ``random`` and ``oracle`` are always run (added when not listed).

Tau is computed over the agents **without the oracle** (``tau``) and with it (``tau_with_oracle``): the
oracle ranks by the hidden truth, is the online yardstick (normalised 1 by construction) and no one can
deploy it, so it is a check that a metric puts the truth first rather than a data point of the
correlation. Tau-b (ties counted as in ``scipy.stats.kendalltau``), pure NumPy. ``popularity@K`` is a bias
(lower: less popular items recommended), so a negative tau is what a useful bias measure would show.

Prints one JSON object ``{"rows": [...], "tau": [...]}``; writes the rows to ``--csv`` (one line per world and
agent), the taus beside it (``*_tau.csv``), and a PNG (``--plot``: each metric's tau per world, and the
best metric against the online score).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from agents.registry import make_agent, registered_agents
from recsim_lab.evaluation.offline import evaluate_rankings, holdout_split
from recsim_lab.run.runner import run_episodes
from recsim_lab.run.scoring import summarize
from recsim_lab.seeding import derive_seeds
from recsim_lab.worlds.presets import make_world
from recsim_lab.worlds.synthetic import SyntheticConfig, build_synthetic_world
from recsim_lab.worlds.world import World

REFERENCES = ("random", "oracle")
PRIVILEGED = ("oracle",)
"""Agents left out of ``tau`` (kept in ``tau_with_oracle``)."""


def metric_names(k: int) -> tuple[str, ...]:
    return ("group_auc", "weighted_auc", "auc", f"recall@{k}", f"ndcg@{k}", "mrr", f"coverage@{k}", f"popularity@{k}")


def kendall_tau_b(x: np.ndarray, y: np.ndarray) -> float:
    """Kendall's tau-b of two equally long vectors (pairs where either is NaN are dropped first).

    ``(concordant - discordant) / sqrt((n0 - ties_x) * (n0 - ties_y))`` over all pairs, ``n0 = n(n-1)/2``,
    ``ties_x`` the pairs tied in ``x`` (joint ties included), as ``scipy.stats.kendalltau`` (variant
    ``"b"``). NaN when fewer than two values remain or either vector is constant.
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    if x.size < 2:
        return float("nan")
    i, j = np.triu_indices(x.size, k=1)
    dx, dy = np.sign(x[i] - x[j]), np.sign(y[i] - y[j])
    n0 = i.size
    ties_x, ties_y = int((dx == 0).sum()), int((dy == 0).sum())
    denominator = math.sqrt((n0 - ties_x) * (n0 - ties_y))
    return float((dx * dy).sum() / denominator) if denominator else float("nan")


def build_world(spec: str) -> tuple[str, World]:
    """``(name, world)`` of a preset, ``seedN`` or a world directory."""
    if spec.startswith("seed") and spec[4:].isdigit():
        return spec, build_synthetic_world(SyntheticConfig(seed=int(spec[4:])), name=spec)
    return (Path(spec).name if Path(spec).is_dir() else spec), make_world(spec)


def offline_row(world: World, name: str, seed: int, k: int) -> dict[str, Any]:
    """The offline summary of agent ``name`` on ``world`` (see the module docstring)."""
    start = time.perf_counter()
    split = holdout_split(world)
    # oracle: ranked up front to the full catalogue (its recommend(users, k) fails for k above twice its
    # default depth of 256 on a catalogue larger than that; see benchmarks/README.md)
    agent = make_agent(name, world=world, **({"depth": world.dataset.n_items} if name == "oracle" else {}))
    agent_seed, _ = derive_seeds(seed, 0)
    agent.fit(split.data, seed=agent_seed)
    depth = split.data.n_items // 2 if name == "random" else None
    result = evaluate_rankings(agent, split, split.data.users("test"), k=k, depth=depth)
    summary = {key: result.summary[key] for key in (*metric_names(k), "heldout_popularity", "route")}
    return {**summary, "holdout": split.source, "offline_seconds": time.perf_counter() - start}


def online_row(world: World, name: str, seed: int, episodes: int) -> dict[str, Any]:
    """Mean score and click rate of agent ``name`` played through the runner."""
    start = time.perf_counter()
    agent = make_agent(name, world=world)
    with tempfile.TemporaryDirectory() as checkpoint:
        results = run_episodes(world, agent, episodes=episodes, seed=seed, checkpoint=Path(checkpoint),
                               progress=False)
    summary = summarize(results, world.rules.horizon)
    return {"mean_score": summary["mean_score"], "click_rate": summary["click_rate"],
            "steps_per_s": summary["steps_per_s"], "online_seconds": time.perf_counter() - start}


def taus(rows: list[dict[str, Any]], k: int) -> list[dict[str, Any]]:
    """Per world and offline metric: tau against the normalised online score, without and with the oracle."""
    out = []
    for world in dict.fromkeys(r["world"] for r in rows):
        here = [r for r in rows if r["world"] == world]
        for metric in metric_names(k):
            entry: dict[str, Any] = {"world": world, "metric": metric}
            without = [r for r in here if r["agent"] not in PRIVILEGED]
            for label, subset in (("tau", without), ("tau_with_oracle", here)):
                x = np.array([np.nan if r[metric] is None else r[metric] for r in subset], dtype=np.float64)
                y = np.array([r["normalised"] for r in subset], dtype=np.float64)
                entry[label] = kendall_tau_b(x, y)
                entry[f"n_{label}"] = int((~(np.isnan(x) | np.isnan(y))).sum())
            out.append(entry)
    return out


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, columns, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({key: (f"{v:.6g}" if isinstance(v, float) else v) for key, v in row.items()})


def plot(path: Path, rows: list[dict[str, Any]], tau_rows: list[dict[str, Any]], k: int) -> str:
    """Left: each metric's tau (without the oracle) per world; right: the metric of highest mean tau against
    the online normalised score, one colour per world. Returns that metric's name."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = metric_names(k)
    worlds = list(dict.fromkeys(r["world"] for r in rows))
    mean_tau = {m: np.nanmean([t["tau"] for t in tau_rows if t["metric"] == m]) for m in metrics}
    best = max((m for m in metrics if not m.startswith("popularity")), key=lambda m: mean_tau[m])
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), dpi=90, gridspec_kw={"width_ratios": [3, 2]})
    width = 0.8 / max(len(worlds), 1)
    for w, world in enumerate(worlds):
        values = [next(t["tau"] for t in tau_rows if t["world"] == world and t["metric"] == m) for m in metrics]
        left.bar(np.arange(len(metrics)) + (w - (len(worlds) - 1) / 2) * width, values, width, label=world)
        here = [r for r in rows if r["world"] == world]
        right.scatter([r[best] for r in here], [r["normalised"] for r in here], s=18, label=world)
    left.axhline(0, color="black", linewidth=0.6)
    left.set_xticks(np.arange(len(metrics)), metrics, rotation=30, ha="right", fontsize=8)
    left.set_ylim(-1, 1)
    left.set_ylabel("Kendall tau-b with online score")
    left.set_title("offline metric vs online normalised score (oracle left out)", fontsize=9)
    left.legend(fontsize=7)
    right.set_xlabel(f"{best} (offline)")
    right.set_ylabel("online normalised score")
    right.set_title(f"{best}: every agent, each world", fontsize=9)
    right.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worlds", default="small,default,seed1", help="comma-separated presets, seedN or dirs")
    parser.add_argument("--ml100k", default=None, metavar="WORLD_DIR", help="an imported ML-100K world to add")
    parser.add_argument("--agents", default="all", help="comma-separated agent names, or 'all' (every registered)")
    parser.add_argument("--episodes", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--csv", default="runs/offline_vs_online.csv", help="rows CSV (taus: *_tau.csv beside it)")
    parser.add_argument("--plot", default="runs/offline_vs_online.png", help="PNG to write ('' for none)")
    args = parser.parse_args(argv)
    names = list(registered_agents()) if args.agents == "all" else args.agents.split(",")
    names = [*(r for r in REFERENCES if r not in names), *names]
    specs = [s for s in args.worlds.split(",") if s]
    rows: list[dict[str, Any]] = []
    for spec in [*specs, *([args.ml100k] if args.ml100k else [])]:
        label, world = build_world(spec)
        if spec == args.ml100k:
            label = "ml100k"
        here = []
        for name in names:
            row = {"world": label, "agent": name, **online_row(world, name, args.seed, args.episodes),
                   **offline_row(world, name, args.seed, args.k)}
            here.append(row)
            print(f"{label:10} {name:15} online {row['mean_score']:.5f}  group_auc {row['group_auc']:.4f}  "
                  f"ndcg@{args.k} {row[f'ndcg@{args.k}']:.4f}  "
                  f"({row['online_seconds']:.0f} s + {row['offline_seconds']:.0f} s)", file=sys.stderr, flush=True)
        low = next(r["mean_score"] for r in here if r["agent"] == "random")
        high = next(r["mean_score"] for r in here if r["agent"] == "oracle")
        for row in here:
            row["normalised"] = (row["mean_score"] - low) / (high - low)
        rows.extend(here)
    tau_rows = taus(rows, args.k)
    best = None
    if args.csv:
        path = Path(args.csv)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_csv(path, rows)
        write_csv(path.with_name(f"{path.stem}_tau.csv"), tau_rows)
    if args.plot:
        Path(args.plot).parent.mkdir(parents=True, exist_ok=True)
        best = plot(Path(args.plot), rows, tau_rows, args.k)
    print(json.dumps(_jsonable({"rows": rows, "tau": tau_rows, "plotted_metric": best,
                                "config": {**vars(args), "agents": names}})))


def _jsonable(value: Any) -> Any:
    """NaN as ``null`` (strict JSON)."""
    if isinstance(value, dict):
        return {key: _jsonable(v) for key, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return None if isinstance(value, float) and math.isnan(value) else value


if __name__ == "__main__":
    main()
