"""``SlateEnv``: the Gymnasium environment, one user served per step.

An episode is one session of the whole population: each step serves the current user (drawn uniformly
from the users still active), who answers the slate; the episode terminates when no user is left.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.slate_space import SlateSpace
from recsim_lab.sim.population import Population
from recsim_lab.worlds.presets import make_world
from recsim_lab.worlds.world import World

_UNIFORM_BLOCK = 4096  # uniforms drawn from np_random at a time; each step uses two


class SlateEnv(gym.Env[np.int64, np.ndarray]):
    """Serve one user per step with a slate of distinct items.

    Args:
        world: a :class:`World`, or the name of a preset or world directory (see ``recsim-lab envs``).
        split: ``"test"`` (all users, the default) or ``"train"`` (the first ``n_train_users``).

    Observation: the current user id, an ``int64`` in ``Discrete(n_users)``.
    Action: ``slate_size`` distinct item ids (:class:`SlateSpace`).
    Reward: 1.0 when the user clicks, else 0.0.
    Terminated: when no user is left (the observation returned then is the last user served, who has
    left). Never truncated (sessions end by the rules).
    Info: ``user`` (who was served), ``clicked_item`` (-1 for none), ``left`` (the user left),
    ``session_length`` (that user's steps so far), ``n_active`` (users still in the session).

    A rejected action (wrong length, repeats, out-of-range ids) raises ``ValueError`` and changes nothing.
    """

    metadata = {"render_modes": []}

    def __init__(self, world: World | str = "default", split: str = "test") -> None:
        if not isinstance(world, World):

            world = make_world(world)
        self.world = world
        self.split = split
        self.population = Population(world, world.dataset.users(split))
        self.observation_space = spaces.Discrete(world.dataset.n_users)
        self.action_space = SlateSpace(world.dataset.n_items, world.rules.slate_size)
        self._uniforms: list[float] = []  # a block of draws from np_random, as Python floats
        self._next = 0
        self._user = -1

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.int64, dict[str, Any]]:
        super().reset(seed=seed)
        self.population.reset()
        self._next = len(self._uniforms)  # discard draws from the previous episode's stream
        self._user = self.population.user_at(self._uniform())
        return np.int64(self._user), {"n_active": self.population.n_active}

    def step(self, action: np.ndarray) -> tuple[np.int64, float, bool, bool, dict[str, Any]]:
        user = self._user
        if user < 0:
            raise RuntimeError("call reset() before step(), and again after the episode terminated")
        population = self.population
        slate = population.check_one(action)  # raises before any state changes or random draw
        item, left = population.respond_one(user, slate, self._uniform())
        n_active = population.n_active
        info = {"user": user, "clicked_item": item, "left": left,
                "session_length": int(population.session_length[user]), "n_active": n_active}
        if n_active == 0:
            self._user = -1
            return np.int64(user), float(item >= 0), True, False, info
        self._user = population.user_at(self._uniform())
        return np.int64(self._user), float(item >= 0), False, False, info

    def _uniform(self) -> float:
        if self._next >= len(self._uniforms):
            self._uniforms = self.np_random.random(_UNIFORM_BLOCK).tolist()
            self._next = 0
        value = self._uniforms[self._next]
        self._next += 1
        return value
