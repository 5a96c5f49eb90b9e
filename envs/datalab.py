"""The DataLab Cup object API over :class:`~envs.slate_env.SlateEnv`.

The DataLab Cup shipped ``evaluation/environment.py`` with two classes that notebooks use like this::

    env = TestingEnvironment()                  # an episode is ready at once
    for _ in range(5):
        while env.has_next_state():
            user = env.get_state()              # int user id
            clicked_id, in_environment = env.get_response(slate)   # item id or -1; the user stays?
        scores.append(env.get_score())          # one float per user id: session_length / horizon
        env.reset()

Here they are a thin layer over :class:`~envs.slate_env.SlateEnv` (the rules live there and in
:class:`~recsim_lab.sim.population.Population`, nowhere else): :class:`TrainingEnvironment` serves the first
``n_train_users`` users, :class:`TestingEnvironment` all of them.

Configuration, for code that cannot pass arguments (the constructors take none in the DataLab Cup):

- ``RECSIM_LAB_WORLD``: a preset name (see ``recsim-lab envs``) or a world directory; default ``"default"``
  (or the class's :attr:`~DataLabEnvironment.default_world`, which an exported shim sets);
- ``RECSIM_LAB_SEED``: the root seed, a non-negative integer; default 0.

Keyword arguments ``world=`` and ``seed=`` take precedence over both variables.

Seeding: episode ``e`` (0 for the episode the constructor starts, +1 per :meth:`~DataLabEnvironment.reset`)
resets the env with ``SeedSequence(seed, spawn_key=(1, e))``, the same seed that ``recsim-lab run --seed
SEED`` gives its episode ``e`` (:func:`recsim_lab.seeding.derive_seeds`). Episodes differ from one another,
and a fresh environment with the same world and seed replays the same episodes for the same slates.
"""

from __future__ import annotations

import os
import reprlib
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from envs.slate_env import SlateEnv
from recsim_lab.errors import DataFormatError
from recsim_lab.seeding import episode_seed
from recsim_lab.validation import check_scalar
from recsim_lab.worlds.presets import PRESETS, make_world
from recsim_lab.worlds.world import World

WORLD_VARIABLE = "RECSIM_LAB_WORLD"
SEED_VARIABLE = "RECSIM_LAB_SEED"

__all__ = ["DataLabEnvironment", "TestingEnvironment", "TrainingEnvironment"]


class DataLabEnvironment:
    """One population's sessions, served one user at a time through the DataLab Cup API.

    Args:
        world: a :class:`~recsim_lab.worlds.world.World`, a preset name or a world directory; default: the
            ``RECSIM_LAB_WORLD`` environment variable, else :attr:`default_world`.
        seed: root seed (non-negative integer); default: ``RECSIM_LAB_SEED``, else 0.

    Raises:
        ValueError: an unknown world, a malformed world directory, or a bad seed.

    Calls that are refused (:meth:`get_state` or :meth:`get_response` with no user left, a bad slate) raise
    and change nothing.
    """

    split: ClassVar[str] = "test"
    """The population: ``"train"`` (the first ``n_train_users``) or ``"test"`` (all users)."""
    default_world: ClassVar[str] = "default"
    """The world used when neither ``world=`` nor ``RECSIM_LAB_WORLD`` names one."""

    def __init__(self, *, world: World | str | Path | None = None, seed: int | None = None) -> None:
        self._seed = _resolve_seed(seed)
        self.env = SlateEnv(_resolve_world(world, self.default_world), split=self.split)
        """The underlying Gymnasium environment (read it; stepping it directly bypasses this object)."""
        self.episode = -1
        """Episodes started so far, minus one: 0 during the episode the constructor starts."""
        self._user = -1
        self._done = True
        self.reset()

    @property
    def seed(self) -> int:
        """The root seed the episodes' seeds derive from."""
        return self._seed

    @property
    def world(self) -> World:
        return self.env.world

    @property
    def n_users(self) -> int:
        """Size of the population (user ids ``0..n_users-1``)."""
        return int(self.env.population.members.size)

    def reset(self) -> None:
        """Start the next episode: every user of the population is back, with fresh patience and history."""
        episode = self.episode + 1
        user, _ = self.env.reset(seed=episode_seed(self._seed, episode))
        self.episode = episode
        self._user = int(user)
        self._done = False

    def has_next_state(self) -> bool:
        """Whether a user is still in the session (``False`` once the episode is over)."""
        return not self._done

    def get_state(self) -> int:
        """The id of the user to serve next (the same id until :meth:`get_response` answers).

        Raises:
            RuntimeError: no user is left; call :meth:`reset` to start the next episode.
        """
        self._require_user("get_state")
        return self._user

    def get_response(self, slate: Any) -> tuple[int, bool]:
        """Show ``slate`` to the current user.

        Args:
            slate: ``slate_size`` distinct integer item ids, as anything ``np.asarray`` takes (list, tuple,
                NumPy array, TensorFlow or torch tensor).

        Returns:
            The clicked item id (``-1`` for no click), and whether the user stays in the session.

        Raises:
            RuntimeError: no user is left; call :meth:`reset`.
            ValueError: the slate has the wrong length or shape, non-integer ids, an id out of range, or a
                repeated item. Nothing changes.
        """
        self._require_user("get_response")
        try:
            items = np.asarray(slate)
        except (TypeError, ValueError, OverflowError) as error:
            raise ValueError(f"get_response: a slate must be {self.env.world.rules.slate_size} integer item "
                             f"ids, got {reprlib.repr(slate)} ({error})") from None
        try:
            user, _, terminated, _, info = self.env.step(items)  # validates before touching any state
        except ValueError as error:
            raise ValueError(f"get_response: {error} (slate given: {reprlib.repr(slate)})") from None
        self._user = int(user)
        self._done = bool(terminated)
        return int(info["clicked_item"]), not info["left"]

    def get_score(self) -> list[float]:
        """``session_length / horizon`` of every user of the population, indexed by user id.

        Valid at any time: mid-episode it scores the sessions so far.
        """
        population = self.env.population
        return (population.session_length[population.members] / self.env.world.rules.horizon).tolist()

    def _require_user(self, method: str) -> None:
        if self._done:
            raise RuntimeError(f"{method}: no user is left in episode {self.episode} "
                               f"(has_next_state() is False); call reset() to start the next episode")

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(world={self.world.name!r}, seed={self._seed}, episode={self.episode}, "
                f"n_active={self.env.population.n_active}/{self.n_users})")


class TrainingEnvironment(DataLabEnvironment):
    """The training population: the first ``n_train_users`` users (DataLab Cup: 1,000 of 2,000)."""

    split = "train"


class TestingEnvironment(DataLabEnvironment):
    """The testing population: every user (DataLab Cup: 2,000)."""

    __test__ = False  # not a pytest test class, despite the name
    split = "test"


def _resolve_world(world: World | str | Path | None, default: str) -> World:
    if isinstance(world, World):
        return world
    if world is not None:
        return _make_world(str(world))
    spec = os.environ.get(WORLD_VARIABLE, "")
    if not spec:
        return _make_world(default)
    try:
        return _make_world(spec)
    except DataFormatError:
        raise
    except ValueError as error:
        raise ValueError(f"{error} (from the {WORLD_VARIABLE} environment variable)") from None


def _make_world(spec: str) -> World:

    if spec in PRESETS:
        return _preset_world(spec)
    return make_world(spec)  # a world directory, read afresh each time (it may have changed on disk)


@lru_cache(maxsize=4)
def _preset_world(name: str) -> World:
    """Presets are deterministic and the environments never modify a world: build each one once, so that a
    notebook's TrainingEnvironment and TestingEnvironment share it."""

    return make_world(name)


def _resolve_seed(seed: int | None) -> int:
    source = "seed"
    if seed is None:
        text = os.environ.get(SEED_VARIABLE, "").strip()
        if not text:
            return 0
        source = f"the {SEED_VARIABLE} environment variable"
        try:
            seed = int(text)
        except ValueError:
            raise ValueError(f"{source} must be a non-negative integer, got {text!r}") from None
    return check_scalar(seed, source, int, min_val=0)
