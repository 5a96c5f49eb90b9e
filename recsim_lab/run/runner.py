"""The runner: fit once, checkpoint, then play every episode from the restored checkpoint.

Seeding: one run seed; ``np.random.SeedSequence(seed).spawn(2)`` gives the agent's stream and the episodes'
stream, and the latter spawns one seed per episode. The world itself does not depend on the run seed.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from agents.checker import PROTOCOL_METHODS, AgentCheckError, check_agent
from agents.protocol import Agent
from agents.registry import BUILTIN_AGENTS, DEFAULT_AGENT, absolute_spec, make_agent
from envs.batch_env import BatchSlateEnv
from recsim_lab import __version__
from recsim_lab.atomic import atomic_write_text, removing_new_folders
from recsim_lab.data import Dataset
from recsim_lab.data.ids import original_user_ids
from recsim_lab.run.episode import EpisodeResult, play_from_checkpoint
from recsim_lab.run.failures import AgentRaised, InvalidSlates, call_agent
from recsim_lab.run.parallel import EpisodeWorkers, NamedAgent, Parallel
from recsim_lab.run.record import RunRecord
from recsim_lab.run.scoring import average_scores, episodes_csv, scores_csv, summarize, trace_csv
from recsim_lab.seeding import derive_seeds
from recsim_lab.validation import check_choice, check_scalar
from recsim_lab.worlds.presets import make_world
from recsim_lab.worlds.world import CHOICE_MODELS, World

CHECK_USERS = 16
"""Users in the sample on which an agent that is not built in is checked before the run (:func:`checked_agent`)."""


@dataclass
class ProtocolConfig:
    """What every play of the protocol names: env, agent and its options, episodes, seed, where outputs go.
    :class:`RunConfig` and :class:`~recsim_lab.evaluation.evaluate.EvaluateConfig` extend it."""

    env: str = "default"
    """Preset name (``recsim-lab envs``) or world directory."""
    agent: str = DEFAULT_AGENT
    """Built-in name (``recsim-lab agents``), ``path/to/file.py:Class`` or ``package.module:Class``."""
    episodes: int = 5
    """Episodes to play, each from the restored checkpoint."""
    seed: int = 0
    """Root seed of the run (agent and episode seeds derive from it)."""
    out: str = "runs"
    """Folder that receives the run directory."""
    agent_options: dict[str, Any] = field(default_factory=dict)
    """Hyperparameters passed to the agent's constructor."""
    progress: bool = True
    """Show a progress bar per episode."""

    def __post_init__(self) -> None:
        for name in ("env", "agent"):
            check_scalar(getattr(self, name), name, str)
        self.episodes = check_scalar(self.episodes, "episodes", int, min_val=1)
        self.seed = check_scalar(self.seed, "seed", int, min_val=0)
        check_scalar(self.out, "out", (str, os.PathLike))
        check_scalar(self.agent_options, "agent_options", dict)
        check_scalar(self.progress, "progress", bool)


@dataclass
class RunConfig(ProtocolConfig):
    """One run of an agent against an environment."""

    split: str = "test"
    """Population: ``test`` (all users) or ``train`` (the first ``n_train_users``)."""
    batch_size: int | None = None
    """Users served per env step: ``None`` serves all active users at once; 1 is the one-user protocol."""
    choice: str | None = None
    """Choice model to play under instead of the world's (``softmax`` or ``replay``); ``None`` keeps it."""
    original_ids: bool = False
    """Write ``scores.csv`` with an imported world's original user ids (its ``ids.json``)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_choice(self.split, "split", ("train", "test"))
        self.batch_size = check_scalar(self.batch_size, "batch_size", int, min_val=1, allow_none=True)
        check_choice(self.choice, "choice", (*CHOICE_MODELS, None))
        check_scalar(self.original_ids, "original_ids", bool)


def mean_score(world: World, agent: Agent, *, episodes: int, seed: int) -> float:
    """``agent``'s mean score (session length / horizon over the test population's users and the episodes) as
    :func:`run_episodes` plays it, its checkpoint in a temporary folder: what a sweep's trial and the reference
    agents need."""
    with tempfile.TemporaryDirectory(prefix="recsim-lab-checkpoint-") as checkpoint:
        results = run_episodes(world, agent, episodes=episodes, seed=seed, checkpoint=Path(checkpoint),
                               progress=False)
    return summarize(results, world.rules.horizon)["mean_score"]


def run_episodes(world: World, agent: Agent | None, *, episodes: int, seed: int, checkpoint: Path,
                 split: str = "test", batch_size: int | None = None, progress: bool = True,
                 record: RunRecord | None = None, workers: EpisodeWorkers | None = None) -> list[EpisodeResult]:
    """Fit ``agent`` once on the visible data, save it to ``checkpoint``, and play ``episodes`` episodes,
    restoring the checkpoint at the start of each.

    With a ``record`` (:mod:`recsim_lab.run.record`) the work survives an interruption: the checkpoint is
    sealed once saved and every episode is saved as soon as it ends; what the record already holds (a
    sealed checkpoint, completed episodes) is reused instead of being fitted or played again.

    Args:
        agent: the agent to fit (:func:`fit_checkpoint`) and play; ``None``: ``checkpoint`` already holds the
            fitted agent's checkpoint, and ``workers`` play every episode.
        workers: play the episodes in worker processes (:mod:`~recsim_lab.run.parallel`), each restoring the
            checkpoint into an agent of its own; ``None``: one after another, here, with ``agent``.

    Returns:
        The episodes' results in episode order, whoever played them.
    """
    if agent is None and workers is None:
        raise ValueError("run_episodes needs an agent, or workers to play a checkpoint already saved")
    _, episode_seeds = derive_seeds(seed, episodes)
    checkpoint = Path(checkpoint)
    env = BatchSlateEnv(world, split=split, batch_size=batch_size)
    completed = {} if record is None else record.completed_episodes(episode_seeds, env.population.members)
    if agent is not None:
        fit_checkpoint(world, agent, seed=seed, checkpoint=checkpoint, record=record)
    plan = [(episode, episode_seed) for episode, episode_seed in enumerate(episode_seeds) if episode not in completed]
    if workers is None:
        played = (play_from_checkpoint(env, agent, checkpoint, episode=episode, seed=episode_seed, progress=progress,
                                       description=f"episode {episode + 1}/{episodes}")
                  for episode, episode_seed in plan)
    else:
        played = workers.play(world, checkpoint, plan, split=split, batch_size=batch_size, progress=progress)
    for result in played:
        completed[result.episode] = result
        if record is not None:
            record.save_episode(result)
    return [completed[episode] for episode in range(episodes)]


def fit_checkpoint(world: World, agent: Agent, *, seed: int, checkpoint: Path, record: RunRecord | None = None) -> None:
    """Fit ``agent`` on the visible data with the agent seed of run seed ``seed`` and save it to ``checkpoint``
    (sealed in ``record``); nothing when ``record`` holds a sealed checkpoint already."""
    checkpoint = Path(checkpoint)
    if record is not None and record.checkpoint_sealed(checkpoint):
        return
    agent_seed, _ = derive_seeds(seed, 0)
    call_agent(agent.fit, world.dataset, seed=agent_seed)
    checkpoint.mkdir(parents=True, exist_ok=True)
    call_agent(agent.save, checkpoint)
    if record is not None:
        record.seal_checkpoint(checkpoint)


def checked_agent(config: RunConfig, world: World) -> Agent:
    """The agent of ``config``, constructed and, unless it is a built-in, checked before any heavy work.

    A second instance is run through :func:`~agents.checker.check_agent` on the first
    :data:`CHECK_USERS` users (their histories, the whole catalogue, the run's agent seed), so that an agent
    that breaks the protocol is refused with every problem listed before ``fit`` sees the whole data.

    Raises:
        AgentCheckError: the agent breaks the protocol (one line per problem).
        AgentRaised: the agent raised while being checked.
    """
    agent = make_agent(config.agent, world=world, **config.agent_options)
    if config.agent in BUILTIN_AGENTS:
        return agent  # the built-ins pass check_agent in the test suite
    data = world.dataset
    sample = Dataset(data.headlines, data.descriptions, data.categories, data.histories[:CHECK_USERS],
                     n_train_users=min(data.n_train_users, CHECK_USERS))
    twin = make_agent(config.agent, world=world, **config.agent_options)
    agent_seed, _ = derive_seeds(config.seed, 0)
    try:
        check_agent(twin, sample, k=world.rules.slate_size, seed=agent_seed, report_exceptions=False)
    except AgentCheckError:
        raise
    except Exception as error:
        called = [f.name for f in traceback.extract_tb(error.__traceback__) if f.name in PROTOCOL_METHODS]
        raise AgentRaised(called[0] if called else "check_agent", None, None, error) from error
    return agent


@dataclass
class RunOutcome:
    """Where a run's outputs went, and its summary."""

    directory: Path
    summary: dict[str, Any]


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a run; its message says how many episodes are saved and how to resume."""


@dataclass
class PreparedRun:
    """A run ready to play: everything built from the user's input (configuration, world, agent)."""

    config: RunConfig
    world: World
    agent: Agent
    directory: Path
    """The run directory, holding ``config.json``."""


def run(config: RunConfig, world: World | None = None, parallel: Parallel | None = None) -> RunOutcome:
    """Play ``config`` and write ``scores.csv``, ``episodes.csv``, ``trace.csv``, ``summary.json`` and
    ``config.json`` into ``<out>/<env>__<agent>__<seed>__<time>/`` (each file atomically; the agent
    checkpoint beside them, and each episode in ``episodes/`` as soon as it ends, so that :func:`resume`
    can finish an interrupted run). Same as ``play(prepare_run(config, world))``.

    Args:
        config: what to run.
        world: an already built world for ``config.env`` (built from ``config.env`` when omitted).
        parallel: play the episodes in worker processes or on Ray (same outputs); ``None``: here.

    Raises:
        RunInterrupted: on Ctrl-C; the completed episodes stay in the run directory.
    """
    return play(prepare_run(config, world), parallel)


def prepare_run(config: RunConfig, world: World | None = None) -> PreparedRun:
    """Build the world and the agent of ``config`` and create its run directory, playing nothing: an error
    in the user's input (unknown env or agent, a bad agent option) is raised here, before any work.

    Args:
        config: what to run.
        world: an already built world for ``config.env`` (built from ``config.env`` when omitted).
    """

    world = (make_world(config.env) if world is None else world).with_choice(config.choice)
    if config.original_ids:
        original_user_ids(config.env, world.dataset.n_users)  # fails before anything is written
    agent = checked_agent(config, world)
    return PreparedRun(config, world, agent, create_run_directory(config, world))


def resume(directory: str | Path, *, progress: bool = True, parallel: Parallel | None = None) -> RunOutcome:
    """Finish the interrupted or killed run in ``directory``: play only the episodes it did not complete and
    write every output, exactly as the uninterrupted run would have (``scores.csv`` byte-identical). Same as
    ``play(prepare_resume(directory, progress=progress), parallel)``: the missing episodes may be played in
    parallel, whatever played the others.

    The configuration is the directory's ``config.json``; the world it names is built again and must match
    the one recorded there. Resuming a finished run plays nothing and writes the same outputs again.

    Raises:
        ValueError: not a run directory, a different world, a changed checkpoint, or episode files that do
            not belong to the run.
        RunInterrupted: on Ctrl-C (resume again).
    """
    return play(prepare_resume(directory, progress=progress), parallel)


def prepare_resume(directory: str | Path, *, progress: bool = True) -> PreparedRun:
    """Read the run in ``directory`` back, build its world and agent, and check that the world is the same;
    plays nothing (see :func:`resume`)."""

    directory = Path(directory)
    if not (directory / "config.json").is_file():
        raise ValueError(f"{directory} is not a run directory: it has no config.json")
    recorded = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    if "evaluation" in recorded:
        raise ValueError(f"{directory} is an evaluation (recsim-lab evaluate), which is not resumable; "
                         f"evaluate the agent again")
    missing = sorted({"env", "agent", "episodes", "seed"} - set(recorded))
    if missing:
        raise ValueError(f"{directory / 'config.json'} lacks {missing}; it was not written by recsim-lab run")
    # a field added to RunConfig after the run was recorded takes its default
    config = RunConfig(**{f.name: recorded[f.name] for f in fields(RunConfig) if f.name in recorded
                          and f.name != "progress"}, progress=progress)
    world = make_world(config.env).with_choice(config.choice)
    current = _resolved_config(config, world)["world"]
    if current != recorded.get("world"):
        raise ValueError(f"env {config.env!r} is now {current}, but the run was started on "
                         f"{recorded.get('world')}; a run resumes only on the same world")
    agent = checked_agent(config, world)
    RunRecord(directory).remove_temporary_files()
    return PreparedRun(config, world, agent, directory)


def play(prepared: PreparedRun, parallel: Parallel | None = None) -> RunOutcome:
    """Play a prepared run (:func:`prepare_run`, :func:`prepare_resume`) and write its outputs; with
    ``parallel``, the episodes in worker processes or on Ray (``summary.json`` then says how, with each
    worker's peak memory), the outputs otherwise the same."""
    config, world, agent, directory = prepared.config, prepared.world, prepared.agent, prepared.directory
    record = RunRecord(directory)
    workers = None if parallel is None or parallel.serial else \
        EpisodeWorkers(parallel, NamedAgent(absolute_spec(config.agent), config.agent_options))
    try:
        results = run_episodes(world, agent, episodes=config.episodes, seed=config.seed,
                               checkpoint=directory / "checkpoint", split=config.split,
                               batch_size=config.batch_size, progress=config.progress, record=record,
                               workers=workers)
        extra = {} if workers is None else {"parallel": workers.summary()}
        return RunOutcome(directory, write_outputs(directory, config, world, results, **extra))
    except KeyboardInterrupt:
        saved = len(record.saved_episodes())
        raise RunInterrupted(f"{saved} of {config.episodes} episodes are saved in {directory}; finish the run "
                             f"with: recsim-lab run --resume {directory}") from None
    except (AgentRaised, InvalidSlates) as error:
        error.add_note(_what_is_left(directory, record, config.episodes))
        raise


def _what_is_left(directory: Path, record: RunRecord, episodes: int) -> str:
    """What a failed run left in ``directory``, and what to do with it."""
    checkpoint = "checkpoint/, " if record.checkpoint_sealed(directory / "checkpoint") else ""
    saved = len(record.saved_episodes())
    return (f"the run left {directory} (config.json, {checkpoint}{saved} of {episodes} episodes); once the agent "
            f"is fixed, delete it and run again, or keep what it holds with: recsim-lab run --resume {directory}")


def create_run_directory(config: RunConfig, world: World, **extra: Any) -> Path:
    """A new ``<out>/<env>__<agent>__<seed>__<time>/`` holding ``config.json`` (the resolved ``config``, the
    world's shape and rules, and ``extra``)."""
    out = Path(config.out)
    with removing_new_folders(out):
        directory = new_run_directory(out, config.env, config.agent, config.seed)
        try:
            write_json(directory / "config.json", {**_resolved_config(config, world), **extra})
        except BaseException:  # e.g. a full disk: no empty run directory is left behind
            directory.rmdir()
            raise
    return directory


def write_outputs(directory: Path, config: RunConfig, world: World, results: list[EpisodeResult], *,
                  before_summary: Callable[[], None] | None = None, **extra: Any) -> dict[str, Any]:
    """Write ``scores.csv``, ``episodes.csv``, ``trace.csv``, then call ``before_summary`` (e.g. to sign the
    scores), and write ``summary.json`` last (with ``extra`` keys added), each atomically: a ``summary.json``
    marks a finished run. Returns the summary."""
    horizon = world.rules.horizon
    users, scores = average_scores(results, horizon)
    labels = original_user_ids(config.env, world.dataset.n_users)[users] if config.original_ids else None
    atomic_write_text(directory / "scores.csv", scores_csv(users, scores, labels))
    atomic_write_text(directory / "episodes.csv", episodes_csv(results, horizon))
    atomic_write_text(directory / "trace.csv", trace_csv(results))
    agent_seed, episode_seeds = derive_seeds(config.seed, config.episodes)
    summary = {
        "env": config.env, "agent": config.agent, "split": config.split, "users": int(users.size),
        **summarize(results, horizon),
        "seeds": {"run": config.seed, "agent": agent_seed, "episodes": episode_seeds},
        "versions": _versions(),
        **extra,
    }
    if before_summary is not None:
        before_summary()
    write_json(directory / "summary.json", summary)
    return summary


def _label(spec: str) -> str:
    """A short file-name-safe label: a preset or built-in name, a directory's name, or a class name."""
    label = spec.rpartition(":")[2] if ":" in spec else Path(spec).name or spec
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in label)


def new_run_directory(out: Path, env: str, agent: str, seed: int, prefix: str = "") -> Path:
    """A new, empty ``<out>/<prefix><env>__<agent>__<seed>__<time>/`` (``-2``, ``-3``, ... appended when that
    name is taken), ``env`` and ``agent`` shortened to file-name-safe labels."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = out / f"{prefix}{_label(env)}__{_label(agent)}__{seed}__{stamp}"
    for suffix in range(1, 1000):
        candidate = base if suffix == 1 else base.with_name(f"{base.name}-{suffix}")
        try:
            candidate.mkdir(parents=True)
            return candidate
        except FileExistsError:
            continue
    raise RuntimeError(f"could not create a new run directory next to {base}")


def _resolved_config(config: RunConfig, world: World) -> dict[str, Any]:
    return {**asdict(config), "world": {"name": world.name, "n_users": world.dataset.n_users,
                                        "n_items": world.dataset.n_items, "dim": world.dim,
                                        "n_train_users": world.dataset.n_train_users,
                                        "rules": asdict(world.rules)}}


def write_json(path: Path, value: dict[str, Any]) -> None:
    """Write ``value`` as indented JSON with sorted keys, atomically."""
    atomic_write_text(path, json.dumps(value, indent=2, sort_keys=True, default=str) + "\n")


def _versions() -> dict[str, str]:
    import platform

    import gymnasium


    return {"recsim_lab": __version__, "numpy": np.__version__, "gymnasium": gymnasium.__version__,
            "python": platform.python_version()}
