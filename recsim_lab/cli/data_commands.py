"""``recsim-lab data import`` and ``recsim-lab data inspect``: real click logs as worlds, and their report.

``import FORMAT PATH --out WORLD_DIR`` runs the pipeline of :mod:`recsim_lab.worlds.importing`. ``inspect WORLD_DIR``
prints what a world holds (users, items, history and future lengths), the calibration figures, the
fidelity of the hidden truth to the held-out log (recomputed, not read back), and quick scores: one
episode of ``random``, ``popularity`` and ``oracle`` on the batched rules, with a fixed seed, on at most
``--users`` users; and whether the world keeps the log's popularity (Spearman's rho between the log's clicks per
item and a simulated random policy's, :mod:`recsim_lab.sim.random_policy`). Heavy modules are imported only
when a command runs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from agents.registry import make_agent
from envs.batch_env import BatchSlateEnv
from recsim_lab.run.episode import play_episode
from recsim_lab.sim.random_policy import popularity_agreement
from recsim_lab.validation import check_scalar
from recsim_lab.worlds.calibration import CalibrationConfig, fidelity
from recsim_lab.worlds.catalogue_users import CatalogueUsersConfig
from recsim_lab.worlds.importing import FORMATS, ImportConfig, import_world
from recsim_lab.worlds.world import CHOICE_MODELS, World

QUICK_AGENTS = ("random", "popularity", "oracle")


def add_data_commands(commands: argparse._SubParsersAction) -> None:
    """Add the ``data`` command group (``import``, ``inspect``) to the top-level subparsers."""
    data = commands.add_parser("data", help="import a real click log as a world; inspect a world",
                               description="Turn a public click log into a world directory, or report on one.")
    actions = data.add_subparsers(title="data commands", required=True, metavar="ACTION")

    load = actions.add_parser(
        "import", help="turn a click log into a world directory",
        description="Parse PATH, split each user's time-ordered clicks into a visible history and a held-out "
                    "future, fit the hidden truth on the whole log, and write WORLD_DIR (user_data.json, "
                    "item_data.json, world.npz, ids.json, world.json); nothing is written unless it all "
                    "succeeds.")
    load.add_argument("format", choices=tuple(FORMATS), metavar="FORMAT", help=f"one of {', '.join(FORMATS)}")
    load.add_argument("path", type=Path, metavar="PATH",
                      help="the dataset's directory (a JSON-lines file for news-category)")
    load.add_argument("--out", type=Path, required=True, metavar="WORLD_DIR", help="world directory to write")
    load.add_argument("--min-history", type=int, default=5, metavar="N",
                      help="drop users with fewer distinct clicked items (default: %(default)s)")
    load.add_argument("--holdout", type=float, default=0.5,
                      help="share of each user's clicks held out as their future, in (0, 1) (default: %(default)s)")
    load.add_argument("--seed", type=int, default=0, help="seed of the fit / generated users (default: %(default)s)")
    load.add_argument("--choice", choices=CHOICE_MODELS, default="softmax",
                      help="choice model: softmax over the calibrated truth, or replay of the held-out log "
                           "(default: %(default)s)")
    load.add_argument("--factors", type=int, default=32, help="latent dimension of the fit (default: %(default)s)")
    load.add_argument("--users", type=int, default=2000,
                      help="news-category only: users to generate (default: %(default)s)")
    load.add_argument("--force", action="store_true", help="replace WORLD_DIR when it exists")
    load.set_defaults(command=_import)

    report = actions.add_parser("inspect", help="report on a world directory",
                                description="Users, items, history lengths, calibration and fidelity figures, "
                                            "and one quick episode of random / popularity / oracle.")
    report.add_argument("directory", type=Path, metavar="WORLD_DIR")
    report.add_argument("--users", type=int, default=1000,
                        help="at most this many users (a fixed random sample) play the quick episodes "
                             "(default: %(default)s)")
    report.add_argument("--seed", type=int, default=0, help="seed of the quick episodes (default: %(default)s)")
    report.add_argument("--json", action="store_true", help="print the report as one JSON object")
    report.set_defaults(command=_inspect)


def _import(args: argparse.Namespace) -> int:

    config = ImportConfig(min_history=args.min_history, holdout=args.holdout, seed=args.seed, choice=args.choice,
                          calibration=CalibrationConfig(factors=args.factors, seed=args.seed),
                          catalogue_users=CatalogueUsersConfig(n_users=args.users, seed=args.seed))
    imported = import_world(args.format, args.path, args.out, config, force=args.force)
    world = imported.world
    info = world.info
    split, calibration = info["split"], info["calibration"]
    fid = calibration["fidelity"]
    print(f"{args.format} {args.path} -> {args.out}")
    for path in imported.removed:
        print(f"  removed a killed import's staging folder: {path}")
    print(f"  users {world.dataset.n_users:,} ({split['users_dropped']:,} dropped below --min-history), "
          f"items {world.dataset.n_items:,} ({split['items_dropped']:,} never clicked, dropped), "
          f"clicks {split['visible_clicks']:,} visible + {split['future_clicks']:,} held out")
    for key in ("unknown_news", "unknown_items"):
        unknown = info["provenance"].get(key)
        if unknown and unknown["ids"]:
            print(f"  dropped {unknown['mentions']:,} mentions of {unknown['ids']:,} ids missing from the "
                  f"item file")
    print(f"  scale {calibration['scale']:.4g}: {calibration['scale_rule']} (k = {calibration['attractive_items_k']})")
    if fid["users_with_future"]:
        print(f"  recall@{fid['k']} of held-out items {fid['recall_at_k']:.3f} (chance "
              f"{fid['chance_recall_at_k']:.4f}); held-out items above the threshold "
              f"{fid['future_above_threshold']:.1%}")
    print("  seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in imported.seconds.items()))
    print(f"  choice model: {world.rules.choice}. Next: recsim-lab data inspect {args.out}")
    return 0


def inspect_world(directory: str | Path, max_users: int = 1000, seed: int = 0) -> dict[str, Any]:
    """The report of ``recsim-lab data inspect`` as a dict (see the module docstring)."""

    world = World.load(directory)
    data = world.dataset
    histories = [len(h) for h in data.histories]
    report: dict[str, Any] = {
        "directory": str(directory), "name": world.name, "choice": world.rules.choice,
        "users": data.n_users, "train_users": data.n_train_users, "items": data.n_items, "dim": world.dim,
        "history_length": _quantiles(histories),
        "provenance": world.info.get("provenance"),
        "calibration": {k: v for k, v in world.info.get("calibration", {}).items() if k != "fidelity"} or None,
    }
    if world.futures is not None:
        report["future_length"] = _quantiles([len(f) for f in world.futures])
        report["fidelity"] = fidelity(world.user_embeddings, world.item_embeddings, data.histories,
                                      world.futures, world.rules.no_click_threshold)
    report["quick_scores"] = quick_scores(world, max_users=max_users, seed=seed)
    report["popularity"] = popularity_check(world, max_users=max_users, seed=seed)
    return report


def sampled_users(world: Any, max_users: int, seed: int) -> tuple[np.ndarray, list[np.random.SeedSequence]]:
    """At most ``max_users`` test users (a fixed random sample when there are more), and the streams of
    the quick episodes and the popularity check: ``(users, [episode, agent, popularity])``."""
    check_scalar(max_users, "--users", int, min_val=1)
    everyone = world.dataset.users("test")
    sample_rng, *streams = np.random.SeedSequence(seed).spawn(4)
    users = everyone if everyone.size <= max_users else np.sort(
        np.random.default_rng(sample_rng).choice(everyone, size=max_users, replace=False))
    return users, streams


def quick_scores(world: Any, agents: tuple[str, ...] = QUICK_AGENTS, max_users: int = 1000, seed: int = 0
                 ) -> dict[str, Any]:
    """One episode per agent on the batched rules (every active user served each step), fixed seed.

    Returns:
        ``{"users": n, "seed": seed, agent: {"click_rate", "mean_score", "steps"}, ...}``.
    """
    users, (episode_seed, agent_seed, _) = sampled_users(world, max_users, seed)
    out: dict[str, Any] = {"users": int(users.size), "seed": seed}
    for name in agents:
        agent = make_agent(name, world=world)
        agent.fit(world.dataset, seed=int(agent_seed.generate_state(1)[0]))
        result = play_episode(BatchSlateEnv(world, users=users), agent, episode=0, seed=episode_seed,
                              progress=False)
        out[name] = {"click_rate": int(result.clicks.sum()) / result.steps,
                     "mean_score": float(result.session_length.mean() / world.rules.horizon), "steps": result.steps}
    return out


def popularity_check(world: Any, max_users: int = 1000, seed: int = 0) -> dict[str, Any]:
    """:func:`~recsim_lab.sim.random_policy.popularity_agreement` on the quick scores' users; its seed is
    drawn from ``seed``."""
    users, (_, _, stream) = sampled_users(world, max_users, seed)
    report = popularity_agreement(world, users, seed=int(stream.generate_state(1)[0]))
    return {**report, "seed": seed}


def _quantiles(values: list[int]) -> dict[str, float]:
    if not values:
        return {}
    q = np.quantile(values, [0.0, 0.25, 0.5, 0.75, 1.0])
    return {"min": float(q[0]), "q25": float(q[1]), "median": float(q[2]), "q75": float(q[3]), "max": float(q[4]),
            "mean": float(np.mean(values))}


def _inspect(args: argparse.Namespace) -> int:
    report = inspect_world(args.directory, max_users=args.users, seed=args.seed)
    if args.json:
        print(json.dumps(report, indent=2, sort_keys=True, default=str))
        return 0
    print(format_report(report))
    return 0


def format_report(report: dict[str, Any]) -> str:
    """The human-readable form of :func:`inspect_world`'s report."""
    lines = [f"world {report['directory']} ({report['name']}), choice model: {report['choice']}"]
    source = report.get("provenance")
    if source:
        lines.append(f"  source: {source.get('format')} {source.get('path')}")
    lines.append(f"  users {report['users']:,} ({report['train_users']:,} train), items {report['items']:,}, "
                 f"dims {report['dim']}")
    for key, label in (("history_length", "visible history length"), ("future_length", "held-out future length")):
        q = report.get(key)
        if q:
            lines.append(f"  {label}: min {q['min']:g}, 25% {q['q25']:g}, median {q['median']:g}, "
                         f"75% {q['q75']:g}, max {q['max']:g} (mean {q['mean']:.1f})")
    calibration = report.get("calibration")
    if calibration:
        lines.append(f"  calibration: {calibration.get('method')}")
        lines.append(f"    scale {calibration.get('scale', float('nan')):.4g}: {calibration.get('scale_rule')} "
                     f"(k = {calibration.get('attractive_items_k')})")
    fid = report.get("fidelity")
    if fid and fid["users_with_future"]:
        lines.append(f"  fidelity: recall@{fid['k']} of held-out items among unseen items "
                     f"{fid['recall_at_k']:.3f} (chance {fid['chance_recall_at_k']:.4f}, "
                     f"{fid['users_with_future']:,} users with a future)")
        lines.append(f"    held-out items above the no-click threshold {fid['future_above_threshold']:.1%}; "
                     f"median user has {fid['median_attractive_items']:g} unseen items above it")
    quick = report["quick_scores"]
    lines.append(f"  quick scores (1 episode, seed {quick['seed']}, {quick['users']:,} users, batched):")
    for name in QUICK_AGENTS:
        if name in quick:
            s = quick[name]
            lines.append(f"    {name:11} click rate {s['click_rate']:.4f}   mean score {s['mean_score']:.5f}   "
                         f"steps {s['steps']:,}")
    pop = report.get("popularity")
    if pop:
        rho = "undefined" if pop["spearman"] is None else f"{pop['spearman']:.3f}"
        lines.append(f"  popularity kept: Spearman's rho {rho} between the log's clicks per item and a random "
                     f"policy's")
        lines.append(f"    ({pop['slates_per_user']} random slates for each of {pop['users']:,} users, seed "
                     f"{pop['seed']}; 1: the log's popular items are the world's, 0 or below: lost or inverted)")
    return "\n".join(lines)
