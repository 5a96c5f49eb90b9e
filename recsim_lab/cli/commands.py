"""``recsim-lab``: run agents against environments (with their report), evaluate submissions, score and rank
submission files, make reports, list what is available, export DataLab Cup folders, import click logs, sweep
hyperparameters.

Heavy libraries (TensorFlow, torch) are imported only by the agents that need them, and matplotlib only when
a report is drawn, so ``--help`` and the listing commands answer at once.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from agents.checker import AgentCheckError
from agents.helpers.native_log import VERBOSE_ENV
from agents.registry import DEFAULT_AGENT, registered_agents
from envs.datalab_export import export_datalab
from envs.registration import GYMNASIUM_IDS
from recsim_lab.atomic import atomic_write_text
from recsim_lab.cli.data_commands import add_data_commands
from recsim_lab.cli.new_agent import class_name, write_agent_template
from recsim_lab.cli.sweep_command import add_sweep_command
from recsim_lab.errors import DataFormatError
from recsim_lab.evaluation.evaluate import EvaluateConfig, evaluate
from recsim_lab.evaluation.leaderboard import (
    SELF_REPORTED,
    WORLD_LABEL,
    leaderboard_csv,
    rank,
    score_submissions,
    submission_inputs,
)
from recsim_lab.evaluation.offline import OfflineConfig, offline_evaluate, summary_lines
from recsim_lab.evaluation.receipts import KEY_VARIABLE, key_path, load_key
from recsim_lab.extras import MissingExtraError
from recsim_lab.report.report import make_report
from recsim_lab.run.failures import AgentRaised, agent_traceback
from recsim_lab.run.parallel import LOCAL_RAY, Parallel
from recsim_lab.run.runner import ProtocolConfig, RunConfig, play, prepare_resume, prepare_run
from recsim_lab.worlds.presets import PRESETS
from recsim_lab.worlds.world import CHOICE_MODELS


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); returns the exit code.

    Bad input (options, configurations, agent hyperparameters, data files, an agent that breaks the
    protocol, invalid slates, a missing extra) ends in one line ``recsim-lab: error: ...`` on stderr and exit
    code 2: every ``ValueError``, and a ``TypeError`` raised while a command builds its configuration and
    agent (:func:`_user_input`). An exception raised inside an agent's method is a bug in the agent: its
    own frames of the traceback, one line naming method, episode and step, and exit code 1.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = args.command(args)
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return code
    except BrokenPipeError:  # `recsim-lab ... | head`: the reader has gone; stop quietly, as Unix tools do
        _silence_stdout()
        return 1
    except AgentRaised as error:  # a bug inside the agent: its traceback, then one line
        print(agent_traceback(error), end="", file=sys.stderr)
        print(f"recsim-lab: error: {_message(error)}", file=sys.stderr)
        return 1
    except (ValueError, DataFormatError, FileNotFoundError, AgentCheckError) as error:
        print(f"recsim-lab: error: {_message(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as interrupt:
        print(f"recsim-lab: interrupted{f'; {interrupt}' if str(interrupt) else ''}", file=sys.stderr)
        return 130
    except MissingExtraError as error:  # an optional feature whose extra is not installed: says what to install
        print(f"recsim-lab: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # a full disk, a read-only --out, a folder where a file should be: one line
        print(f"recsim-lab: error: {_os_message(error)}", file=sys.stderr)
        return 2


def _os_message(error: OSError) -> str:
    """``/out/x: No space left on device`` (with the error's notes), not ``[Errno 28] ...``."""
    where = next((str(name) for name in (error.filename, error.filename2) if name is not None), None)
    text = error.strerror or str(error)
    return "; ".join([f"{where}: {text}" if where else text, *getattr(error, "__notes__", ())])


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's final flush of a closed pipe raises nothing (the
    recipe of the Python documentation, "Note on SIGPIPE")."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):  # stdout replaced by an object without a file descriptor
        pass
    finally:
        os.close(devnull)


def _message(error: BaseException) -> str:
    """The error's message with its notes (e.g. what a failed run left behind), on one line."""
    return "; ".join([str(error), *getattr(error, "__notes__", ())])


@contextmanager
def _user_input() -> Iterator[None]:
    """Around the phase in which a command builds its configuration and agent from the user's input: a
    ``TypeError`` there (e.g. an agent constructor given a value of the wrong type) becomes a ``ValueError``
    with the same message, which :func:`main` reports in one line."""
    try:
        yield
    except TypeError as error:
        raise ValueError(str(error)) from error


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="recsim-lab",
        description="Online, interactive evaluation of slate recommenders over replayed click histories.",
    )
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="play episodes of an agent against an environment",
                              description="Fit the agent once, checkpoint it, and play N episodes from the "
                                          "checkpoint; writes scores.csv, episodes.csv, trace.csv, "
                                          "summary.json and config.json into a new run directory (see "
                                          "runs/README.md), and the report's figures into its report/ "
                                          "folder when matplotlib is installed.")
    run.add_argument("--agent", default=DEFAULT_AGENT,
                     help="built-in name (see `recsim-lab agents`), path/to/file.py:Class or module:Class "
                          "(default: %(default)s)")
    _add_protocol_arguments(run)
    run.add_argument("--split", choices=("train", "test"), default="test",
                     help="population: train = the first n_train_users, test = all (default: %(default)s)")
    run.add_argument("--batch-size", type=_batch_size, default=None, metavar="N|all",
                     help="users served per env step; 1 = one user at a time (default: all active users)")
    run.add_argument("--no-report", action="store_true",
                     help="skip RUN_DIR/report/ (report.html and its figures; `recsim-lab report` makes them later)")
    run.add_argument("--resume", type=Path, default=None, metavar="RUN_DIR",
                     help="finish an interrupted run: play only its missing episodes (its configuration comes "
                          "from RUN_DIR/config.json)")
    run.add_argument("--choice", choices=CHOICE_MODELS, default=None,
                     help="play under this choice model instead of the world's (replay: imported worlds)")
    run.add_argument("--original-ids", action="store_true",
                     help="scores.csv with the original user ids of an imported world (its ids.json)")
    run.set_defaults(command=_run)

    offline = commands.add_parser(
        "offline", help="offline ranking metrics of an agent on held-out clicks",
        description="Hold out each user's future (imported worlds) or last clicks (--holdout N), fit the agent "
                    "on the rest, rank every user's unclicked items and report AUC, group AUC, "
                    "impression-weighted AUC, Recall@K, NDCG@K, MRR, coverage@K and popularity@K; writes "
                    "users.csv and summary.json into a new directory (definitions: "
                    "recsim_lab/evaluation/offline_metrics.py).")
    offline.add_argument("--env", default=OfflineConfig.env,
                         help="preset name or world directory (default: %(default)s)")
    offline.add_argument("--agent", default=OfflineConfig.agent,
                         help="built-in name, path/to/file.py:Class or module:Class (default: %(default)s)")
    offline.add_argument("--seed", type=int, default=OfflineConfig.seed, help="root seed (default: %(default)s)")
    offline.add_argument("--k", type=int, default=OfflineConfig.k, help="cut-off K (default: %(default)s)")
    offline.add_argument("--holdout", type=int, default=None, metavar="N",
                         help="hold out each user's last N clicks (default: the world's futures, else 5)")
    offline.add_argument("--depth", type=int, default=None, metavar="N",
                         help="for agents without scores(): ask recommend() for at most N items per user "
                              "(default: all unclicked items, a full ranking)")
    offline.add_argument("--split", choices=("train", "test"), default="test",
                         help="users evaluated: train = the first n_train_users, test = all (default: %(default)s)")
    offline.add_argument("--set", dest="options", action="append", default=[], metavar="KEY=VALUE",
                         help="agent hyperparameter (repeatable)")
    offline.add_argument("--out", default=OfflineConfig.out, help="folder for the output directory "
                                                                   "(default: %(default)s)")
    offline.set_defaults(command=_offline)

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

    evaluate = commands.add_parser(
        "evaluate", help="score a submitted agent safely (own process, time and memory limits)",
        description="The official protocol (fit, checkpoint, N episodes of the test population from the "
                    "checkpoint) with the agent in its own process. A submission that raises, hangs, runs out "
                    "of memory or returns an invalid slate gets a failure record in summary.json (status, "
                    "reason, episode, step) and exit code 1.")
    evaluate.add_argument("agent", metavar="AGENT", help="the submission: path/to/agent.py:Class")
    _add_protocol_arguments(evaluate)
    evaluate.add_argument("--time-limit", type=float, default=3600.0, metavar="SECONDS",
                          help="wall time for the whole evaluation (default: %(default)g)")
    evaluate.add_argument("--memory-limit", type=_memory_size, default="8G", metavar="SIZE",
                          help="memory of the agent's whole process tree (and each process's address "
                               "space), e.g. 512M, 8G, or 'none' (default: %(default)s)")
    evaluate.add_argument("--insecure", action="store_true",
                          help="run the agent without isolation (no namespaces): for code you trust")
    evaluate.add_argument("--world-seed", type=int, default=None, metavar="N",
                          help="seed of a preset's world (default: a fresh secret one, recorded beside the key "
                               "under the run's id; this option reproduces a recorded run)")
    _add_key_argument(evaluate, "signs receipt.json; created on first use")
    evaluate.set_defaults(command=_evaluate)

    score = commands.add_parser(
        "score", help="validate submission CSVs and rank them on a leaderboard",
        description="Check each user_id,avg_score file (header, every test user exactly once, scores in "
                    "[0, 1]; problems with their lines) and rank the valid ones by their score normalised "
                    "against their world's random (0) and oracle (1) references. A run directory of "
                    "`recsim-lab evaluate` whose receipt the organiser's key verifies is scored on the world it "
                    "was evaluated on and marked verified; anything else is self-reported and scored on --env. "
                    "Exit code 1 if any submission is invalid.")
    score.add_argument("submissions", nargs="+", type=Path, metavar="SUBMISSION",
                       help="a CSV file, a run directory (its scores.csv and receipt.json), or a folder of those")
    score.add_argument("--env", default=None,
                       help="preset name or world directory for the self-reported submissions (its public world)")
    score.add_argument("--verified-only", action="store_true",
                       help="leave out the self-reported submissions (no --env needed)")
    score.add_argument("--max-bytes", type=_memory_size, default="100M", metavar="SIZE",
                       help="refuse a submission file larger than this, e.g. 100M, 2G, or 'none' (default: "
                            "%(default)s)")
    _add_key_argument(score, "checks the receipts; never created here")
    score.add_argument("--out", type=Path, default=None, metavar="LEADERBOARD.csv",
                       help="write the leaderboard CSV here (rank,name,mean_score,normalised_score,users,"
                            "verification,world)")
    score.set_defaults(command=_score)

    report = commands.add_parser("report", help="an HTML report with figures of one or more runs",
                                 description="Write OUT/report.html and PNG figures: mean score per episode, "
                                             "per-user score distribution, click rate and active users over an "
                                             "episode, and a side-by-side comparison of several runs.")
    report.add_argument("runs", nargs="+", type=Path, metavar="RUN_DIR")
    report.add_argument("--out", type=Path, default=Path("report"), help="folder for the report "
                                                                         "(default: %(default)s)")
    report.set_defaults(command=_report)


    new_agent = commands.add_parser("new-agent", help="write a commented agent file and its test, to start from",
                                    description="Write NAME.py (class NAME in CamelCase: an epsilon-greedy item "
                                                "bandit that passes check_agent, every part commented) and "
                                                "test_NAME.py into DIR.")
    new_agent.add_argument("name", metavar="NAME", help="a Python module name, e.g. my_bandit")
    new_agent.add_argument("--dir", type=Path, default=Path("."), help="folder to write into (default: .)")
    new_agent.set_defaults(command=_new_agent)

    add_data_commands(commands)
    add_sweep_command(commands)
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


_GUESSABLE_SEEDS = 1 << 32  # a world seed below this can be found by trying them all

_SIZE_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def _memory_size(text: str) -> int | None:
    """``"8G"`` -> 8 GiB in bytes (units K, M, G, T are powers of 1024; a trailing B or iB is allowed);
    ``"none"`` -> ``None``."""
    if text.strip().lower() == "none":
        return None
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]*)?)\s*([KMGT]?)(?:i?B)?\s*", text, flags=re.IGNORECASE)
    if not match or float(match[1]) * _SIZE_UNITS[match[2].upper()] < 1:
        raise argparse.ArgumentTypeError(f"expected a size such as 512M, 8G or 'none', got {text!r}")
    return int(float(match[1]) * _SIZE_UNITS[match[2].upper()])


def _add_key_argument(parser: argparse.ArgumentParser, role: str) -> None:
    parser.add_argument("--key", default=None, metavar="PATH",
                        help=f"the organiser's key file, mode 0600 ({role}; default: ${KEY_VARIABLE}, else "
                             f"~/.config/recsim-lab/receipt.key)")


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


def _add_protocol_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``run`` and ``evaluate`` that set the fields of :class:`ProtocolConfig` (the agent aside)."""
    parser.add_argument("--env", default=ProtocolConfig.env,
                        help="preset name (see `recsim-lab envs`) or world directory (default: %(default)s)")
    parser.add_argument("--episodes", type=int, default=ProtocolConfig.episodes,
                        help="episodes to play (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=ProtocolConfig.seed,
                        help="root seed of the run (default: %(default)s)")
    parser.add_argument("--set", dest="options", action="append", default=[], metavar="KEY=VALUE",
                        help="agent hyperparameter (repeatable), e.g. --set factors=64")
    parser.add_argument("--encoder", type=_model_directory, default=None, metavar="PATH",
                        help="a local sentence-transformers model directory for the text embeddings of the "
                             "content and hybrid agents (default: the packaged all-MiniLM-L6-v2)")
    parser.add_argument("--out", default=ProtocolConfig.out,
                        help="folder for run directories (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="play N episodes at once, each in a worker process that restores the checkpoint "
                             "(same outputs; default: one after another, in this process); with --ray: the CPUs "
                             "of the Ray started here")
    parser.add_argument("--ray", nargs="?", const=LOCAL_RAY, default=None, metavar="ADDRESS",
                        help="play the episodes on Ray (the [ray] extra): without ADDRESS on a Ray started here "
                             "with --workers CPUs (default: all), else on the cluster at ADDRESS ('auto' or "
                             "host:port)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    parser.add_argument("--verbose", action="store_true",
                        help=f"show the start-up log of native libraries (TensorFlow's C++ banner), hidden by "
                             f"default; the same as {VERBOSE_ENV}=1")


def agent_options(args: argparse.Namespace) -> dict[str, Any]:
    """The agent's constructor options: ``--set`` pairs, and ``encoder`` from ``--encoder``."""
    options = parse_options(args.options)
    if args.encoder is not None:
        if options.get("encoder", args.encoder) != args.encoder:
            raise ValueError(f"--encoder {args.encoder} and --set encoder={options['encoder']} disagree; give one")
        options["encoder"] = args.encoder
    return options


def _model_directory(text: str) -> str:
    """An existing directory, as an absolute path (so that ``--resume`` from elsewhere finds it)."""
    path = Path(text).expanduser()
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is not a directory (a sentence-transformers model folder)")
    return str(path.resolve())


def _run(args: argparse.Namespace) -> int:

    if args.verbose:
        os.environ[VERBOSE_ENV] = "1"
    if args.resume is not None:
        defaults = vars(build_parser().parse_args(["run"]))
        given = [f"--{'set' if key == 'options' else key.replace('_', '-')}" for key, value in vars(args).items()
                 if key not in ("resume", "no_progress", "no_report", "verbose", "command", "workers", "ray")
                 and value != defaults[key]]
        if given:
            raise ValueError(f"--resume takes the configuration from RUN_DIR/config.json; drop {', '.join(given)}")
        with _user_input():
            parallel = Parallel(workers=args.workers, ray=args.ray)
            prepared = prepare_resume(args.resume, progress=not args.no_progress)
    else:
        with _user_input():
            parallel = Parallel(workers=args.workers, ray=args.ray)
            prepared = prepare_run(RunConfig(env=args.env, agent=args.agent, episodes=args.episodes, seed=args.seed,
                                             split=args.split, batch_size=args.batch_size, out=args.out,
                                             agent_options=agent_options(args), progress=not args.no_progress,
                                             choice=args.choice, original_ids=args.original_ids))
    outcome = play(prepared, parallel)
    summary = outcome.summary
    print(f"{summary['agent']} on {summary['env']} ({summary['split']}, {len(summary['episode_mean_scores'])} "
          f"episodes, seed {summary['seeds']['run']}): "
          f"mean score {summary['mean_score']:.5f}, click rate {summary['click_rate']:.3f}, "
          f"{summary['steps']:,} steps at {summary['steps_per_s']:,.0f} steps/s")
    print(f"outputs: {outcome.directory}")
    if not args.no_report:
        _write_run_report(outcome.directory)
    return 0


def _write_run_report(directory: Path) -> None:
    """Write ``directory/report/`` (``report.html`` and its figures) and say where it is; without matplotlib
    (the optional ``[report]`` extra), say how to install it and the command that makes the report."""
    out = directory / "report"
    command = f"recsim-lab report {shlex.quote(str(directory))} --out {shlex.quote(str(out))}"
    try:
        written = make_report([directory], out)
    except MissingExtraError as error:  # no matplotlib: the scores are written, the figures can wait
        print(f"report: not made: {error}; then: {command}")
        return
    print(f"report: {written[0]} ({len(written) - 1} figures beside it; to compare runs: "
          f"recsim-lab report RUN_DIR RUN_DIR ... --out DIR)")


def _evaluate(args: argparse.Namespace) -> int:

    if args.verbose:
        os.environ[VERBOSE_ENV] = "1"
    with _user_input():  # the agent itself is built in its own process: a bad option is a failure record there
        config = EvaluateConfig(agent=args.agent, env=args.env, episodes=args.episodes, seed=args.seed,
                                time_limit=args.time_limit, memory_limit=args.memory_limit, out=args.out,
                                insecure=args.insecure,
                                agent_options=agent_options(args), progress=not args.no_progress,
                                world_seed=args.world_seed, key=args.key)
        parallel = Parallel(workers=args.workers, ray=args.ray)
    if args.world_seed is not None and args.world_seed < _GUESSABLE_SEEDS and args.env in PRESETS:
        print(f"recsim-lab: warning: world seed {args.world_seed} is small enough for a submission to find by "
              f"trying seeds against the data it is given; leave --world-seed out for a secret one",
              file=sys.stderr)
    outcome = evaluate(config, parallel=parallel)
    summary = outcome.summary
    if outcome.ok:
        print(f"{config.agent} on {config.env}: ok, mean score {summary['mean_score']:.5f}, "
              f"click rate {summary['click_rate']:.3f}, {summary['evaluation']['wall_s']:.1f} s in all")
    else:
        where = "".join(f", {key} {summary[key]}" for key in ("episode", "step") if summary[key] is not None)
        print(f"{config.agent} on {config.env}: FAILED ({summary['status']}) in {summary['call']}{where}: "
              f"{summary['reason']}", file=sys.stderr)
        if summary.get("traceback"):
            print(f"the agent's traceback is in {outcome.directory / 'summary.json'} (\"traceback\")",
                  file=sys.stderr)
    print(f"outputs: {outcome.directory}")
    return 0 if outcome.ok else 1


def _score(args: argparse.Namespace) -> int:

    key_file = key_path(args.key)
    key = load_key(key_file)
    if key is None and args.verified_only:
        raise ValueError(f"--verified-only needs the organiser's key, and there is none at {key_file} "
                         f"(--key PATH or {KEY_VARIABLE})")
    inputs, passed_over = submission_inputs(args.submissions)
    scoring = score_submissions(inputs, env=args.env, key=key, key_file=key_file, verified_only=args.verified_only,
                                max_bytes=args.max_bytes)
    for note in passed_over + scoring.notes:
        print(f"recsim-lab: {note}", file=sys.stderr)
    for problem in scoring.invalid:
        print(problem, file=sys.stderr)
    if scoring.invalid:
        print(f"recsim-lab: {len(scoring.invalid)} invalid submission(s) left out of the leaderboard",
              file=sys.stderr)
    if scoring.left_out:
        print(f"recsim-lab: {len(scoring.left_out)} self-reported submission(s) left out (--verified-only): "
              f"{', '.join(scoring.left_out)}", file=sys.stderr)
    entries = rank(scoring.scored)
    for e in entries:
        if e.verification == SELF_REPORTED and e.normalised_score > 1:
            print(f"recsim-lab: {e.name}: a self-reported score above the oracle's (normalised "
                  f"{e.normalised_score:.4g}); no evaluation vouches for it", file=sys.stderr)
    ranked_worlds = {s.world for s in scoring.scored}
    for world in (w for w in scoring.worlds.values() if w.fingerprint in ranked_worlds):
        references = world.references
        print(f"references on {world.label}, world {world.fingerprint[:WORLD_LABEL]} ({references.episodes} "
              f"episodes, seed {references.seed}): random {references.random:.5f}, oracle {references.oracle:.5f}")
    if not entries:
        return 1
    print(f"{'rank':>4}  {'mean score':>10}  {'normalised':>10}  {'users':>6}  {'receipt':13}  {'world':12}  name")
    for e in entries:
        print(f"{e.rank:>4}  {e.mean_score:>10.5f}  {e.normalised_score:>10.4f}  {e.users:>6}  {e.verification:13}  "
              f"{e.world:12}  {e.name}")
    if args.out is not None:
        atomic_write_text(args.out, leaderboard_csv(entries))
        print(f"leaderboard: {args.out}")
    return 1 if scoring.invalid or not entries else 0


def _offline(args: argparse.Namespace) -> int:

    with _user_input():
        config = OfflineConfig(env=args.env, agent=args.agent, seed=args.seed, k=args.k, holdout=args.holdout,
                               depth=args.depth, split=args.split, out=args.out,
                               agent_options=parse_options(args.options))
    result, directory = offline_evaluate(config)
    print("\n".join(summary_lines(result.summary)))
    print(f"outputs: {directory / 'users.csv'} (per user), {directory / 'summary.json'}")
    return 0


def _report(args: argparse.Namespace) -> int:

    for path in make_report(args.runs, args.out):
        print(path)
    return 0


def _envs(args: argparse.Namespace) -> int:

    for name, preset in PRESETS.items():
        print(f"{name:10} {GYMNASIUM_IDS[name]:24} {preset.summary}")
    print("\nAny world directory (DataLab-format files plus world.npz) is an env too: --env path/to/world")
    return 0


def _agents(args: argparse.Namespace) -> int:
    known = registered_agents()
    width = max(map(len, known))
    for name, (target, summary) in known.items():
        print(f"{name:{width}}  {summary}  [{target}]")
    print("\nYour own agent: --agent path/to/file.py:Class or --agent package.module:Class")
    return 0


def _new_agent(args: argparse.Namespace) -> int:
    agent_file, test_file = write_agent_template(args.name, args.dir)
    print(f"wrote {agent_file} and {test_file}; try:\n"
          f"  recsim-lab run --agent {agent_file}:{class_name(args.name)} --env small\n"
          f"  python -m pytest {test_file}")
    return 0


def _export_datalab(args: argparse.Namespace) -> int:

    written = export_datalab(args.directory, args.env)
    for path in written:
        print(path)
    return 0

