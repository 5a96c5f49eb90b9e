"""Loading agents by name: a built-in short name, ``path/to/file.py:Class`` or ``package.module:Class``."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from pathlib import Path
from typing import Any

from agents import BUILTIN_AGENTS
from recsim_lab.names import unknown_name_error
from recsim_lab.world import World

_HINT = " An agent can also be path/to/file.py:Class or package.module:Class."


def load_agent_class(spec: str) -> type:
    """The agent class named by ``spec``.

    Raises:
        ValueError: unknown short name (with suggestions), missing file or module, or missing class.
    """
    if spec in BUILTIN_AGENTS:
        spec = BUILTIN_AGENTS[spec][0]
    elif ":" not in spec:
        raise unknown_name_error("agent", spec, BUILTIN_AGENTS, hint=_HINT)
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
        ValueError: unknown agent, or an option the constructor does not accept (listing those it does).
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
    return cls(**options)


def _import_module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name and name.startswith(error.name):
            raise ValueError(f"cannot import agent module {name!r}: {error}") from None
        raise


def _import_file(path: Path) -> Any:
    if not path.is_file():
        raise ValueError(f"agent file {str(path)!r} not found")
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
