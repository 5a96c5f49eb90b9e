"""The full test protocol at the DataLab scale: fit, checkpoint, and N episodes with checkpoint restore.

    python benchmarks/protocol_speed.py [--env datalab] [--agent hybrid] [--episodes 5] [--seed 0]
                                        [--set KEY=VALUE ...]

Plays the test population (all users until they leave) through the batched path; every step includes the
agent's recommend and update (learning). Prints one JSON object with ``steps_per_s`` (agent + env user-steps
per second over the episodes, checkpoint restores included), ``fit_seconds`` (text encoding included unless
cached), ``peak_rss_bytes`` and the mean score.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

from agents.registry import make_agent
from envs.batch_env import BatchSlateEnv
from recsim_lab.cli.commands import parse_options
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
    args = parser.parse_args()

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


if __name__ == "__main__":
    main()
