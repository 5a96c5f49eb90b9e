"""How a run says that the agent failed: where (method, episode, step) and in whose code.

- :class:`AgentRaised`: the agent raised inside one of its own methods (a bug in the agent); the original
  exception is the ``__cause__``, and :func:`agent_traceback` gives its traceback without the runner's frames.
- :class:`InvalidSlates`: the env rejected the agent's slates (wrong shape, ids out of range, repeats); a
  ``ValueError``, since the agent's output is input to the env.

Episodes and steps are 0-based, as in ``evaluate``'s failure records; ``None`` outside an episode (``fit``,
``save``) or outside a step (``load``).
"""

from __future__ import annotations

import traceback
from pathlib import Path

from agents import checker

_CALLERS = (*(str(Path(__file__).resolve().parent.parent / name) for name in ("run", "cli")),
            str(Path(checker.__file__).resolve()))  # the frames of what called the agent, left out of its traceback


def _where(episode: int | None, step: int | None) -> str:
    if episode is None:
        return ""
    return f" at episode {episode}" + ("" if step is None else f", step {step}")


class AgentRaised(Exception):
    """The agent's ``method`` raised (``__cause__``) at ``episode`` / ``step``."""

    def __init__(self, method: str, episode: int | None, step: int | None, error: BaseException) -> None:
        super().__init__(f"the agent's {method}() raised {type(error).__name__}{_where(episode, step)}: {error}")
        self.method, self.episode, self.step = method, episode, step


class InvalidSlates(ValueError):
    """The env rejected the slates the agent recommended at ``episode`` / ``step``."""

    def __init__(self, episode: int, step: int, error: Exception) -> None:
        super().__init__(f"invalid slates from recommend(){_where(episode, step)}: {error}")
        self.episode, self.step = episode, step


def agent_traceback(error: AgentRaised) -> str:
    """The traceback of what the agent raised, from its own frames on (the runner's frames left out)."""
    cause = error.__cause__
    frames = traceback.extract_tb(cause.__traceback__)
    theirs = [f for f in frames if not str(Path(f.filename).resolve()).startswith(_CALLERS)]
    lines = ["Traceback (the agent's frames):\n", *traceback.format_list(theirs or frames),
             *traceback.format_exception_only(type(cause), cause)]
    return "".join(lines)
