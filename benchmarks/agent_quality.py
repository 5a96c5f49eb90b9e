"""Quality of the built-in agents on one world: mean score, click rate and normalised score.

    python benchmarks/agent_quality.py [--env default] [--episodes 5] [--seed 0] [--agents random,popularity,...]
                                       [--set hybrid.mode=slots ...]

Each agent plays the test population through the runner (fit once, checkpoint, restore before every
episode, batched path). ``normalised = (agent - random) / (oracle - random)``. Prints a table, then one
JSON object ``{"<agent>": {"mean_score", "click_rate", "normalised", "fit_and_play_seconds"}, ...}``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from agents.registry import make_agent
from recsim_lab.cli.commands import parse_options
from recsim_lab.run.runner import run_episodes
from recsim_lab.run.scoring import summarize
from recsim_lab.worlds.presets import make_world

AGENTS = ("random", "popularity", "funk_svd", "content", "hybrid", "oracle")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="default")
    parser.add_argument("--episodes", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--agents", default=",".join(AGENTS), help="comma-separated agent names")
    parser.add_argument("--set", dest="options", action="append", default=[], metavar="AGENT.KEY=VALUE",
                        help="an agent option, e.g. hybrid.mode=slots (repeatable)")
    args = parser.parse_args()
    world = make_world(args.env)
    options: dict[str, dict] = {}
    for key, value in parse_options(args.options).items():
        agent, _, option = key.partition(".")
        options.setdefault(agent, {})[option] = value
    results = {}
    for name in args.agents.split(","):
        start = time.perf_counter()
        agent = make_agent(name, world=world, **options.get(name, {}))
        with tempfile.TemporaryDirectory() as checkpoint:
            episodes = run_episodes(world, agent, episodes=args.episodes, seed=args.seed,
                                    checkpoint=Path(checkpoint), progress=False)
        summary = summarize(episodes, world.rules.horizon)
        results[name] = {"mean_score": summary["mean_score"], "click_rate": summary["click_rate"],
                         "fit_and_play_seconds": time.perf_counter() - start}
    low = results.get("random", {}).get("mean_score")
    high = results.get("oracle", {}).get("mean_score")
    for row in results.values():
        row["normalised"] = (row["mean_score"] - low) / (high - low) if low is not None and high else None
    print(f"{'agent':12} {'mean score':>11} {'click rate':>11} {'normalised':>11} {'seconds':>8}")
    for name, row in results.items():
        normalised = "" if row["normalised"] is None else f"{row['normalised']:.3f}"
        print(f"{name:12} {row['mean_score']:11.5f} {row['click_rate']:11.3f} {normalised:>11} "
              f"{row['fit_and_play_seconds']:8.1f}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
