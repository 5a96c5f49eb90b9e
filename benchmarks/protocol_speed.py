"""The full test protocol at the DataLab scale: fit, checkpoint, and N episodes with checkpoint restore.

    python benchmarks/protocol_speed.py [--env datalab] [--agent hybrid] [--episodes 5] [--seed 0]
                                        [--set KEY=VALUE ...] [--isolation [--repeat 3]]

Plays the test population (all users until they leave) through the batched path; every step includes the
agent's recommend and update (learning). Prints one JSON object with ``steps_per_s`` (agent + env user-steps
per second over the episodes, checkpoint restores included), ``fit_seconds`` (text encoding included unless
cached), ``peak_rss_bytes`` and the mean score.

With ``--isolation`` it runs ``recsim-lab evaluate`` instead, side by side in one run: ``--insecure`` (a plain
child process) and isolated (bwrap namespaces, cgroup), alternating, ``--repeat`` times each; it prints each
mode's wall times (start, fit, checkpoint, all episodes), their medians, the overhead of isolation and whether
both gave the same ``scores.csv``.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from agents.registry import make_agent
from envs.batch_env import BatchSlateEnv
from recsim_lab.cli.commands import parse_options
from recsim_lab.evaluation.evaluate import EvaluateConfig, evaluate
from recsim_lab.run.episode import play_episode
from recsim_lab.seeding import derive_seeds
from recsim_lab.worlds.presets import make_world


def peak_rss_bytes() -> int:
    """Peak resident set size of this process (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="datalab")
    parser.add_argument("--agent", default="hybrid")
    parser.add_argument("--episodes", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", dest="options", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--isolation", action="store_true", help="evaluate --insecure vs isolated, side by side")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each mode with --isolation")
    args = parser.parse_args()
    if args.isolation:
        isolation_overhead(args)
        return

    start = time.perf_counter()
    world = make_world(args.env)
    build_seconds = time.perf_counter() - start
    agent = make_agent(args.agent, world=world, **parse_options(args.options))
    agent_seed, episode_seeds = derive_seeds(args.seed, args.episodes)
    start = time.perf_counter()
    agent.fit(world.dataset, seed=agent_seed)
    fit_seconds = time.perf_counter() - start
    env = BatchSlateEnv(world)
    steps, scores = 0, []
    with tempfile.TemporaryDirectory() as checkpoint:
        agent.save(Path(checkpoint))
        start = time.perf_counter()
        for episode, seed in enumerate(episode_seeds):
            agent.load(Path(checkpoint))
            result = play_episode(env, agent, episode=episode, seed=seed, progress=False)
            steps += result.steps
            scores.append(float(result.session_length.mean() / world.rules.horizon))
        play_seconds = time.perf_counter() - start
    print(json.dumps({
        "env": args.env, "agent": args.agent, "options": parse_options(args.options),
        "n_items": world.dataset.n_items, "n_users": world.dataset.n_users, "episodes": args.episodes,
        "steps": steps, "play_seconds": play_seconds, "steps_per_s": steps / play_seconds,
        "fit_seconds": fit_seconds, "world_build_seconds": build_seconds,
        "mean_score": sum(scores) / len(scores), "peak_rss_bytes": peak_rss_bytes(),
    }, indent=2))


def isolation_overhead(args: argparse.Namespace) -> None:
    """``evaluate`` without and with isolation, alternating, on one world built once."""
    world = make_world(args.env)
    walls: dict[str, list[float]] = {"insecure": [], "isolated": []}
    scores: dict[str, set[bytes]] = {"insecure": set(), "isolated": set()}
    with tempfile.TemporaryDirectory() as out:
        for _ in range(args.repeat):
            for mode in walls:
                config = EvaluateConfig(agent=args.agent, env=args.env, episodes=args.episodes, seed=args.seed,
                                        out=out, progress=False, agent_options=parse_options(args.options),
                                        insecure=mode == "insecure")
                outcome = evaluate(config, world)
                if not outcome.ok:
                    raise SystemExit(f"{mode}: {outcome.summary['status']}: {outcome.summary['reason']}")
                walls[mode].append(outcome.summary["evaluation"]["wall_s"])
                scores[mode].add((outcome.directory / "scores.csv").read_bytes())
    median = {mode: statistics.median(times) for mode, times in walls.items()}
    print(json.dumps({
        "env": args.env, "agent": args.agent, "episodes": args.episodes, "repeat": args.repeat,
        "wall_s": walls, "median_s": median,
        "overhead": median["isolated"] / median["insecure"] - 1,
        "same_scores": len(scores["insecure"] | scores["isolated"]) == 1,
    }, indent=2))


if __name__ == "__main__":
    main()
