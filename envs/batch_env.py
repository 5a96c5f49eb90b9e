"""``BatchSlateEnv``: the fast path, serving many distinct active users per step.

How it differs from :class:`~envs.slate_env.SlateEnv` (one user per step):

- Each step serves a *batch* of distinct active users at once: all of them (``batch_size=None``, one
  "round") or a uniformly random subset of ``batch_size``. ``batch_size=1`` is the one-user protocol:
  the served user is drawn uniformly from the active users, as in ``SlateEnv``.
- Every user's own dynamics are the same: users do not interact, and each user's response depends only on
  their own slate, history and patience, so the distribution of each user's session given the slates they
  are shown is identical in both forms.
- What changes is the order of service and so what a learning agent has seen: within a batch, no user's
  feedback is available before the whole batch has been served (an agent learns with a delay of at most
  one batch), and users progress in lock-step rounds instead of in a random interleaving.
- Random draws are consumed differently, so the same seed gives different (equally valid) trajectories
  in the two forms.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from recsim_lab.sim.population import Population
from recsim_lab.validation import check_scalar
from recsim_lab.worlds.presets import make_world
from recsim_lab.worlds.world import World


class BatchSlateEnv:
    """Serve a batch of distinct active users per step.

    Args:
        world: a :class:`World`, or the name of a preset or world directory.
        split: ``"test"`` (all users) or ``"train"`` (the first ``n_train_users``).
        batch_size: users served per step; ``None`` serves every active user each step.
        users: the population's user ids, instead of the split's (e.g. a sample of it).

    The API mirrors Gymnasium with arrays: ``reset(seed) -> (users, info)``;
    ``step(slates) -> (users, rewards, terminated, info)`` where ``slates`` is ``(B, slate_size)`` for the
    ``B`` users returned by the previous call, and ``info`` holds ``user`` (who was served, ``(B,)``),
    ``clicked_item`` (``(B,)``, -1 for none), ``left`` (``(B,)`` bool), ``session_length`` (``(B,)``) and
    ``n_active``. A rejected batch raises ``ValueError`` and changes nothing.
    """

    def __init__(self, world: World | str = "default", split: str = "test", batch_size: int | None = None,
                 users: np.ndarray | None = None) -> None:
        if not isinstance(world, World):

            world = make_world(world)
        batch_size = check_scalar(batch_size, "batch_size", int, min_val=1, allow_none=True)
        self.world = world
        self.split = split
        self.batch_size = batch_size
        self.population = Population(world, world.dataset.users(split) if users is None else users)
        self.rng = np.random.default_rng()
        self._users = np.empty(0, dtype=np.int64)

    def reset(self, *, seed: int | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode; returns the first batch of users to serve. A ``seed`` reseeds the env's generator;
        without one it continues where it was (as Gymnasium's ``reset(seed=None)`` does)."""
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self.population.reset()
        self._users = self._next_batch()
        return self._users.copy(), {"n_active": self.population.n_active}

    def step(self, slates: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool, dict[str, Any]]:
        """Serve ``slates[b]`` to the b-th user of the current batch.

        Returns:
            ``users``: the next batch to serve (empty when terminated); ``rewards``: ``(B,)`` float64,
            1.0 per click; ``terminated``: no user is left; ``info`` (see the class docstring).
        """
        if self._users.size == 0:
            raise RuntimeError("call reset() before step(), and again after the episode terminated")
        population = self.population
        users = self._users
        slates = population.check(slates, users.size)
        clicked, left = population.respond(users, slates, self.rng.random(users.size))
        info = {"user": users, "clicked_item": clicked, "left": left,
                "session_length": population.session_length[users], "n_active": population.n_active}
        self._users = self._next_batch()
        return self._users.copy(), (clicked >= 0).astype(np.float64), self._users.size == 0, info

    def _next_batch(self) -> np.ndarray:
        active = self.population.active_users
        if self.batch_size is None or self.batch_size >= active.size:
            return active.copy()
        return active[self.rng.choice(active.size, size=self.batch_size, replace=False)]
