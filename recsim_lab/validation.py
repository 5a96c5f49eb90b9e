"""Checks of user-given parameters (config fields, agent hyperparameters), with messages that name the
parameter, what it allows and what it got, e.g. ``learning_rate must be a float in (0, inf), got 'fast' (str)``.

In the spirit of scikit-learn's ``check_scalar``:

- a wrong type raises :class:`ParameterTypeError`, which is a ``TypeError`` and also a ``ValueError``
  (as scikit-learn's ``InvalidParameterError``), so that callers catching the ``ValueError`` that these
  checks raised before keep working; a value of the right type outside its bounds or choices raises
  ``ValueError``;
- ``bool`` is neither an integer nor a float here (``True`` is rarely meant as ``1``);
- NumPy integer and floating scalars count as ``int`` and ``float`` and come back as Python ones;
- a float must be finite, and an ``int`` is a float too.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

BOUNDARIES = ("both", "left", "right", "neither")
"""Values of ``include_boundaries``: which of ``min_val`` and ``max_val`` are allowed values themselves."""

_ARTICLES = {int: "an integer", float: "a float", str: "a string", bool: "a bool", dict: "a dict"}


class ParameterTypeError(TypeError, ValueError):
    """A parameter has the wrong type (a ``TypeError``, and a ``ValueError`` for older callers)."""


def check_scalar(value: Any, name: str, target_type: type | tuple[type, ...], *, min_val: float | None = None,
                 max_val: float | None = None, include_boundaries: str = "both", allow_none: bool = False) -> Any:
    """Check that ``value`` is of ``target_type`` and within the bounds; return it.

    Args:
        value: the value to check.
        name: the parameter's name, as the message shows it.
        target_type: a type or a tuple of types; ``int`` admits NumPy integers, ``float`` admits ``int`` and
            NumPy integers and floats (finite ones only); neither admits ``bool``.
        min_val, max_val: bounds, ``None`` for none on that side (numeric types only).
        include_boundaries: one of :data:`BOUNDARIES`: ``"both"`` is ``[min, max]``, ``"left"`` is
            ``[min, max)``, ``"right"`` is ``(min, max]``, ``"neither"`` is ``(min, max)``.
        allow_none: ``None`` is allowed too (and returned as is).

    Returns:
        ``value``; a NumPy scalar converted to the Python ``int`` or ``float``.

    Raises:
        ParameterTypeError: ``value`` is not of ``target_type``, or is a float that is not finite.
        ValueError: ``value`` is outside the bounds.
    """
    if include_boundaries not in BOUNDARIES:
        raise ValueError(f"include_boundaries must be one of {BOUNDARIES}, got {include_boundaries!r}")
    types = target_type if isinstance(target_type, tuple) else (target_type,)
    closed_left = include_boundaries in ("both", "left") and min_val is not None
    closed_right = include_boundaries in ("both", "right") and max_val is not None
    expected = " or ".join(_ARTICLES.get(t, f"a {t.__name__}") for t in types)
    if min_val is not None or max_val is not None:
        expected += (f" in {'[' if closed_left else '('}{_bound(min_val, '-inf')}, "
                     f"{_bound(max_val, 'inf')}{']' if closed_right else ')'}")
    if allow_none:
        expected += " or None"
        if value is None:
            return None
    converted = _converted(value, types)
    if converted is None:
        raise ParameterTypeError(f"{name} must be {expected}, got {_shown(value)}")
    if min_val is not None and (converted < min_val or (converted == min_val and not closed_left)) or \
            max_val is not None and (converted > max_val or (converted == max_val and not closed_right)):
        raise ValueError(f"{name} must be {expected}, got {_shown(value)}")
    return converted


def check_fields(obj: Any, names: Iterable[str], target_type: type | tuple[type, ...], *, prefix: str = "",
                 **bounds: Any) -> None:
    """:func:`check_scalar` each attribute ``names`` of ``obj`` (named ``prefix + name`` in messages) with
    ``target_type`` and ``bounds``, and store the returned value back (NumPy scalars become Python numbers),
    also on a frozen dataclass; for ``__post_init__``."""
    for name in names:
        object.__setattr__(obj, name, check_scalar(getattr(obj, name), prefix + name, target_type, **bounds))


def check_choice(value: Any, name: str, choices: Iterable[Any]) -> Any:
    """Check that ``value`` is one of ``choices`` (compared with ``==``, e.g. strings, or ``None``); return it.

    Raises:
        ValueError: naming the allowed values.
    """
    choices = tuple(choices)
    if not any(value is choice or (isinstance(value, type(choice)) and value == choice) for choice in choices):
        allowed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {allowed}, got {_shown(value)}")
    return value


def check_sequence(value: Any, name: str, item_type: type | tuple[type, ...], *, min_length: int = 0,
                   **bounds: Any) -> tuple[Any, ...]:
    """Check that ``value`` is a list or tuple of at least ``min_length`` items, each passing
    :func:`check_scalar` as ``name[i]`` with ``item_type`` and ``bounds``; return them as a tuple.

    A string is refused (where names are wanted, ``"funk_svd"`` is not the list ``["funk_svd"]``), and so is
    an empty string among ``str`` items.

    Raises:
        ParameterTypeError: not a list or tuple, or an item of the wrong type.
        ValueError: too short, or an item out of bounds.
    """
    if not isinstance(value, list | tuple):
        raise ParameterTypeError(f"{name} must be a list or tuple, got {_shown(value)}")
    if len(value) < min_length:
        raise ValueError(f"{name} must have at least {min_length} item(s), got {_shown(value)}")
    items = tuple(check_scalar(item, f"{name}[{i}]", item_type, **bounds) for i, item in enumerate(value))
    for i, item in enumerate(items):
        if isinstance(item, str) and not item:
            raise ValueError(f"{name}[{i}] must be a non-empty string, got ''")
    return items


def _converted(value: Any, types: tuple[type, ...]) -> Any:
    """``value`` as the first of ``types`` that admits it (NumPy scalars as Python numbers), else ``None``."""
    for t in types:
        if t in (int, float) and isinstance(value, bool):
            continue
        if t is int and isinstance(value, numbers.Integral):
            return int(value)
        if t is float and isinstance(value, numbers.Real):
            if type(value) is int:  # any size, kept as it is
                return value
            number = float(value)
            return number if math.isfinite(number) else None
        if t not in (int, float) and isinstance(value, t):
            return value
    return None


def _bound(bound: float | None, unbounded: str) -> str:
    return unbounded if bound is None else f"{bound:g}" if isinstance(bound, float) else str(bound)


def _shown(value: Any) -> str:
    """``'fast' (str)``: the value's repr (cut to 80 characters) and its type."""
    text = repr(value)
    return f"{text if len(text) <= 80 else text[:77] + '...'} ({type(value).__name__})"
