"""Agents by name: a built-in short name, ``path/to/file.py:Class``, ``package.module:Class``, or a name that
another installed package registers under the ``recsim_lab.agents`` entry-point group.

Names map to ``"module:Class"`` strings, as Gymnasium registers its environments, so listing agents imports
none of them. A package adds its own agents in its ``pyproject.toml``::

    [project.entry-points."recsim_lab.agents"]
    my_bandit = "my_package.bandit:MyBandit"

after which ``recsim-lab run --agent my_bandit`` finds it (a built-in name wins over a plugin's).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from recsim_lab.names import unknown_name_error
from recsim_lab.worlds.world import World

BUILTIN_AGENTS: dict[str, tuple[str, str]] = {
    "random": ("agents.random:RandomAgent", "uniformly random unseen items (lower reference)"),
    "popularity": ("agents.popularity:PopularityAgent", "most clicked unseen items, counts updated per click"),
    "oracle": ("agents.oracle:OracleAgent", "top true scores from the hidden world (upper reference)"),
    "funk_svd": ("agents.funk_svd:FunkSVDAgent", "matrix factorisation (TensorFlow), learns per response"),
    "content": ("agents.content:ContentAgent", "items whose text embedding is closest to the user's clicks"),
    "hybrid": ("agents.hybrid:HybridAgent", "funk_svd and content blended (or by slate slots)"),
    "epsilon_greedy": ("agents.epsilon_greedy:EpsilonGreedyAgent", "per-item epsilon-greedy on clicks per show"),
    "ucb1": ("agents.ucb1:UCB1Agent", "per-item UCB1 on clicks per show"),
    "thompson": ("agents.thompson:ThompsonAgent", "per-item Beta-Bernoulli Thompson sampling"),
    "lin_ucb": ("agents.lin_ucb:LinUCBAgent", "LinUCB per user over projected text embeddings"),
    "lin_ts": ("agents.lin_ts:LinTSAgent", "linear Thompson sampling per user over projected text embeddings"),
    "two_tower": ("agents.two_tower:TwoTowerAgent", "two-tower retrieval (TensorFlow): click-history and item towers"),
    "triplet": ("agents.triplet:TripletAgent", "triplet margin model: clicked above passed-over items (TensorFlow)"),
}

DEFAULT_AGENT = "hybrid"
"""The strongest built-in agent that needs no hidden information (measured: benchmarks/agent_quality.py)."""

ENTRY_POINT_GROUP = "recsim_lab.agents"

_HINT = " An agent can also be path/to/file.py:Class or package.module:Class."


def registered_agents() -> dict[str, tuple[str, str]]:
    """Every agent known by a short name: ``{name: ("module:Class", summary)}``, the built-ins first, then
    those of the ``recsim_lab.agents`` entry-point group (summary: the distribution that provides it)."""
    known = dict(BUILTIN_AGENTS)
    for entry in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if entry.name not in known:
            provider = entry.dist.name if entry.dist is not None else "an installed package"
            known[entry.name] = (entry.value, f"from {provider}")
    return known


def load_agent_class(spec: str) -> type:
    """The agent class named by ``spec``.

    Raises:
        ValueError: unknown short name (with suggestions), missing file or module, or missing class.
    """
    known = registered_agents()
    if spec in known:
        spec = known[spec][0]
    elif ":" not in spec:
        raise unknown_name_error("agent", spec, known, hint=_HINT)
    source, _, class_name = spec.rpartition(":")
    module = _import_file(Path(source)) if source.endswith(".py") else _import_module(source)
    if not hasattr(module, class_name):
        classes = [n for n, v in vars(module).items() if inspect.isclass(v) and v.__module__ == module.__name__]
        raise unknown_name_error(f"class in {source}", class_name, classes)
    return getattr(module, class_name)


def make_agent(spec: str, world: World | None = None, **options: Any) -> Any:
    """Construct the agent named by ``spec`` with hyperparameters ``options``.

    A class whose constructor takes a ``world`` keyword gets the hidden ``world`` (privileged agents).

    Raises:
        ValueError: unknown agent, an option the constructor does not accept (listing those it does), or one
            it rejects (a ``TypeError`` of the constructor becomes a ``ValueError`` with its message).
    """
    cls = load_agent_class(spec)
    parameters = inspect.signature(cls).parameters
    accepted = [n for n, p in parameters.items() if n != "world" and p.kind is not p.VAR_POSITIONAL]
    if not any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        unknown = sorted(set(options) - set(accepted))
        if unknown:
            raise ValueError(f"agent {spec!r} has no option(s) {unknown}; its options are "
                             f"{accepted or 'none'}")
    if "world" in parameters:
        if world is None:
            raise ValueError(f"agent {spec!r} is privileged (it reads the hidden world) and needs world=")
        options["world"] = world
    try:
        return cls(**options)
    except TypeError as error:  # a hyperparameter of the wrong type: bad input, whoever builds the agent
        raise ValueError(str(error)) from error


def absolute_spec(spec: str, base: Path | None = None) -> str:
    """``spec`` with the path of a ``path/to/file.py:Class`` made absolute (a relative one taken from ``base``,
    default the working directory), for a process with another working directory; other specs as they are."""
    source, _, name = spec.rpartition(":")
    return f"{(Path(base or '.') / source).resolve()}:{name}" if source.endswith(".py") else spec


def _import_module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name and name.startswith(error.name):
            raise ValueError(f"cannot import agent module {name!r}: {error}") from None
        raise


def _import_file(path: Path) -> Any:
    """Import an agent file as ``python path/to/file.py`` would run it: its folder goes first on
    ``sys.path``, so the file can import the modules beside it."""
    if not path.is_file():
        raise ValueError(f"agent file {str(path)!r} not found")
    folder = str(path.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    name = f"recsim_lab_user_agent_{abs(hash(str(path.resolve())))}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module
