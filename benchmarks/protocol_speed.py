"""The full test protocol at the DataLab scale: fit, checkpoint, and N episodes with checkpoint restore.

    python benchmarks/protocol_speed.py [--env datalab] [--agent hybrid] [--episodes 5] [--seed 0]
                                        [--set KEY=VALUE ...] [--isolation [--repeat 3]] [--scaling]

Plays the test population (all users until they leave) through the batched path; every step includes the
agent's recommend and update (learning). Prints one JSON object with ``steps_per_s`` (agent + env user-steps
per second over the episodes, checkpoint restores included), ``fit_seconds`` (text encoding included unless
cached), ``peak_rss_bytes`` and the mean score.

With ``--isolation`` it runs ``recsim-lab evaluate`` instead, side by side in one run: ``--insecure`` (a plain
child process) and isolated (bwrap namespaces, cgroup), alternating, ``--repeat`` times each; it prints each
mode's wall times (start, fit, checkpoint, all episodes), their medians, the overhead of isolation and whether
both gave the same ``scores.csv``.

With ``--scaling`` it fits once and plays the same episodes from the same checkpoint four ways, in turn,
``--repeat`` times, in one run (:mod:`recsim_lab.run.parallel`, local worker processes): the default serial run and 2
workers, each with the libraries' default threads; then 1 worker and 2 workers with every worker held to one
thread (``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS``, ``TF_NUM_INTRAOP_THREADS``,
``TF_NUM_INTEROP_THREADS`` = 1 in the workers' environment, which they read as they start). It prints each
way's wall and CPU time of the episodes, steps/s, the load average before it, the peak resident memory of each
worker, whether every way gave the same per-user results, and the speed-ups of the median wall times: 2 workers
over 1 at one thread each, and 2 workers over the serial run as they are.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from agents.registry import make_agent
from envs.batch_env import BatchSlateEnv
from recsim_lab.cli.commands import parse_options
from recsim_lab.evaluation.evaluate import EvaluateConfig, evaluate
from recsim_lab.processes import peak_rss_bytes
from recsim_lab.run.episode import play_episode, play_from_checkpoint
from recsim_lab.run.parallel import EpisodeWorkers, NamedAgent, Parallel
from recsim_lab.run.runner import fit_checkpoint
from recsim_lab.seeding import derive_seeds
from recsim_lab.worlds.presets import make_world

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
                    "TF_NUM_INTEROP_THREADS")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="datalab")
    parser.add_argument("--agent", default="hybrid")
    parser.add_argument("--episodes", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", dest="options", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--isolation", action="store_true", help="evaluate --insecure vs isolated, side by side")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each mode with --isolation or --scaling")
    parser.add_argument("--scaling", action="store_true", help="serial against 1 and 2 worker processes")
    args = parser.parse_args()
    if args.isolation:
        isolation_overhead(args)
        return
    if args.scaling:
        scaling(args)
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


@contextmanager
def workers_threads(threads: int | None) -> Iterator[None]:
    """Worker processes started in the block hold each library to ``threads`` threads (``None``: their
    defaults): the variables are set here, the workers inherit them as they start, and this process's are
    restored after (its own libraries have read theirs already)."""
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    if threads is not None:
        os.environ.update({name: str(threads) for name in THREAD_VARIABLES})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def scaling(args: argparse.Namespace) -> None:
    """The same episodes from the same checkpoint: serial, and in 1 and 2 worker processes, the ways taken in
    turn ``--repeat`` times (so that the load of other jobs weighs on each alike)."""
    world = make_world(args.env)
    options = parse_options(args.options)
    agent = make_agent(args.agent, world=world, **options)
    _, episode_seeds = derive_seeds(args.seed, args.episodes)
    plan = list(enumerate(episode_seeds))
    ways = {"serial, default threads": (None, None), "2 workers, default threads": (2, None),
            "1 worker, 1 thread": (1, 1), "2 workers, 1 thread each": (2, 1)}
    measured: dict[str, list[dict[str, object]]] = {name: [] for name in ways}
    played = set()
    with tempfile.TemporaryDirectory() as folder:
        checkpoint = Path(folder)
        start = time.perf_counter()
        fit_checkpoint(world, agent, seed=args.seed, checkpoint=checkpoint)
        fit_seconds = time.perf_counter() - start
        for _ in range(args.repeat):
            for name, (workers, threads) in ways.items():
                load, start, cpu = os.getloadavg()[0], time.perf_counter(), _cpu_seconds()
                if workers is None:
                    env = BatchSlateEnv(world)
                    results = [play_from_checkpoint(env, agent, checkpoint, episode=e, seed=s, progress=False)
                               for e, s in plan]
                    peaks = {}
                else:
                    pool = EpisodeWorkers(Parallel(workers=workers), NamedAgent(args.agent, options))
                    with workers_threads(threads):
                        results = sorted(pool.play(world, checkpoint, plan, progress=False), key=lambda r: r.episode)
                    peaks = pool.peak_rss_bytes
                seconds = time.perf_counter() - start
                played.add(tuple(r.session_length.tobytes() + r.clicks.tobytes() for r in results))
                measured[name].append({"wall_s": seconds, "cpu_s": _cpu_seconds() - cpu,
                                       "steps_per_s": sum(r.steps for r in results) / seconds,
                                       "load_average_before": load, "worker_peak_rss_bytes": sorted(peaks.values())})
    median = {name: statistics.median(m["wall_s"] for m in runs) for name, runs in measured.items()}
    print(json.dumps({
        "env": args.env, "agent": args.agent, "options": options, "episodes": args.episodes, "seed": args.seed,
        "repeat": args.repeat, "cpus": os.cpu_count(), "fit_seconds": fit_seconds,
        "driver_peak_rss_bytes": peak_rss_bytes(), "steps": sum(r.steps for r in results), "ways": measured,
        "median_wall_s": median,
        "speedup_2_over_1_worker_one_thread": median["1 worker, 1 thread"] / median["2 workers, 1 thread each"],
        "speedup_2_workers_over_serial_default_threads": median["serial, default threads"] / median[
            "2 workers, default threads"],
        "same_results": len(played) == 1,
    }, indent=2))


def _cpu_seconds() -> float:
    """User and system CPU seconds of this process and of its children that have ended (the workers, once
    their pool is shut down)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


if __name__ == "__main__":
    main()
