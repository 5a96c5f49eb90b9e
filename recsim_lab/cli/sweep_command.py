"""``recsim-lab sweep CONFIG``: a grid or random search over an agent's hyperparameters x seeds x worlds on Ray
Tune (:mod:`~recsim_lab.evaluation.sweep`), its table of settings and its plots (:mod:`~recsim_lab.report.sweep_plot`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from recsim_lab.evaluation.sweep import BEST_FILE, FEATURE, RESULTS_FILE, TrialsFailed, run_sweep, sweep_directory
from recsim_lab.evaluation.sweep_config import read_sweep_config
from recsim_lab.extras import MissingExtraError, require
from recsim_lab.report.sweep_plot import plot_sweep
from recsim_lab.run.parallel import LOCAL_RAY, Parallel

_SHOWN_SETTINGS = 10  # rows of the printed table


def add_sweep_command(commands: argparse._SubParsersAction) -> None:
    """Add ``sweep`` to the top-level subparsers."""
    sweep = commands.add_parser(
        "sweep", help="grid or random search over an agent's hyperparameters x seeds x worlds (Ray Tune)",
        description="Play every trial (a setting of the hyperparameters, a world, a seed) as `recsim-lab run` "
                    "plays, on Ray Tune, one CPU each; write OUT/sweep__<CONFIG name>/results.csv (one row per "
                    "trial), best.json (each setting's mean and spread of the normalised score, the best first) "
                    "and score_vs_<hyperparameter>.png; print the best settings. The configuration is a TOML or "
                    "YAML file (see examples/sweep_small.toml).")
    sweep.add_argument("config", type=Path, metavar="CONFIG", help="the sweep's .toml or .yaml file")
    sweep.add_argument("--out", default="runs", help="folder for the sweep directory (default: %(default)s)")
    sweep.add_argument("--resume", action="store_true",
                       help="finish the interrupted sweep of CONFIG in its directory: finished trials are kept, "
                            "the others run (failed ones from the start)")
    sweep.add_argument("--workers", type=int, default=None, metavar="N",
                       help="trials at once: the CPUs of the Ray started here (default: all)")
    sweep.add_argument("--ray", default=None, metavar="ADDRESS",
                       help="run the trials on the Ray cluster at ADDRESS ('auto' or host:port) instead")
    sweep.set_defaults(command=_sweep)


def _sweep(args: argparse.Namespace) -> int:
    require(FEATURE, "ray")  # first: the message names this command, not --ray
    parallel = Parallel(workers=args.workers, ray=args.ray or LOCAL_RAY)
    config = read_sweep_config(args.config)
    try:
        outcome = run_sweep(config, sweep_directory(args.config, args.out), resume=args.resume, parallel=parallel)
    except TrialsFailed as error:
        print(f"recsim-lab: error: {error}", file=sys.stderr)
        return 1
    directory = outcome.directory
    print(f"{config.agent}: {len(outcome.trials)} trials, {len(outcome.settings)} settings; normalised score "
          f"(random 0, oracle 1) over {len(config.seeds)} seed(s) x {len(config.worlds)} world(s):")
    print(f"{'rank':>4}  {'mean':>8}  {'std':>8}  {'min':>8}  {'max':>8}  setting")
    for rank, summary in enumerate(outcome.settings[:_SHOWN_SETTINGS], start=1):
        print(f"{rank:>4}  {summary.mean:>8.4f}  {summary.std:>8.4f}  {summary.low:>8.4f}  {summary.high:>8.4f}  "
              f"{json.dumps(summary.setting)}")
    if len(outcome.settings) > _SHOWN_SETTINGS:
        print(f"      ... {len(outcome.settings) - _SHOWN_SETTINGS} more in {directory / BEST_FILE}")
    print(f"outputs: {directory / RESULTS_FILE}, {directory / BEST_FILE}")
    try:
        figures = plot_sweep(directory)
    except MissingExtraError as error:  # no matplotlib: the results are written, the plots can wait
        print(f"plots: not made: {error}")
        return 0
    print(f"plots: {', '.join(str(path) for path in figures)}")
    return 0
