"""One episode: restore the agent, reset the env, let the agent recommend and learn until no user is left."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from agents.protocol import Agent
from envs.batch_env import BatchSlateEnv
from recsim_lab.run.failures import AgentRaised, InvalidSlates, call_agent
from recsim_lab.run.trace import StepTrace

_POSTFIX_SECONDS = 0.5  # between progress-bar postfix refreshes (a batched episode has few, long env steps)


@dataclass
class EpisodeResult:
    """What one episode produced, per user of the population."""

    episode: int
    seed: int | np.random.SeedSequence
    """The env's reset seed (an int in runs)."""
    users: np.ndarray
    """``(n,)`` user ids of the population."""
    session_length: np.ndarray
    """``(n,)`` steps each user stayed."""
    clicks: np.ndarray
    """``(n,)`` clicks each user made."""
    seconds: float
    """Wall time of the episode (agent and env)."""
    trace: np.ndarray
    """``(n_points, 5)`` int64 per-step aggregates, columns :data:`~recsim_lab.run.trace.TRACE_COLUMNS`."""

    @property
    def steps(self) -> int:
        """User-steps served in the episode."""
        return int(self.session_length.sum())


def play_from_checkpoint(env: BatchSlateEnv, agent: Agent, checkpoint: Path, *, episode: int, seed: int,
                         progress: bool = True, description: str = "episode") -> EpisodeResult:
    """Restore ``agent`` from ``checkpoint``, then :func:`play_episode`: one episode of a run, the same whether
    the runner plays it or a worker process does (:mod:`~recsim_lab.run.parallel`).

    Raises:
        AgentRaised: the agent's ``load`` raised (with the episode), or as :func:`play_episode`.
        InvalidSlates: as :func:`play_episode`.
    """
    call_agent(agent.load, checkpoint, episode=episode)
    return play_episode(env, agent, episode=episode, seed=seed, progress=progress, description=description)


def play_episode(env: BatchSlateEnv, agent: Agent, *, episode: int, seed: int | np.random.SeedSequence,
                 progress: bool = True, description: str = "episode") -> EpisodeResult:
    """Reset ``env`` with ``seed`` and play until no user is left; the agent learns from every response.

    The progress bar shows only on a terminal (piped output gets none).

    Raises:
        AgentRaised: the agent's ``recommend`` or ``update`` raised (with the episode and the 0-based step).
        InvalidSlates: the env rejected the agent's slates (likewise).
    """
    start = time.perf_counter()
    users, _ = env.reset(seed=seed)
    k = env.world.rules.slate_size
    clicks = 0
    trace = StepTrace()
    step, method = 0, ""
    with tqdm(desc=description, unit="step", disable=None if progress else True, leave=False) as bar:
        shown = -float("inf")
        try:
            while True:
                method = "recommend"
                slates = agent.recommend(users, k)
                method = ""
                try:
                    next_users, rewards, terminated, info = env.step(slates)
                except (ValueError, TypeError) as error:  # the env checks the slates first and changes nothing
                    raise InvalidSlates(episode, step, error) from None
                method = "update"
                agent.update(info["user"], np.asarray(slates, dtype=np.int64), info["clicked_item"])
                step_clicks = int(rewards.sum())
                clicks += step_clicks
                trace.add(users.size, step_clicks, info["n_active"])
                bar.update(users.size)
                if not bar.disable and (terminated or time.perf_counter() - shown >= _POSTFIX_SECONDS):
                    bar.set_postfix(clicks=clicks, active=info["n_active"], refresh=False)
                    shown = time.perf_counter()
                if terminated:
                    break
                users = next_users
                step += 1
        except Exception as error:
            if not method:
                raise
            raise AgentRaised(method, episode, step, error) from error
    population = env.population
    members = population.members
    return EpisodeResult(episode, seed, members.copy(), population.session_length[members].copy(),
                         population.clicks[members].copy(), time.perf_counter() - start, trace.to_array())
