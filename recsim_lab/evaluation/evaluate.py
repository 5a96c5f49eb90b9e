"""``evaluate``: the official test protocol for a submitted agent, with the agent kept at arm's length.

The protocol is the runner's (:func:`~recsim_lab.run.runner.run_episodes`): fit on the visible data, checkpoint,
then N episodes of the test population, each from the restored checkpoint, all active users served per env
step, seeds derived from the run seed. So a submission that succeeds gets exactly the outputs
``recsim-lab run`` would give it, plus ``"status": "ok"`` in ``summary.json``.

The submitted agent runs in a child process (:class:`~recsim_lab.evaluation.sandbox.SandboxedAgent`) under a wall-time
limit for the whole evaluation and a memory limit; the env and the scoring stay here. When the agent fails
(see :data:`~recsim_lab.evaluation.sandbox.FAILURE_STATUSES`), the run directory holds ``config.json`` and a
``summary.json`` with the failure record (status, reason, the failing call, 0-based episode and step, the
agent's traceback) and nothing else. If the evaluation itself is interrupted, its run directory is removed.
"""

from __future__ import annotations

import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recsim_lab.evaluation.sandbox import AgentFailure, SandboxedAgent
from recsim_lab.run.failures import AgentRaised
from recsim_lab.run.runner import RunConfig, create_run_directory, run_episodes, write_json, write_outputs
from recsim_lab.worlds.presets import make_world
from recsim_lab.worlds.world import World

DEFAULT_MEMORY_LIMIT = 8 << 30
"""8 GiB: room for the built-in agents, TensorFlow and torch included (see the README, "Evaluating a
submission")."""


@dataclass
class EvaluateConfig:
    """An evaluation of a submitted agent under the official protocol."""

    agent: str
    """The submission: ``path/to/agent.py:Class`` (also ``package.module:Class`` or a built-in name)."""
    env: str = "default"
    """Preset name or world directory."""
    episodes: int = 5
    """Episodes to play, each from the restored checkpoint."""
    seed: int = 0
    """Root seed (agent and episode seeds derive from it)."""
    time_limit: float = 3600.0
    """Seconds of wall time for the whole evaluation: starting the agent's process, fit, all episodes."""
    memory_limit: int | None = DEFAULT_MEMORY_LIMIT
    """Address-space limit of the agent's process in bytes (``RLIMIT_AS``); ``None``: no limit."""
    out: str = "runs"
    """Folder that receives the run directory."""
    agent_options: dict[str, Any] = field(default_factory=dict)
    """Hyperparameters passed to the agent's constructor."""
    progress: bool = True
    """Show a progress bar per episode."""

    def __post_init__(self) -> None:
        self.protocol()  # validates the fields shared with RunConfig
        if isinstance(self.time_limit, bool) or not isinstance(self.time_limit, (int, float)) or \
                not (math.isfinite(self.time_limit) and self.time_limit > 0):
            raise ValueError(f"time_limit must be a positive number of seconds, got {self.time_limit!r}")
        if self.memory_limit is not None and (isinstance(self.memory_limit, bool) or
                                              not isinstance(self.memory_limit, int) or self.memory_limit < 1):
            raise ValueError(f"memory_limit must be a positive number of bytes or None (no limit), "
                             f"got {self.memory_limit!r}")

    def protocol(self) -> RunConfig:
        """The run this evaluation plays: the test population, all active users per step."""
        return RunConfig(env=self.env, agent=self.agent, episodes=self.episodes, seed=self.seed, split="test",
                         batch_size=None, out=self.out, agent_options=self.agent_options, progress=self.progress)


@dataclass
class EvaluationOutcome:
    """Where an evaluation's outputs went, and its summary (``summary["status"]`` is ``"ok"`` on success)."""

    directory: Path
    summary: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.summary["status"] == "ok"


def evaluate(config: EvaluateConfig, world: World | None = None) -> EvaluationOutcome:
    """Evaluate ``config.agent`` under the official protocol; never raises for what the agent does.

    Args:
        config: the submission, world, limits.
        world: an already built world for ``config.env`` (built from ``config.env`` when omitted).

    Returns:
        The run directory and its summary: the run's summary plus ``status: "ok"``, or the failure record;
        both with ``evaluation``: the limits and ``wall_s``, the seconds the evaluation took.
    """

    world = make_world(config.env) if world is None else world
    protocol = config.protocol()
    limits = {"time_limit_s": config.time_limit, "memory_limit_bytes": config.memory_limit}
    directory = create_run_directory(protocol, world, evaluation=limits)
    start = time.monotonic()
    try:
        with SandboxedAgent(config.agent, config.agent_options, n_items=world.dataset.n_items,
                            time_limit=config.time_limit, memory_limit=config.memory_limit) as agent:
            results = run_episodes(world, agent, episodes=protocol.episodes, seed=protocol.seed,
                                   checkpoint=directory / "checkpoint", split=protocol.split,
                                   batch_size=protocol.batch_size, progress=protocol.progress)
        summary = write_outputs(directory, protocol, world, results, status="ok",
                                evaluation={**limits, "wall_s": time.monotonic() - start})
    except (AgentFailure, AgentRaised) as error:  # the runner raises the sandbox's failures as AgentRaised
        failure = error.__cause__ if isinstance(error, AgentRaised) else error
        if not isinstance(failure, AgentFailure):
            shutil.rmtree(directory, ignore_errors=True)
            raise
        shutil.rmtree(directory / "checkpoint", ignore_errors=True)
        summary = {**failure.record(), "env": config.env, "agent": config.agent,
                   "evaluation": {**limits, "wall_s": time.monotonic() - start}}
        write_json(directory / "summary.json", summary)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return EvaluationOutcome(directory, summary)
