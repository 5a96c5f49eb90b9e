"""``SlateVectorEnv``: the batched env as a ``gymnasium.vector.VectorEnv``, one sub-environment per user.

Sub-env ``i`` is the session of user ``users[i]``: its observation is that user's id, its action a slate, its
reward 1.0 per click, and its episode ends (``terminated``) when the user leaves, by patience or at the horizon;
never truncated. Every step serves every sub-env at once, with the rules of
:class:`~recsim_lab.sim.population.Population`, so a step is one batched step of all ``num_envs`` users.

Why a class of its own rather than :class:`~envs.batch_env.BatchSlateEnv` made into a vector env: a vector env
has a fixed number of sub-envs that each restart when their episode ends, while ``BatchSlateEnv``'s episode is
the session of the whole population, whose batch shrinks as users leave until none is left, which is what the
runner plays and scores. Both drive the same ``Population``, so a user's dynamics are the same in both: from
the same seed, with every user of the split and ``BatchSlateEnv``'s default ``batch_size=None``, the two
produce the same steps up to and including the first step in which a user leaves (``tests/test_vector_env.py``
checks this).

Autoreset follows Gymnasium's default, ``AutoresetMode.NEXT_STEP`` (in ``metadata["autoreset_mode"]``): the
step after a sub-env terminates, its action is ignored (it must still be a valid slate) and its session restarts
(history, patience and session length back to the start of an episode), with reward 0 and ``terminated``
False. One generator, :attr:`np_random`, draws for every sub-env: ``reset(seed=s)`` reseeds it,
``reset()`` continues it; a list of per-sub-env seeds is refused. ``reset(options={"reset_mask": mask})``
restarts only the sessions where ``mask`` is True.

Info (Gymnasium's vector form: an array per key, and a ``_key`` mask of the sub-envs that hold it, here those
served this step): ``clicked_item`` (``(num_envs,)`` int64, -1 for none) and ``session_length`` (after the step).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from envs.slate_space import SlateSpace
from recsim_lab.sim.population import Population
from recsim_lab.validation import check_scalar
from recsim_lab.worlds.presets import make_world
from recsim_lab.worlds.world import World


class SlateVectorEnv(VectorEnv):
    """One sub-env per user of ``split``, all served at every step (see the module docstring).

    Args:
        world: a :class:`World`, or the name of a preset or world directory.
        split: ``"test"`` (all users) or ``"train"`` (the first ``n_train_users``).
        num_envs: how many sub-envs: the first ``num_envs`` users of the split (all of them by default).

    Spaces: ``single_observation_space`` is ``Discrete(n_users)`` and ``single_action_space``
    ``SlateSpace(n_items, slate_size)``, as in :class:`~envs.slate_env.SlateEnv`; ``observation_space`` and
    ``action_space`` are their ``batch_space`` over ``num_envs``: ``(num_envs,)`` user ids and
    ``(num_envs, slate_size)`` slates. A rejected batch of slates raises ``ValueError`` and changes nothing.
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}

    def __init__(self, world: World | str = "default", split: str = "test", num_envs: int | None = None) -> None:
        if not isinstance(world, World):
            world = make_world(world)
        candidates = world.dataset.users(split)
        num_envs = check_scalar(num_envs, "num_envs", int, min_val=1, max_val=candidates.size, allow_none=True)
        self.world = world
        self.users = candidates[:num_envs].astype(np.int64)
        self.num_envs = self.users.size
        self.population = Population(world, self.users)
        self.single_observation_space = spaces.Discrete(world.dataset.n_users)
        self.single_action_space = SlateSpace(world.dataset.n_items, world.rules.slate_size)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._restart = np.zeros(self.num_envs, dtype=bool)  # sub-envs that terminated at the last step
        self._ready = False

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        """Restart every session (or those of ``options["reset_mask"]``); returns the ``(num_envs,)`` user ids."""
        seed = check_scalar(seed, "seed", int, allow_none=True)  # one generator draws for every sub-env
        options = dict(options or {})
        mask = options.pop("reset_mask", None)
        if options:
            raise ValueError(f"reset takes only the option 'reset_mask', got {sorted(options)}")
        if mask is not None:
            mask = np.asarray(mask)
            if mask.shape != (self.num_envs,) or mask.dtype != np.bool_:
                raise ValueError(f"options['reset_mask'] must be a bool array of shape ({self.num_envs},), "
                                 f"got {mask.dtype} {mask.shape}")
        super().reset(seed=seed)
        if mask is None:
            self.population.reset()
            self._restart[:] = False
        else:
            self.population.reset_users(self.users[mask])
            self._restart[mask] = False
        self._ready = True
        return self.users.copy(), {}

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Serve ``actions[i]`` to sub-env ``i`` (``(num_envs, slate_size)`` item ids); restart the sub-envs that
        terminated at the previous step instead.

        Returns:
            ``(num_envs,)`` user ids, float64 rewards, bool ``terminated``, bool ``truncated`` (all False), info.
        """
        if not self._ready:
            raise RuntimeError("call reset() before step()")
        population = self.population
        slates = population.check(actions, self.num_envs)  # raises before any state changes or random draw
        restart = self._restart
        clicked = np.full(self.num_envs, -1, dtype=np.int64)
        terminated = np.zeros(self.num_envs, dtype=bool)
        if restart.any():
            population.reset_users(self.users[restart])
            served = np.flatnonzero(~restart)
            clicked[served], terminated[served] = population.respond(
                self.users[served], slates[served], self.np_random.random(served.size))
        else:
            clicked, terminated = population.respond(self.users, slates, self.np_random.random(self.num_envs))
        self._restart = terminated.copy()
        info = {"clicked_item": clicked, "_clicked_item": ~restart,
                "session_length": population.session_length[self.users], "_session_length": ~restart}
        return (self.users.copy(), (clicked >= 0).astype(np.float64), terminated,
                np.zeros(self.num_envs, dtype=bool), info)
