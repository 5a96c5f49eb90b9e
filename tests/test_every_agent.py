"""Every registered agent (``agents.registry.registered_agents()``: the built-ins and any plugin) works
everywhere: it passes ``check_agent`` on a tiny world, plays a Gymnasium-loop episode through
``gymnasium.make`` (recommend for the current user, step, update), and, when a dependency is missing,
says which extra to install.

Agents that take an ``encoder`` get a bag-of-words stand-in (no sentence model), through ``child_options``
for a composite agent such as ``hybrid``. An agent that is added to the registry is covered without editing
this file; one whose test takes more than a few seconds goes into :data:`SLOW`.
"""

from __future__ import annotations

import inspect
import re
import sys
from typing import Any

import gymnasium
import numpy as np
import pytest
from conftest import HashingEncoder

import envs  # noqa: F401  (registers the recsim_lab/* Gymnasium ids)
from agents.checker import check_agent
from agents.registry import BUILTIN_AGENTS, load_agent_class, make_agent, registered_agents
from recsim_lab.extras import EXTRAS, MissingExtraError

SLOW = {"funk_svd", "hybrid"}
"""Agents whose tests here take more than a few seconds (TensorFlow's import and warm start): marked slow."""

EXPECTED_EXTRA = {"funk_svd": "mf", "content": "text", "hybrid": "mf", "lin_ucb": "text", "lin_ts": "text",
                  "two_tower": "text", "triplet": "mf"}
"""The extra a built-in agent asks for when every optional dependency is missing (hybrid: its first child's).
Agents not listed must work on the core install, unless they are not built in (then any extra is accepted,
as long as the message names it)."""

AGENTS = [pytest.param(name, marks=pytest.mark.slow) if name in SLOW else name for name in registered_agents()]



pytestmark = pytest.mark.usefixtures("private_embedding_cache")


def light_options(name: str) -> dict[str, Any]:
    """Constructor options that spare agent ``name`` the sentence model: a stand-in ``encoder`` where it takes
    one (and no progress bar), or the same for each child of a composite that takes ``child_options``."""
    parameters = inspect.signature(load_agent_class(name)).parameters
    if "child_options" in parameters and "children" in parameters:
        children = {child: light_options(child) for child in parameters["children"].default}
        return {"child_options": {child: options for child, options in children.items() if options}}
    options: dict[str, Any] = {}
    if "encoder" in parameters:
        options["encoder"] = HashingEncoder(32)
        if "show_progress" in parameters:
            options["show_progress"] = False
    return options


def agent_for(name: str, world) -> Any:
    return make_agent(name, world=world, **light_options(name))


@pytest.mark.parametrize("name", AGENTS)
def test_every_agent_passes_check_agent(name, tiny_world):
    check_agent(agent_for(name, tiny_world), tiny_world.dataset)


@pytest.mark.parametrize("name", AGENTS)
def test_every_agent_plays_a_gymnasium_episode(name, tiny_world):
    env = gymnasium.make("recsim_lab/Small-v0", world=tiny_world)  # the registered id, on the tiny world
    agent = agent_for(name, tiny_world)
    agent.fit(tiny_world.dataset, seed=0)
    k = env.action_space.shape[0]
    user, info = env.reset(seed=0)
    terminated, steps, clicks, served = False, 0, 0, set()
    while not terminated:
        slate = np.asarray(agent.recommend(np.array([user], dtype=np.int64), k))[0]
        assert env.action_space.contains(slate), (steps, slate)
        user, reward, terminated, truncated, info = env.step(slate)
        assert not truncated
        assert reward == float(info["clicked_item"] >= 0)
        assert info["clicked_item"] == -1 or info["clicked_item"] in slate
        agent.update(np.array([info["user"]], dtype=np.int64), slate[None, :],
                     np.array([info["clicked_item"]], dtype=np.int64))
        steps, clicks, served = steps + 1, clicks + int(reward), served | {info["user"]}
        assert steps < 100_000
    assert served == set(range(tiny_world.dataset.n_users))  # the episode ends when every user has left
    assert 0 <= clicks < steps


HEAVY = sorted(EXTRAS)
MESSAGE = re.compile(r"^(.+?) needs (.+): pip install 'recsim-lab\[(\w+)\]'$")


@pytest.mark.parametrize("name", registered_agents())
def test_an_agent_whose_dependency_is_missing_names_the_extra(name, tiny_world, monkeypatch):
    """With every optional dependency uninstalled, an agent either works (construct and fit) or fails with
    one line naming itself (or the feature it needs) and the ``pip install`` of the extra; never a bare
    ImportError."""
    for module in HEAVY:  # uninstalled for this test: import fails, find_spec finds nothing
        monkeypatch.setitem(sys.modules, module, None)
    try:
        agent = make_agent(name, world=tiny_world)
        agent.fit(tiny_world.dataset, seed=0)
    except MissingExtraError as error:
        match = MESSAGE.match(str(error))
        assert match, str(error)
        if name in EXPECTED_EXTRA:
            assert match.group(3) == EXPECTED_EXTRA[name], str(error)
        elif name in BUILTIN_AGENTS:
            pytest.fail(f"built-in {name} should work on the core install: {error}")
    else:
        assert name not in EXPECTED_EXTRA, f"{name} worked without its extra [{EXPECTED_EXTRA.get(name)}]"
        assert agent.recommend(np.array([0, 1], dtype=np.int64), 5).shape == (2, 5)
