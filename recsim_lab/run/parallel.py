"""Episodes played in parallel, one task per episode: in local worker processes or on a Ray cluster.

A task is what the serial runner does for one episode (:func:`~recsim_lab.run.episode.play_from_checkpoint`):
the worker gets an agent of its own from an :class:`AgentSource` (``run``: the agent built by name, as the
runner builds it; ``evaluate``: a fresh sandbox for the episode), restores the run's checkpoint into it and
plays the episode with its derived seed. The results come back to the driver, which saves each one as it
arrives (so a killed run resumes) and writes the outputs in episode order: they are byte-identical to a
serial run's.

What the tasks share travels once, not once per task: the world, the agent source and the checkpoint go to
each local worker as it starts (:class:`~concurrent.futures.ProcessPoolExecutor`, ``spawn`` start method), and
into Ray's object store once (``ray.put``; the world's NumPy arrays are then read zero-copy). A Ray worker
writes the checkpoint's files into a private folder once, so a cluster needs no shared filesystem (a file
agent's ``.py`` and a world directory must still be at the same path on every node).

Local workers ignore Ctrl-C (the driver handles it and stops them), die with the driver (even by SIGKILL),
and turn SIGTERM into ``SystemExit``, so that an agent's sandbox is closed when they are stopped.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

from tqdm import tqdm

from agents.protocol import Agent
from agents.registry import make_agent
from envs.batch_env import BatchSlateEnv
from recsim_lab.checkpoint import checkpoint_files, write_checkpoint_files
from recsim_lab.extras import optional_import, require
from recsim_lab.processes import die_with_parent, peak_rss_bytes, project_roots
from recsim_lab.run.episode import EpisodeResult, play_from_checkpoint
from recsim_lab.validation import check_fields, check_scalar
from recsim_lab.worlds.world import World

LOCAL_RAY = "local"
"""``Parallel.ray`` for a Ray started here, with ``workers`` CPUs (``--ray`` without an address)."""


@dataclass(frozen=True)
class Parallel:
    """How a run's episodes are spread: over local worker processes, or over Ray."""

    workers: int | None = None
    """Episodes played at once: local processes, or the CPUs of a local Ray. ``None``: 1 without Ray (the
    serial runner), all CPUs with a local Ray. Not with a Ray address: the cluster's CPUs decide."""
    ray: str | None = None
    """``None``: local processes; :data:`LOCAL_RAY`: a Ray started here; else a cluster's address (``auto``,
    ``host:port``, ``ray://host:port``)."""

    def __post_init__(self) -> None:
        check_fields(self, ("workers",), int, min_val=1, allow_none=True)
        check_scalar(self.ray, "ray", str, allow_none=True)
        if self.ray == "":
            raise ValueError("ray must be 'local', 'auto' or a cluster's address, got ''")
        if self.ray not in (None, LOCAL_RAY) and self.workers is not None:
            raise ValueError(f"workers sets the local processes or the CPUs of a local Ray; on the Ray cluster at "
                             f"{self.ray!r} its CPUs decide how many episodes run at once: drop workers")
        if self.ray is not None:
            require("--ray", "ray")  # before any work

    @property
    def serial(self) -> bool:
        """Whether the episodes are played one after another in this process (no workers at all)."""
        return self.ray is None and (self.workers or 1) == 1


class AgentSource(Protocol):
    """Where a worker gets an agent of its own for one episode (pickled to the workers)."""

    def open(self, world: World, episode: int) -> AbstractContextManager[Agent]:
        """The agent to restore from the checkpoint and play ``episode`` with, for the ``with`` block."""


@dataclass(frozen=True)
class NamedAgent:
    """``make_agent(spec, world=world, **options)``: the agent of a run, built as the runner builds it."""

    spec: str
    """An agent name, ``module:Class``, or ``/absolute/path/file.py:Class`` (workers have other working
    directories)."""
    options: dict[str, Any]

    def open(self, world: World, episode: int) -> AbstractContextManager[Agent]:
        return nullcontext(make_agent(self.spec, world=world, **self.options))


@dataclass(frozen=True)
class _Job:
    """What every task of one parallel play shares."""

    source: AgentSource
    world: World
    split: str
    batch_size: int | None


@dataclass(frozen=True)
class _Played:
    """An episode played by a worker, with the worker (``host:pid``) and its peak resident memory."""

    result: EpisodeResult
    worker: str
    peak_rss_bytes: int


class EpisodeWorkers:
    """Plays episodes of a run in parallel, as :class:`Parallel` says, with agents from ``source``.

    ``peak_rss_bytes`` holds, per worker (``host:pid``), the peak resident memory it reported.
    """

    def __init__(self, parallel: Parallel, source: AgentSource) -> None:
        self.parallel = parallel
        self.source = source
        self.peak_rss_bytes: dict[str, int] = {}

    def play(self, world: World, checkpoint: Path, plan: list[tuple[int, int]], *, split: str = "test",
             batch_size: int | None = None, progress: bool = True) -> Iterator[EpisodeResult]:
        """Play the episodes of ``plan`` (``(episode, env seed)`` pairs), each from ``checkpoint``, and yield
        each one's result as it finishes (in any order). A progress bar counts finished episodes.

        Leaving the loop early (an exception, Ctrl-C, ``close()``) stops the workers and the episodes in
        progress.

        Raises:
            AgentRaised, InvalidSlates: as in a serial run, from the first episode that fails.
        """
        if not plan:
            return
        job = _Job(self.source, world, split, batch_size)
        played = _on_ray(self.parallel, job, checkpoint, plan) if self.parallel.ray is not None else \
            _on_local_workers(self.parallel.workers or 1, job, checkpoint, plan)
        with tqdm(total=len(plan), desc="episodes", unit="episode", disable=None if progress else True) as bar:
            for one in played:
                self.peak_rss_bytes[one.worker] = max(one.peak_rss_bytes, self.peak_rss_bytes.get(one.worker, 0))
                bar.update(1)
                yield one.result

    def summary(self) -> dict[str, Any]:
        """How the episodes were played, for ``summary.json``."""
        return {"workers": self.parallel.workers, "ray": self.parallel.ray,
                "worker_peak_rss_bytes": dict(sorted(self.peak_rss_bytes.items()))}


def _play(job: _Job, checkpoint: Path, episode: int, seed: int) -> _Played:
    """One task, in a worker: the episode, from the checkpoint, with an agent of the worker's own."""
    env = BatchSlateEnv(job.world, split=job.split, batch_size=job.batch_size)
    with job.source.open(job.world, episode) as agent:
        result = play_from_checkpoint(env, agent, checkpoint, episode=episode, seed=seed, progress=False)
    return _Played(result, f"{socket.gethostname()}:{os.getpid()}", peak_rss_bytes())


# ---- local worker processes

_LOCAL_JOB: tuple[_Job, Path] | None = None  # a local worker's job and checkpoint folder, set as it starts


def _on_local_workers(workers: int, job: _Job, checkpoint: Path, plan: list[tuple[int, int]]) -> Iterator[_Played]:
    pool = ProcessPoolExecutor(max_workers=min(workers, len(plan)), mp_context=multiprocessing.get_context("spawn"),
                               initializer=_start_local_worker, initargs=(os.getpid(), job, checkpoint))
    pending = {pool.submit(_play_locally, episode, seed) for episode, seed in plan}
    try:
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()
    finally:
        if pending:  # an episode failed, or the driver was interrupted: stop the episodes in progress too
            for process in list((pool._processes or {}).values()):  # Python 3.14: pool.terminate_workers()
                process.terminate()
        pool.shutdown(wait=True, cancel_futures=True)


def _start_local_worker(driver: int, job: _Job, checkpoint: Path) -> None:
    global _LOCAL_JOB
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's: it stops the workers
    signal.signal(signal.SIGTERM, _exit)
    die_with_parent(driver)
    _LOCAL_JOB = (job, Path(checkpoint))


def _exit(signum: int, frame: Any) -> None:
    sys.exit(128 + signum)  # SystemExit: what the episode holds open (an agent's sandbox) is closed on the way


def _play_locally(episode: int, seed: int) -> _Played:
    job, checkpoint = _LOCAL_JOB
    try:
        return _play(job, checkpoint, episode, seed)
    except SystemExit as stop:  # stopped by the driver (SIGTERM) mid-episode: exit, take no further task
        os._exit(stop.code)


# ---- Ray

_RAY_JOBS: dict[str, tuple[_Job, Path]] = {}  # a Ray worker's jobs by object id, each checkpoint written locally


@contextmanager
def ray_session(address: str, cpus: int | None, feature: str) -> Iterator[ModuleType]:
    """The ``ray`` module, connected for the block: to a Ray started here (``address`` :data:`LOCAL_RAY`, with
    ``cpus`` CPUs, default all) or to the cluster at ``address``; disconnected after (a local Ray stopped).
    Workers import this project's packages from where this process does. Already connected (a ``ray.init``
    of the caller's): used as it is and left connected.

    Raises:
        MissingExtraError: Ray is not installed (the message names ``feature`` and the ``[ray]`` extra).
        ValueError: no Ray cluster answers at ``address``.
    """
    ray = optional_import("ray", feature)
    if ray.is_initialized():
        yield ray
        return
    paths = [*project_roots(), *os.environ.get("PYTHONPATH", "").split(os.pathsep)]
    options = {"runtime_env": {"env_vars": {"PYTHONPATH": os.pathsep.join(dict.fromkeys(p for p in paths if p))}},
               "logging_level": logging.WARNING}
    try:
        if address == LOCAL_RAY:  # a new Ray even where `ray start` runs one (which ray.init() would join)
            ray.init(address="local", num_cpus=cpus or os.cpu_count(), include_dashboard=False, **options)
        else:
            ray.init(address=address, **options)
    except ConnectionError as error:
        raise ValueError(f"no Ray cluster at {address!r}: {error}") from None
    try:
        yield ray
    finally:
        ray.shutdown()


def _on_ray(parallel: Parallel, job: _Job, checkpoint: Path, plan: list[tuple[int, int]]) -> Iterator[_Played]:
    with ray_session(parallel.ray, parallel.workers, "--ray") as ray:
        shared = [ray.put((job, checkpoint_files(checkpoint)))]  # in a list: each task gets the reference
        task = ray.remote(num_cpus=1)(_play_on_ray)
        pending = [task.remote(shared, episode, seed) for episode, seed in plan]
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                try:
                    yield ray.get(done[0])
                except ray.exceptions.RayTaskError as error:  # the task's own exception, as a serial run raises it
                    raise (error.cause if isinstance(error.cause, BaseException) else error) from None
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)


def _play_on_ray(shared: list[Any], episode: int, seed: int) -> _Played:
    (reference,) = shared
    key = reference.hex()
    if key not in _RAY_JOBS:
        job, files = optional_import("ray", "--ray").get(reference)
        folder = Path(tempfile.mkdtemp(prefix="recsim-lab-checkpoint-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        write_checkpoint_files(folder, files)
        _RAY_JOBS[key] = (job, folder)
    job, folder = _RAY_JOBS[key]
    return _play(job, folder, episode, seed)
