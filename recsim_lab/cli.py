"""``recsim-lab``: run agents against environments, list what is available, export DataLab Cup folders.

Heavy libraries (TensorFlow, torch) are imported only by the agents that need them, so ``--help`` and the
listing commands answer at once.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agents import BUILTIN_AGENTS, DEFAULT_AGENT
from recsim_lab.errors import DataFormatError


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.command(args)
    except (ValueError, DataFormatError, FileNotFoundError) as error:
        print(f"recsim-lab: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("recsim-lab: interrupted", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="recsim-lab",
        description="Online, interactive evaluation of slate recommenders over replayed click histories.",
    )
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="play episodes of an agent against an environment",
                              description="Fit the agent once, checkpoint it, and play N episodes from the "
                                          "checkpoint; writes scores.csv, episodes.csv, summary.json and "
                                          "config.json into a new run directory.")
    run.add_argument("--env", default="default", help="preset name (see `recsim-lab envs`) or world directory "
                                                       "(default: %(default)s)")
    run.add_argument("--agent", default=DEFAULT_AGENT,
                     help="built-in name (see `recsim-lab agents`), path/to/file.py:Class or module:Class "
                          "(default: %(default)s)")
    run.add_argument("--episodes", type=int, default=5, help="episodes to play (default: %(default)s)")
    run.add_argument("--seed", type=int, default=0, help="root seed of the run (default: %(default)s)")
    run.add_argument("--split", choices=("train", "test"), default="test",
                     help="population: train = the first n_train_users, test = all (default: %(default)s)")
    run.add_argument("--batch-size", type=_batch_size, default=None, metavar="N|all",
                     help="users served per env step; 1 = one user at a time (default: all active users)")
    run.add_argument("--set", dest="options", action="append", default=[], metavar="KEY=VALUE",
                     help="agent hyperparameter (repeatable), e.g. --set factors=64")
    run.add_argument("--out", default="runs", help="folder for run directories (default: %(default)s)")
    run.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    run.set_defaults(command=_run)

    envs = commands.add_parser("envs", help="list the environment presets")
    envs.set_defaults(command=_envs)
    agents = commands.add_parser("agents", help="list the built-in agents")
    agents.set_defaults(command=_agents)

    export = commands.add_parser("export-datalab", help="write a DataLab Cup folder (dataset + environment shim)",
                                 description="Write DIR/dataset/{user_data,item_data}.json and "
                                             "DIR/evaluation/environment.py so that a DataLab Cup notebook "
                                             "runs unchanged from DIR.")
    export.add_argument("directory", type=Path, metavar="DIR")
    export.add_argument("--env", default="default", help="preset name or world directory (default: %(default)s)")
    export.set_defaults(command=_export_datalab)
    return parser


def _batch_size(text: str) -> int | None:
    if text == "all":
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'all', got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'all', got {text!r}")
    return value


def parse_options(pairs: Sequence[str]) -> dict[str, Any]:
    """``["factors=64", "encoder=/m"]`` -> ``{"factors": 64, "encoder": "/m"}`` (JSON values, else strings)."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects KEY=VALUE, got {pair!r}")
        try:
            options[key] = json.loads(text)
        except json.JSONDecodeError:
            options[key] = text
    return options


def _run(args: argparse.Namespace) -> int:
    from recsim_lab.runner import RunConfig, run

    config = RunConfig(env=args.env, agent=args.agent, episodes=args.episodes, seed=args.seed, split=args.split,
                       batch_size=args.batch_size, out=args.out, agent_options=parse_options(args.options),
                       progress=not args.no_progress)
    outcome = run(config)
    summary = outcome.summary
    print(f"{config.agent} on {config.env} ({config.split}, {config.episodes} episodes, seed {config.seed}): "
          f"mean score {summary['mean_score']:.5f}, click rate {summary['click_rate']:.3f}, "
          f"{summary['steps']:,} steps at {summary['steps_per_s']:,.0f} steps/s")
    print(f"outputs: {outcome.directory}")
    return 0


def _envs(args: argparse.Namespace) -> int:
    from envs import PRESETS
    from envs.registration import GYMNASIUM_IDS

    for name, preset in PRESETS.items():
        print(f"{name:10} {GYMNASIUM_IDS[name]:24} {preset.summary}")
    print("\nAny world directory (DataLab-format files plus world.npz) is an env too: --env path/to/world")
    return 0


def _agents(args: argparse.Namespace) -> int:
    for name, (target, summary) in BUILTIN_AGENTS.items():
        print(f"{name:12} {summary}  [{target}]")
    print("\nYour own agent: --agent path/to/file.py:Class or --agent package.module:Class")
    return 0


def _export_datalab(args: argparse.Namespace) -> int:
    from recsim_lab.compat.export import export_datalab

    written = export_datalab(args.directory, args.env)
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
