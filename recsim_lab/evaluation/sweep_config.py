"""A sweep's configuration: an agent's hyperparameters x seeds x worlds, read from a small TOML or YAML file.

    agent = "thompson"                # a built-in name, path/to/file.py:Class or package.module:Class
    worlds = ["small"]                # presets or world directories
    seeds = [0, 1]                    # run seeds: each setting plays once per seed and world
    episodes = 2                      # episodes per trial, each from the restored checkpoint
    search = "grid"                   # "grid": every combination; "random": `samples` draws
    # samples = 8                     # random search: settings drawn
    # sample_seed = 0                 # random search: seed of the draws

    [parameters]                      # the hyperparameters searched (constructor keywords)
    prior_clicks = [0.5, 2.0]         # grid: the values; random: a list is a uniform choice among them,
    prior_misses = [1.0, 4.0]         # or a table {uniform = [lo, hi]}, {loguniform = [lo, hi]}, {randint = [lo, hi]}

    [options]                         # hyperparameters fixed for every trial (optional)

A ``.toml`` file is read with the standard library's ``tomllib`` (Python 3.11 and later; on 3.10 the
``tomli`` package if installed, else the error says to install it or to write YAML); ``.yaml`` / ``.yml``
with PyYAML (installed with Ray). Relative world directories and agent files are taken from the config
file's folder. Every problem is one line naming the file: an unknown key or agent (with suggestions), an
unknown hyperparameter (with suggestions), a value of the wrong type, a value the agent's constructor
refuses (each grid setting, each choice and both ends of a range are tried on a fresh agent).
"""

from __future__ import annotations

import importlib
import inspect
import itertools
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agents.registry import absolute_spec, load_agent_class, make_agent
from recsim_lab.names import unknown_name_error
from recsim_lab.validation import check_choice, check_scalar, check_sequence
from recsim_lab.worlds.presets import PRESETS, make_world
from recsim_lab.worlds.world import World

SEARCHES = ("grid", "random")
DISTRIBUTIONS = ("uniform", "loguniform", "randint")
"""Ranges of a random search: ``uniform`` and ``loguniform`` floats in [lo, hi), ``randint`` integers in
[lo, hi) (Ray Tune's ``tune.uniform``, ``tune.loguniform``, ``tune.randint``)."""
_KEYS = ("agent", "worlds", "seeds", "episodes", "search", "samples", "sample_seed", "parameters", "options")


@dataclass(frozen=True)
class Distribution:
    """A range a random search draws a hyperparameter from."""

    kind: str
    """One of :data:`DISTRIBUTIONS`."""
    low: float
    high: float

    def __post_init__(self) -> None:
        check_choice(self.kind, "kind", DISTRIBUTIONS)
        number = int if self.kind == "randint" else float
        check_scalar(self.low, f"{self.kind} low", number, min_val=0.0 if self.kind == "loguniform" else None,
                     include_boundaries="neither" if self.kind == "loguniform" else "both")
        check_scalar(self.high, f"{self.kind} high", number)
        if not self.high > self.low:
            raise ValueError(f"a {self.kind} range needs low < high, got [{self.low}, {self.high}]")

    def ends(self) -> tuple[Any, Any]:
        """The lowest and the highest value it can draw."""
        return self.low, (self.high - 1 if self.kind == "randint" else math.nextafter(self.high, -math.inf))


@dataclass(frozen=True)
class SweepConfig:
    """What to sweep; see the module docstring for the file that describes it."""

    agent: str
    worlds: tuple[str, ...]
    """Presets or world directories (absolute once read from a file)."""
    seeds: tuple[int, ...]
    parameters: dict[str, tuple[Any, ...] | Distribution]
    """Per hyperparameter: its values (a grid, or a random search's choice), or a range (random search)."""
    options: dict[str, Any] = field(default_factory=dict)
    """Hyperparameters fixed for every trial."""
    episodes: int = 2
    search: str = "grid"
    samples: int = 1
    """Settings drawn by a random search (a grid has one per combination)."""
    sample_seed: int = 0
    """Seed of a random search's draws."""
    source: Path | None = field(default=None, compare=False)
    """The file it was read from, which names it in error messages; not part of the configuration."""

    def __post_init__(self) -> None:
        check_scalar(self.agent, "agent", str)
        object.__setattr__(self, "worlds", check_sequence(self.worlds, "worlds", str, min_length=1))
        object.__setattr__(self, "seeds", check_sequence(self.seeds, "seeds", int, min_length=1, min_val=0))
        for name, values in (("worlds", self.worlds), ("seeds", self.seeds)):
            if len(set(values)) != len(values):
                raise ValueError(f"{name} must not repeat an entry, got {list(values)}")
        object.__setattr__(self, "episodes", check_scalar(self.episodes, "episodes", int, min_val=1))
        check_choice(self.search, "search", SEARCHES)
        object.__setattr__(self, "samples", check_scalar(self.samples, "samples", int, min_val=1))
        object.__setattr__(self, "sample_seed", check_scalar(self.sample_seed, "sample_seed", int, min_val=0))
        check_scalar(self.options, "options", dict)
        check_scalar(self.parameters, "parameters", dict)
        if not self.parameters:
            raise ValueError("parameters must name at least one hyperparameter to search")
        if self.search == "grid" and self.samples != 1:
            raise ValueError(f"samples is for search = 'random'; a grid has one setting per combination, got "
                             f"samples = {self.samples}")
        for name, values in self.parameters.items():
            if isinstance(values, Distribution):
                if self.search == "grid":
                    raise ValueError(f"parameters.{name}: a grid takes a list of values; a {values.kind} range needs "
                                     f"search = 'random'")
            elif not isinstance(values, tuple) or not values:
                raise ValueError(f"parameters.{name} must be a non-empty list of values, got {values!r}")
        both = sorted(set(self.parameters) & set(self.options))
        if both:
            raise ValueError(f"{both} are in both parameters and options; give each hyperparameter once")

    @property
    def trials(self) -> int:
        """Trials of the sweep: settings x seeds x worlds."""
        settings = math.prod(len(v) for v in self.parameters.values()) if self.search == "grid" else self.samples
        return settings * len(self.seeds) * len(self.worlds)

    def to_json(self) -> dict[str, Any]:
        """The configuration as JSON reads it back (recorded beside the results; a resumed sweep must match it)."""
        values = {name: value for name, value in asdict(self).items() if name != "source"}
        return json.loads(json.dumps({**values, "parameters": {
            name: asdict(v) if isinstance(v, Distribution) else v for name, v in self.parameters.items()}}))

    def build_worlds(self) -> dict[str, World]:
        """Build every world, then check the agent on the first (:meth:`check_agent`): what fails before any trial.

        Raises:
            ValueError: an unknown world, agent or hyperparameter, or a value the agent refuses; one line that
                starts with :attr:`source`.
        """
        try:
            worlds = {name: make_world(name) for name in self.worlds}
            self.check_agent(worlds[self.worlds[0]])
        except ValueError as error:
            raise ValueError(f"{self.source}: {error}" if self.source is not None else str(error)) from None
        return worlds

    def check_agent(self, world: World) -> None:
        """Construct the agent with every grid setting (random search: every choice and both ends of each range,
        one parameter at a time) on top of ``options``, so that a value it refuses is reported before any trial.

        Raises:
            ValueError: an unknown agent or hyperparameter (with suggestions), or a value the agent refuses.
        """
        cls = load_agent_class(self.agent)
        parameters = inspect.signature(cls).parameters
        if not any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
            accepted = [n for n, p in parameters.items() if n != "world" and p.kind is not p.VAR_POSITIONAL]
            for name in (*self.parameters, *self.options):
                if name not in accepted:
                    raise ValueError(f"agent {self.agent!r}: {unknown_name_error('hyperparameter', name, accepted)}")
        for setting in self._settings_to_check():
            try:
                make_agent(self.agent, world=world, **self.options, **setting)
            except (ValueError, TypeError) as error:
                shown = ", ".join(f"{name} = {value!r}" for name, value in setting.items())
                raise ValueError(f"agent {self.agent!r} refuses {shown}: {error}") from None

    def _settings_to_check(self) -> list[dict[str, Any]]:
        if self.search == "grid":
            names = list(self.parameters)
            return [dict(zip(names, values)) for values in itertools.product(*self.parameters.values())]
        return [{name: value} for name, values in self.parameters.items()
                for value in (values.ends() if isinstance(values, Distribution) else values)]


def read_sweep_config(path: str | Path) -> SweepConfig:
    """Read and check the sweep configuration in ``path`` (``.toml``, ``.yaml`` or ``.yml``).

    Raises:
        ValueError: one line naming the file and the problem.
        FileNotFoundError: no such file.
    """
    path = Path(path)
    raw = _read(path)
    try:
        return _config(raw, path)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None


def _read(path: Path) -> dict[str, Any]:
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".yaml", ".yml"):
        raise ValueError(f"{path}: a sweep configuration is a .toml, .yaml or .yml file")
    text = path.read_text(encoding="utf-8")
    if suffix == ".toml":
        try:
            toml = importlib.import_module("tomllib")  # Python 3.11+
        except ModuleNotFoundError:
            try:
                toml = importlib.import_module("tomli")  # its backport, for Python 3.10
            except ModuleNotFoundError:
                raise ValueError(f"{path}: reading TOML needs Python 3.11 or later, or pip install tomli; or write "
                                 f"the configuration as YAML") from None
        try:
            raw = toml.loads(text)
        except toml.TOMLDecodeError as error:
            raise ValueError(f"{path}: not valid TOML: {error}") from None
    else:
        yaml = importlib.import_module("yaml")  # PyYAML: installed with Ray, which every sweep needs
        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise ValueError(f"{path}: not valid YAML: {' '.join(str(error).split())}") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a table of settings (agent, worlds, seeds, parameters, ...)")
    return raw


def _config(raw: dict[str, Any], path: Path) -> SweepConfig:
    for key in raw:
        if key not in _KEYS:
            raise unknown_name_error("key", str(key), _KEYS)
    missing = [key for key in ("agent", "worlds", "seeds", "parameters") if key not in raw]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    check_scalar(raw["agent"], "agent", str)
    check_sequence(raw["worlds"], "worlds", str, min_length=1)
    check_scalar(raw["parameters"], "parameters", dict)
    parameters = {str(name): _values(name, values) for name, values in raw["parameters"].items()}
    folder = path.resolve().parent
    return SweepConfig(**{**raw, "agent": absolute_spec(raw["agent"], base=folder),
                          "worlds": tuple(_located_world(world, folder) for world in raw["worlds"]),
                          "parameters": parameters, "source": path})


def _values(name: str, values: Any) -> tuple[Any, ...] | Distribution:
    if isinstance(values, list):
        return tuple(values)
    if isinstance(values, dict) and len(values) == 1:
        kind, ends = next(iter(values.items()))
        if kind not in DISTRIBUTIONS:
            raise ValueError(f"parameters.{name}: {unknown_name_error('range', kind, DISTRIBUTIONS)}")
        if not isinstance(ends, list) or len(ends) != 2:
            raise ValueError(f"parameters.{name}: {kind} takes [low, high], got {ends!r}")
        try:
            return Distribution(kind, *ends)
        except ValueError as error:
            raise ValueError(f"parameters.{name}: {error}") from None
    raise ValueError(f"parameters.{name} must be a list of values or a range such as {{uniform = [0.1, 1.0]}}, got "
                     f"{values!r}")


def _located_world(world: str, folder: Path) -> str:
    """A world directory taken from the config's folder; a preset, or a name that is neither (for the error's
    suggestions), as it is."""
    return world if world in PRESETS or not (folder / world).is_dir() else str((folder / world).resolve())
