"""How a run says that the agent failed: where (method, episode, step) and in whose code.

- :class:`AgentRaised`: the agent raised inside one of its own methods (a bug in the agent); the original
  exception is the ``__cause__``, and :func:`agent_traceback` gives its traceback without the runner's frames.
- :class:`InvalidSlates`: the env rejected the agent's slates (wrong shape, ids out of range, repeats); a
  ``ValueError``, since the agent's output is input to the env.

Episodes and steps are 0-based, as in ``evaluate``'s failure records; ``None`` outside an episode (``fit``,
``save``) or outside a step (``load``).

Both travel between processes (an episode played by a worker, :mod:`~recsim_lab.run.parallel`) as their
message, where the failure happened and the agent's traceback as text: the agent's own exception may not
pickle, so it stays behind.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agents import checker

_CALLERS = (*(str(Path(__file__).resolve().parent.parent / name) for name in ("run", "cli")),
            str(Path(checker.__file__).resolve()))  # the frames of what called the agent, left out of its traceback


def _where(episode: int | None, step: int | None) -> str:
    if episode is None:
        return ""
    return f" at episode {episode}" + ("" if step is None else f", step {step}")


def call_agent(method: Callable[..., Any], *args: Any, episode: int | None = None, **kwargs: Any) -> Any:
    """``method(*args, **kwargs)``, an agent's exception raised as :class:`AgentRaised`."""
    try:
        return method(*args, **kwargs)
    except Exception as error:
        raise AgentRaised(method.__name__, episode, None, error) from error


class AgentRaised(Exception):
    """The agent's ``method`` raised (``__cause__``) at ``episode`` / ``step``."""

    remote_traceback: str | None = None
    """The agent's traceback (:func:`agent_traceback`) when this was raised in another process."""

    def __init__(self, method: str, episode: int | None, step: int | None, error: BaseException) -> None:
        super().__init__(f"the agent's {method}() raised {type(error).__name__}{_where(episode, step)}: {error}")
        self.method, self.episode, self.step = method, episode, step

    def __reduce__(self) -> tuple[Any, ...]:
        return _received, (type(self), str(self), {"method": self.method, "episode": self.episode, "step": self.step,
                                                   "remote_traceback": agent_traceback(self)})


class InvalidSlates(ValueError):
    """The env rejected the slates the agent recommended at ``episode`` / ``step``."""

    def __init__(self, episode: int, step: int, error: Exception) -> None:
        super().__init__(f"invalid slates from recommend(){_where(episode, step)}: {error}")
        self.episode, self.step = episode, step

    def __reduce__(self) -> tuple[Any, ...]:
        return _received, (type(self), str(self), {"episode": self.episode, "step": self.step})


def _received(cls: type[Exception], message: str, attributes: dict[str, Any]) -> Exception:
    """A failure as it arrives from another process: its message and attributes, no cause."""
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    vars(error).update(attributes)
    return error


def agent_traceback(error: AgentRaised) -> str:
    """The traceback of what the agent raised, from its own frames on (the runner's frames left out)."""
    if error.remote_traceback is not None:
        return error.remote_traceback
    cause = error.__cause__
    frames = traceback.extract_tb(cause.__traceback__)
    theirs = [f for f in frames if not str(Path(f.filename).resolve()).startswith(_CALLERS)]
    lines = ["Traceback (the agent's frames):\n", *traceback.format_list(theirs or frames),
             *traceback.format_exception_only(type(cause), cause)]
    return "".join(lines)
