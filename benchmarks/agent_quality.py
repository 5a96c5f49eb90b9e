"""Quality and cost of the agents on one world: mean score, click rate, normalised score, steps/s, peak memory.

    python benchmarks/agent_quality.py [--env default] [--episodes 5] [--seed 0] [--agents random,popularity,...]
                                       [--set hybrid.mode=slots ...] [--no-isolate]

``--agents all`` runs every registered agent (``recsim-lab agents``: the built-ins and any plugin). Each
agent plays the test population through the runner (fit once, checkpoint, restore before every episode,
batched path). ``normalised = (agent - random) / (oracle - random)`` (empty unless both are in the list).
``steps_per_s``: agent + env user-steps per second over the episodes' play (recommend, env step and the
agent's update; fit and checkpoint restores excluded). ``peak_rss_bytes``: the peak resident set size of the
process that built the world and fitted and played that one agent: each agent runs in its own child
process (this script again, ``--worker``), so the figure is that agent's, world, interpreter and libraries
included (``--no-isolate`` runs them all in this process: faster, but the peak then only grows). Prints a
table, then one JSON object ``{"<agent>": {"mean_score", "click_rate", "normalised", "steps_per_s",
"peak_rss_bytes", "fit_and_play_seconds", "seed"}, ...}``. :mod:`world_suite` plays every agent on several worlds
and seeds through :func:`play` / :func:`isolated`.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agents.registry import make_agent, registered_agents
from recsim_lab.cli.commands import parse_options
from recsim_lab.run.runner import run_episodes
from recsim_lab.run.scoring import summarize
from recsim_lab.worlds.presets import make_world

AGENTS = ("random", "popularity", "funk_svd", "content", "hybrid", "oracle")


def peak_rss_bytes() -> int:
    """Peak resident set size of this process (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def play(env: str, name: str, episodes: int, seeds: Sequence[int], options: dict[str, Any]) -> list[dict[str, Any]]:
    """One agent on one world through the runner, once per run seed (a fresh agent, fitted with the seed's
    agent stream, each time): one row of the module docstring's figures per seed, with ``seed``.
    ``peak_rss_bytes`` is the process's peak so far (so the last row's covers every seed)."""
    world = make_world(env)
    rows = []
    for seed in seeds:
        start = time.perf_counter()
        agent = make_agent(name, world=world, **options)
        with tempfile.TemporaryDirectory() as checkpoint:
            episodes_played = run_episodes(world, agent, episodes=episodes, seed=seed, checkpoint=Path(checkpoint),
                                           progress=False)
        summary = summarize(episodes_played, world.rules.horizon)
        rows.append({"seed": seed, "mean_score": summary["mean_score"], "click_rate": summary["click_rate"],
                     "steps": summary["steps"], "steps_per_s": summary["steps_per_s"],
                     "peak_rss_bytes": peak_rss_bytes(), "fit_and_play_seconds": time.perf_counter() - start})
    return rows


def isolated(env: str, name: str, episodes: int, seeds: Sequence[int], options: dict[str, Any]
             ) -> list[dict[str, Any]]:
    """:func:`play` in a child process (its own peak memory)."""
    job = {"env": env, "name": name, "episodes": episodes, "seeds": list(seeds), "options": options}
    done = subprocess.run([sys.executable, __file__, "--worker", json.dumps(job)], capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"agent {name} failed:\n{done.stderr}")
    return json.loads(done.stdout.splitlines()[-1])


def normalise(score: float, random: float | None, oracle: float | None) -> float | None:
    """``(score - random) / (oracle - random)``; ``None`` unless both references are known and differ."""
    if random is None or oracle is None or oracle == random:
        return None
    return (score - random) / (oracle - random)


def agent_options(settings: list[str]) -> dict[str, dict[str, Any]]:
    """``--set AGENT.KEY=VALUE`` flags as ``{agent: {key: value}}``."""
    options: dict[str, dict[str, Any]] = {}
    for key, value in parse_options(settings).items():
        agent, _, option = key.partition(".")
        options.setdefault(agent, {})[option] = value
    return options


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="default")
    parser.add_argument("--episodes", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--agents", default=",".join(AGENTS),
                        help="comma-separated agent names, or 'all' (every registered agent)")
    parser.add_argument("--set", dest="options", action="append", default=[], metavar="AGENT.KEY=VALUE",
                        help="an agent option, e.g. hybrid.mode=slots (repeatable)")
    parser.add_argument("--no-isolate", action="store_true", help="run every agent in this process")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        job = json.loads(args.worker)
        print(json.dumps(play(job["env"], job["name"], job["episodes"], job["seeds"], job["options"])))
        return
    options = agent_options(args.options)
    names = list(registered_agents()) if args.agents == "all" else args.agents.split(",")
    results = {}
    for name in names:
        runner = play if args.no_isolate else isolated
        results[name] = runner(args.env, name, args.episodes, [args.seed], options.get(name, {}))[0]
    low = results.get("random", {}).get("mean_score")
    high = results.get("oracle", {}).get("mean_score")
    for row in results.values():
        row["normalised"] = normalise(row["mean_score"], low, high)
    print(f"{'agent':15} {'mean score':>11} {'click rate':>11} {'normalised':>11} {'steps/s':>9} "
          f"{'peak MiB':>9} {'seconds':>8}")
    for name, row in results.items():
        normalised = "" if row["normalised"] is None else f"{row['normalised']:.3f}"
        print(f"{name:15} {row['mean_score']:11.5f} {row['click_rate']:11.3f} {normalised:>11} "
              f"{row['steps_per_s']:9,.0f} {row['peak_rss_bytes'] / 2**20:9.0f} {row['fit_and_play_seconds']:8.1f}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
