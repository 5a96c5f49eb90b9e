"""Original ids <-> contiguous ints, and ``ids.json`` beside a world.

Worlds number users and items ``0..n-1``; real logs use their own ids (MovieLens ints, MIND ``U123`` /
``N456``, any text in a CSV). An importer builds one :class:`IdMap` for users and one for items, and the
import writes them into the world directory as ``ids.json``::

    {"users": ["1", "2", ...], "items": ["242", "302", ...]}

entry ``j`` of ``users`` is the original id of user ``j`` (ids are kept as strings: they are labels).
``recsim-lab run --original-ids`` uses it to write ``scores.csv`` with the original user ids.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from recsim_lab.atomic import atomic_write_text
from recsim_lab.errors import DataFormatError

IDS_FILE = "ids.json"


class IdMap:
    """A fixed, ordered set of original ids; the position of an id is its contiguous int.

    Args:
        originals: the original ids, in contiguous order (converted to ``str``); must be unique.

    Raises:
        ValueError: a repeated id.
    """

    def __init__(self, originals: Iterable[object]) -> None:
        self.originals: list[str] = [str(value) for value in originals]
        self._index = {value: position for position, value in enumerate(self.originals)}
        if len(self._index) != len(self.originals):
            seen: set[str] = set()
            repeated = next(v for v in self.originals if v in seen or seen.add(v))
            raise ValueError(f"original ids must be unique; {repeated!r} occurs more than once")

    @classmethod
    def sorted_from(cls, values: Iterable[object]) -> IdMap:
        """The distinct ``values`` in a stable, readable order: numerically when every id is an integer
        (``"2"`` before ``"10"``), else as text."""
        distinct = {str(v) for v in values}
        if all(_is_int(v) for v in distinct):
            return cls(sorted(distinct, key=int))
        return cls(sorted(distinct))

    def __len__(self) -> int:
        return len(self.originals)

    def __contains__(self, original: object) -> bool:
        return str(original) in self._index

    def index(self, original: object) -> int:
        """The contiguous int of one original id. Raises ``KeyError`` for an unknown id."""
        return self._index[str(original)]

    def get(self, original: object, default: int = -1) -> int:
        """The contiguous int of ``original``, or ``default`` when unknown."""
        return self._index.get(str(original), default)

    def encode(self, originals: Iterable[object]) -> np.ndarray:
        """``(n,)`` int64 contiguous ids; -1 for an unknown original id."""
        lookup = self._index.get
        return np.fromiter((lookup(str(v), -1) for v in originals), dtype=np.int64)

    def decode(self, codes: Iterable[int]) -> list[str]:
        """The original ids of contiguous ``codes``."""
        return [self.originals[int(c)] for c in codes]

    def subset(self, codes: Sequence[int] | np.ndarray) -> IdMap:
        """The map restricted to ``codes``, renumbered ``0..len(codes)-1`` in the order given."""
        return IdMap(self.decode(codes))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IdMap) and self.originals == other.originals

    def __repr__(self) -> str:
        head = ", ".join(self.originals[:3])
        return f"IdMap({len(self)} ids: {head}{', ...' if len(self) > 3 else ''})"


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def save_ids(directory: str | Path, users: IdMap, items: IdMap) -> Path:
    """Write ``ids.json`` into ``directory`` (atomically) and return its path."""
    path = Path(directory) / IDS_FILE
    text = json.dumps({"users": users.originals, "items": items.originals}, ensure_ascii=False)
    atomic_write_text(path, text + "\n")
    return path


def load_ids(directory: str | Path) -> tuple[IdMap, IdMap]:
    """Read ``ids.json`` from a world directory: ``(users, items)``.

    Raises:
        DataFormatError: the file is missing, not JSON, lacks ``users``/``items`` lists of strings, or
            repeats an id.
    """
    path = Path(directory) / IDS_FILE
    if not path.is_file():
        raise DataFormatError(path, "not found: only imported worlds (`recsim-lab data import`) carry original ids")
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise DataFormatError(path, f"invalid JSON ({error.msg})", error.lineno) from None
    maps = []
    for key in ("users", "items"):
        values = record.get(key) if isinstance(record, dict) else None
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise DataFormatError(path, f"expected {key!r}: a list of original ids (strings)")
        try:
            maps.append(IdMap(values))
        except ValueError as error:
            raise DataFormatError(path, f"{key}: {error}") from None
    return maps[0], maps[1]


def original_user_ids(world_directory: str | Path, n_users: int) -> np.ndarray:
    """``(n_users,)`` object array of a world directory's original user ids (``--original-ids``).

    Raises:
        ValueError: the env is not a directory; ``DataFormatError``: no readable ``ids.json``, or one whose
            user count is not ``n_users``.
    """
    directory = Path(world_directory)
    if not directory.is_dir():
        raise ValueError(f"--original-ids needs an imported world directory (with {IDS_FILE}); "
                         f"{str(world_directory)!r} is a preset")
    users, _ = load_ids(directory)
    if len(users) != n_users:
        raise DataFormatError(directory / IDS_FILE, f"has {len(users)} user ids but the world has {n_users} users")
    return np.asarray(users.originals, dtype=object)
