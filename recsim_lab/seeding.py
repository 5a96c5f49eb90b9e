"""Seeds derived from one root seed: the agent's, and one per episode.

``np.random.SeedSequence(seed).spawn(2)`` gives the agent's stream (child 0) and the episodes' stream
(child 1); episode ``e`` uses child ``e`` of the latter, so more episodes extend the list and never reshuffle it.
"""

from __future__ import annotations

import numpy as np


def derive_seeds(seed: int, episodes: int) -> tuple[int, list[int]]:
    """The agent's seed and the env seed of each of ``episodes`` episodes, from the run seed."""
    agent_stream = np.random.SeedSequence(seed, spawn_key=(0,))
    return int(agent_stream.generate_state(1)[0]), [episode_seed(seed, e) for e in range(episodes)]


def episode_seed(seed: int, episode: int) -> int:
    """The env seed of episode ``episode`` of a run with root seed ``seed``."""
    return int(np.random.SeedSequence(seed, spawn_key=(1, episode)).generate_state(1)[0])
