"""What every importer returns: an item catalogue with texts and a time-stamped click log, ids contiguous.

The importers (:mod:`~recsim_lab.data.movielens`, :mod:`~recsim_lab.data.mind`,
:mod:`~recsim_lab.data.news_category`, :mod:`~recsim_lab.data.interactions_csv`) each read one public format
into a :class:`ClickLog`; :mod:`recsim_lab.data.split` turns it into visible histories and held-out futures,
and ``recsim_lab.worlds.importing`` into a world. Also here: the line reader they share, which names the file and the
line of every problem.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from recsim_lab.data.ids import IdMap
from recsim_lab.errors import DataFormatError, undecodable


@dataclass(frozen=True, eq=False)
class ClickLog:
    """A catalogue and a click log, with contiguous ids (original ids in ``users`` / ``items``).

    Attributes:
        items: original item ids; item ``i`` is ``items.originals[i]``.
        headlines: ``n_items`` headlines (MovieLens: the title).
        descriptions: ``n_items`` short descriptions.
        categories: ``n_items`` category labels ("" when unknown).
        users: original user ids (empty for a catalogue without a log).
        event_user: ``(n_events,)`` int64 user of each click, in file order.
        event_item: ``(n_events,)`` int64 item of each click.
        event_time: ``(n_events,)`` float64 time of each click (seconds, or any increasing key); ``-inf``
            for clicks known only to precede the log (MIND click histories). Equal times keep file order.
        source: provenance: format, files, counts, and what was dropped and why.
    """

    items: IdMap
    headlines: list[str]
    descriptions: list[str]
    categories: list[str]
    users: IdMap = field(default_factory=lambda: IdMap([]))
    event_user: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    event_item: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    event_time: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.float64))
    source: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n_items = len(self.items)
        if not len(self.headlines) == len(self.descriptions) == len(self.categories) == n_items:
            raise ValueError(f"headlines, descriptions and categories need one entry per item ({n_items})")
        for name, dtype in (("event_user", np.int64), ("event_item", np.int64), ("event_time", np.float64)):
            object.__setattr__(self, name, np.ascontiguousarray(getattr(self, name), dtype=dtype).reshape(-1))
        if not self.event_user.size == self.event_item.size == self.event_time.size:
            raise ValueError("event_user, event_item and event_time must have the same length")
        for name, bound in (("event_user", len(self.users)), ("event_item", n_items)):
            values = getattr(self, name)
            if values.size and (values.min() < 0 or values.max() >= bound):
                raise ValueError(f"{name} must hold ids in 0..{bound - 1}")
        if np.isnan(self.event_time).any():
            raise ValueError("event_time must not hold NaN")

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_events(self) -> int:
        return int(self.event_user.size)


def read_lines(path: Path, encoding: str = "utf-8") -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` for each non-blank line (1-based, line ending removed).

    Raises:
        DataFormatError: the file is missing, or a line cannot be decoded with ``encoding``.
    """
    if not path.is_file():
        raise DataFormatError(path, "file not found")
    with path.open(encoding=encoding, newline="") as handle:
        try:
            for number, text in enumerate(handle, start=1):
                text = text.rstrip("\r\n")
                if text.strip():
                    yield number, text
        except UnicodeDecodeError:  # decoded ahead of the line handed out: find the line that fails
            raise undecodable(path, encoding) from None


def note_first_listing(path: Path, number: int, what: str, value: Any, first_line: dict[Any, int]) -> None:
    """Record that an item file lists ``value`` on line ``number`` (``first_line``: value -> line so far).

    Raises:
        DataFormatError: ``value`` was listed before ("``what`` ``value!r`` is listed twice").
    """
    if value in first_line:
        raise DataFormatError(path, f"{what} {value!r} is listed twice (first on line {first_line[value]})", number)
    first_line[value] = number


class CodeBook:
    """Collects original ids as they are met (file order), then renumbers them in sorted order.

    ``add(value)`` returns a provisional code; :meth:`finish` returns the sorted :class:`IdMap` and the
    array that maps provisional codes to final ones.
    """

    def __init__(self) -> None:
        self._codes: dict[str, int] = {}

    def add(self, value: str) -> int:
        codes = self._codes
        code = codes.get(value)
        if code is None:
            code = codes[value] = len(codes)
        return code

    def __len__(self) -> int:
        return len(self._codes)

    def finish(self) -> tuple[IdMap, np.ndarray]:
        ids = IdMap.sorted_from(self._codes)
        return ids, ids.encode(self._codes)
