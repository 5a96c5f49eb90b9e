"""``evaluate``: the official test protocol for a submitted agent, with the agent kept at arm's length.

The protocol is the runner's (:func:`~recsim_lab.run.runner.run_episodes`): fit on the visible data, checkpoint,
then N episodes of the test population, each from the restored checkpoint, all active users served per env
step, seeds derived from the run seed. So a submission that succeeds gets exactly the outputs
``recsim-lab run`` would give it, plus ``"status": "ok"`` in ``summary.json``.

The submitted agent runs isolated in a process tree of its own
(:class:`~recsim_lab.evaluation.sandbox.SandboxedAgent`) under a wall-time limit for the whole evaluation and a
memory limit; the env and the scoring stay here, and the results are written only once every process of the
submission is gone, into a run directory it never saw. With ``parallel`` (``--workers``, ``--ray``), the fit's
sandbox saves the checkpoint and is closed, and each episode runs in a fresh sandbox of its own, started by a
worker (:class:`~recsim_lab.evaluation.sandbox.SandboxedAgents`), that restores it: the same limits, the same
outputs. Where isolation is not available, :func:`evaluate`
refuses unless ``insecure`` (for code you trust). When the agent fails
(see :data:`~recsim_lab.evaluation.sandbox.FAILURE_STATUSES`), the run directory holds ``config.json`` and a
``summary.json`` with the failure record (status, reason, the failing call, 0-based episode and step, the
agent's traceback) and nothing else. If the evaluation itself is interrupted, its run directory is removed.

A preset's world is built from a secret seed (:mod:`~recsim_lab.evaluation.receipts`): drawn afresh unless
``world_seed`` fixes it, recorded beside the organiser's key under the run's id, never in the run directory.
A successful evaluation also writes ``receipt.json``, the organiser's HMAC over the scores, the world, the
submission and the settings, which ``score`` checks.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from recsim_lab.evaluation.isolation import isolation_problem
from recsim_lab.evaluation.receipts import (
    draw_world_seed,
    key_path,
    load_key,
    make_receipt,
    new_run_id,
    record_world_seed,
    submission_digest,
    world_fingerprint,
    write_receipt,
)
from recsim_lab.evaluation.sandbox import AgentFailure, SandboxedAgent, SandboxedAgents
from recsim_lab.run.failures import AgentRaised
from recsim_lab.run.parallel import EpisodeWorkers, Parallel
from recsim_lab.run.runner import (
    ProtocolConfig,
    RunConfig,
    create_run_directory,
    fit_checkpoint,
    run_episodes,
    write_json,
    write_outputs,
)
from recsim_lab.validation import check_scalar
from recsim_lab.worlds.presets import PRESETS, make_world
from recsim_lab.worlds.world import World

DEFAULT_MEMORY_LIMIT = 8 << 30
"""8 GiB: room for the built-in agents, TensorFlow and torch included (see the README, "Evaluating a
submission")."""


@dataclass
class EvaluateConfig(ProtocolConfig):
    """An evaluation of a submitted agent under the official protocol: the fields of
    :class:`~recsim_lab.run.runner.ProtocolConfig` (``agent`` required, by keyword) and the limits."""

    agent: str = field(kw_only=True)
    """The submission: ``path/to/agent.py:Class`` (also ``package.module:Class`` or a built-in name)."""
    time_limit: float = 3600.0
    """Seconds of wall time for the whole evaluation: starting the agent's process, fit, all episodes."""
    memory_limit: int | None = DEFAULT_MEMORY_LIMIT
    """Bytes: the memory of the submission's whole process tree, and each process's address space
    (``RLIMIT_AS``); ``None``: no limit."""
    insecure: bool = False
    """Run the submission as a plain child process, without isolation: for code you trust."""
    world_seed: int | None = None
    """Seed of a preset's world; ``None``: a fresh secret one. Never written to the run directory."""
    key: str | None = None
    """The organiser's key file (receipts, world-seed records); ``None``: ``$RECSIM_LAB_KEY`` or the default."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.world_seed = check_scalar(self.world_seed, "world_seed", int, min_val=0, allow_none=True)
        check_scalar(self.key, "key", (str, os.PathLike), allow_none=True)
        self.time_limit = check_scalar(self.time_limit, "time_limit", float, min_val=0.0,
                                       include_boundaries="neither")
        self.memory_limit = check_scalar(self.memory_limit, "memory_limit", int, min_val=1, allow_none=True)

    def protocol(self) -> RunConfig:
        """The run this evaluation plays: the test population, all active users per step."""
        return RunConfig(**{f.name: getattr(self, f.name) for f in fields(ProtocolConfig)}, split="test",
                         batch_size=None)


@dataclass
class EvaluationOutcome:
    """Where an evaluation's outputs went, and its summary (``summary["status"]`` is ``"ok"`` on success)."""

    directory: Path
    summary: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.summary["status"] == "ok"


def submission_folder(spec: str) -> Path | None:
    """The folder the sandbox shows a submission (its working directory): a ``.py`` file's folder, or the folder
    named; ``None`` for a built-in or a ``package.module:Class``."""
    source = Path(spec.rpartition(":")[0])
    if source.suffix == ".py":
        return source.resolve().parent
    return source.resolve() if spec.rpartition(":")[0] and source.is_dir() else None


def evaluate(config: EvaluateConfig, world: World | None = None, parallel: Parallel | None = None) -> EvaluationOutcome:
    """Evaluate ``config.agent`` under the official protocol; never raises for what the agent does.

    Args:
        config: the submission, world, limits.
        world: an already built world for ``config.env`` (built from ``config.env`` and its world seed when
            omitted; when given for a preset, ``config.world_seed`` must say its seed).
        parallel: play the episodes in worker processes or on Ray, each in a sandbox of its own that restores
            the checkpoint the fit's sandbox saved (the same limits for each, under the evaluation's one time
            limit; the same outputs); ``None``: one after another in the fit's sandbox.

    Returns:
        The run directory and its summary: the run's summary plus ``status: "ok"``, or the failure record;
        both with ``evaluation``: the limits and ``wall_s``, the seconds the evaluation took.
    """

    problem = None if config.insecure else isolation_problem()
    if problem is not None:
        raise ValueError(f"{problem}; or pass --insecure to run code you trust without isolation")
    key_file = key_path(config.key)
    folder = submission_folder(config.agent)
    if folder is not None and key_file.resolve().is_relative_to(folder):
        raise ValueError(f"the submission's folder {folder} holds the organiser's key {key_file}: keep the key "
                         f"where no submission can read it")
    key = load_key(key_file, create=True)
    world_seed = config.world_seed
    if config.env in PRESETS and world_seed is None:
        if world is not None:
            raise ValueError(f"evaluate was given a world for preset {config.env!r}: say its world_seed")
        world_seed = draw_world_seed()
    world = make_world(config.env, seed=world_seed) if world is None else world
    protocol = config.protocol()
    limits = {"time_limit_s": config.time_limit, "memory_limit_bytes": config.memory_limit,
              "isolated": not config.insecure}
    submission, run_id = submission_digest(config.agent), new_run_id()
    directory = create_run_directory(protocol, world, evaluation=limits, run_id=run_id)
    env = config.env if config.env in PRESETS else str(Path(config.env).resolve())
    fingerprint = world_fingerprint(world)
    record_world_seed(key_file, run_id, {"env": env, "world_seed": world_seed, "world_fingerprint": fingerprint,
                                         "agent": config.agent, "directory": str(directory.resolve())})
    secrets_ = (key_file, key_file.parent, key_file.parent / "world-seeds")  # the key and the world seeds
    hide = tuple(Path(path).resolve() for path in (config.env, config.out, directory, *secrets_)
                 if Path(path).exists())
    start, deadline = time.monotonic(), time.time() + config.time_limit
    workers = None if parallel is None or parallel.serial else EpisodeWorkers(parallel, SandboxedAgents(
        config.agent, config.agent_options, n_items=world.dataset.n_items, time_limit=config.time_limit,
        deadline=deadline, memory_limit=config.memory_limit, isolated=not config.insecure, hide=hide))
    episodes = {"episodes": protocol.episodes, "seed": protocol.seed, "split": protocol.split,
                "batch_size": protocol.batch_size, "progress": protocol.progress}
    try:
        # the agent saves into its own private folder and sends the files to this one, private to the scorer
        with tempfile.TemporaryDirectory(prefix="recsim-lab-checkpoint-") as folder:
            checkpoint = Path(folder)
            with SandboxedAgent(config.agent, config.agent_options, n_items=world.dataset.n_items,
                                time_limit=config.time_limit, memory_limit=config.memory_limit,
                                isolated=not config.insecure, hide=hide) as agent:
                if workers is None:  # every episode in this sandbox
                    results = run_episodes(world, agent, checkpoint=checkpoint, **episodes)
                else:
                    fit_checkpoint(world, agent, seed=protocol.seed, checkpoint=checkpoint)
            if workers is not None:  # the fit's sandbox is closed; each episode in a fresh one
                results = run_episodes(world, None, checkpoint=checkpoint, workers=workers, **episodes)
        # the sandboxes are closed: every process of the submission is gone before a result is written
        settings = {"episodes": protocol.episodes, "seed": protocol.seed, "agent_options": config.agent_options,
                    **limits, "world_seed": world_seed}

        def sign() -> None:  # after scores.csv, before summary.json: "ok" in summary.json means signed
            write_receipt(directory, make_receipt(key, run_id=run_id, env=env, fingerprint=fingerprint,
                                                  scores=(directory / "scores.csv").read_bytes(),
                                                  submission=submission, settings=settings))

        summary = write_outputs(directory, protocol, world, results, status="ok", run_id=run_id,
                                evaluation={**limits, "wall_s": time.monotonic() - start}, before_summary=sign,
                                **({} if workers is None else {"parallel": workers.summary()}))
    except (AgentFailure, AgentRaised) as error:  # the runner raises the sandbox's failures as AgentRaised
        failure = error.__cause__ if isinstance(error, AgentRaised) else error
        if not isinstance(failure, AgentFailure):
            shutil.rmtree(directory, ignore_errors=True)
            raise
        summary = {**failure.record(), "env": config.env, "agent": config.agent, "run_id": run_id,
                   "evaluation": {**limits, "wall_s": time.monotonic() - start}}
        write_json(directory / "summary.json", summary)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return EvaluationOutcome(directory, summary)
