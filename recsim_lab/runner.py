"""The runner: fit once, checkpoint, then play every episode from the restored checkpoint.

Seeding: one run seed; ``np.random.SeedSequence(seed).spawn(2)`` gives the agent's stream and the episodes'
stream, and the latter spawns one seed per episode. The world itself does not depend on the run seed.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agents import DEFAULT_AGENT
from recsim_lab.agent import Agent
from recsim_lab.atomic import atomic_write_text
from recsim_lab.batch_env import BatchSlateEnv
from recsim_lab.episode import EpisodeResult, play_episode
from recsim_lab.scoring import average_scores, episodes_csv, scores_csv, summarize
from recsim_lab.world import World


@dataclass
class RunConfig:
    """One run of an agent against an environment."""

    env: str = "default"
    """Preset name (``recsim-lab envs``) or world directory."""
    agent: str = DEFAULT_AGENT
    """Built-in name (``recsim-lab agents``), ``path/to/file.py:Class`` or ``package.module:Class``."""
    episodes: int = 5
    """Episodes to play, each from the restored checkpoint."""
    seed: int = 0
    """Root seed of the run (agent and episode seeds derive from it)."""
    split: str = "test"
    """Population: ``test`` (all users) or ``train`` (the first ``n_train_users``)."""
    batch_size: int | None = None
    """Users served per env step: ``None`` serves all active users at once; 1 is the one-user protocol."""
    out: str = "runs"
    """Folder that receives the run directory."""
    agent_options: dict[str, Any] = field(default_factory=dict)
    """Hyperparameters passed to the agent's constructor."""
    progress: bool = True
    """Show a progress bar per episode."""

    def __post_init__(self) -> None:
        if isinstance(self.episodes, bool) or not isinstance(self.episodes, int) or self.episodes < 1:
            raise ValueError(f"episodes must be a positive integer, got {self.episodes!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        if self.split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {self.split!r}")
        if self.batch_size is not None and (isinstance(self.batch_size, bool) or
                                            not isinstance(self.batch_size, int) or self.batch_size < 1):
            raise ValueError(f"batch_size must be a positive integer or None (all), got {self.batch_size!r}")


def derive_seeds(seed: int, episodes: int) -> tuple[int, list[int]]:
    """The agent's seed and one seed per episode, from the run seed.

    ``SeedSequence(seed).spawn(2)`` gives the agent's stream (child 0) and the episodes' stream (child 1);
    episode ``e`` uses child ``e`` of the latter, so more episodes extend the list and never reshuffle it.
    """
    agent_stream = np.random.SeedSequence(seed, spawn_key=(0,))
    return int(agent_stream.generate_state(1)[0]), [episode_seed(seed, e) for e in range(episodes)]


def episode_seed(seed: int, episode: int) -> int:
    """The env seed of episode ``episode`` of a run with root seed ``seed`` (see :func:`derive_seeds`)."""
    return int(np.random.SeedSequence(seed, spawn_key=(1, episode)).generate_state(1)[0])


def run_episodes(world: World, agent: Agent, *, episodes: int, seed: int, checkpoint: Path, split: str = "test",
                 batch_size: int | None = None, progress: bool = True) -> list[EpisodeResult]:
    """Fit ``agent`` once on the visible data, save it to ``checkpoint``, and play ``episodes`` episodes,
    restoring the checkpoint at the start of each."""
    agent_seed, episode_seeds = derive_seeds(seed, episodes)
    agent.fit(world.dataset, seed=agent_seed)
    checkpoint = Path(checkpoint)
    checkpoint.mkdir(parents=True, exist_ok=True)
    agent.save(checkpoint)
    env = BatchSlateEnv(world, split=split, batch_size=batch_size)
    results = []
    for episode, episode_seed in enumerate(episode_seeds):
        agent.load(checkpoint)
        results.append(play_episode(env, agent, episode=episode, seed=episode_seed, progress=progress,
                                    description=f"episode {episode + 1}/{episodes}"))
    return results


@dataclass
class RunOutcome:
    """Where a run's outputs went, and its summary."""

    directory: Path
    summary: dict[str, Any]


def run(config: RunConfig, world: World | None = None) -> RunOutcome:
    """Play ``config`` and write ``scores.csv``, ``episodes.csv``, ``summary.json`` and ``config.json`` into
    ``<out>/<env>__<agent>__<seed>__<time>/`` (each file atomically; the agent checkpoint beside them).

    Args:
        config: what to run.
        world: an already built world for ``config.env`` (built from ``config.env`` when omitted).
    """
    from envs import make_world
    from recsim_lab.plugins import make_agent

    world = make_world(config.env) if world is None else world
    agent = make_agent(config.agent, world=world, **config.agent_options)
    directory = _new_run_directory(Path(config.out), _label(config.env), _label(config.agent), config.seed)
    _write_json(directory / "config.json", _resolved_config(config, world))
    results = run_episodes(world, agent, episodes=config.episodes, seed=config.seed,
                           checkpoint=directory / "checkpoint", split=config.split,
                           batch_size=config.batch_size, progress=config.progress)
    horizon = world.rules.horizon
    users, scores = average_scores(results, horizon)
    atomic_write_text(directory / "scores.csv", scores_csv(users, scores))
    atomic_write_text(directory / "episodes.csv", episodes_csv(results, horizon))
    agent_seed, episode_seeds = derive_seeds(config.seed, config.episodes)
    summary = {
        "env": config.env, "agent": config.agent, "split": config.split, "users": int(users.size),
        **summarize(results, horizon),
        "seeds": {"run": config.seed, "agent": agent_seed, "episodes": episode_seeds},
        "versions": _versions(),
    }
    _write_json(directory / "summary.json", summary)
    return RunOutcome(directory, summary)


def _label(spec: str) -> str:
    """A short file-name-safe label: a preset or built-in name, a directory's name, or a class name."""
    label = spec.rpartition(":")[2] if ":" in spec else Path(spec).name or spec
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in label)


def _new_run_directory(out: Path, env: str, agent: str, seed: int) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = out / f"{env}__{agent}__{seed}__{stamp}"
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


def _write_json(path: Path, value: dict[str, Any]) -> None:
    atomic_write_text(path, json.dumps(value, indent=2, sort_keys=True, default=str) + "\n")


def _versions() -> dict[str, str]:
    import platform

    import gymnasium

    from recsim_lab import __version__

    return {"recsim_lab": __version__, "numpy": np.__version__, "gymnasium": gymnasium.__version__,
            "python": platform.python_version()}
