"""A generic click log: ``interactions.csv`` and ``items.csv`` in one directory.

- ``interactions.csv``: header required; columns ``user`` and ``item`` (any text), optionally
  ``timestamp`` (a number, or an ISO 8601 date-time) and ``rating`` (a number; checked but not used: every
  row is one implicit click). Without ``timestamp`` the file order is the time order.
- ``items.csv``: header required; column ``item`` plus any of ``headline``, ``short_description`` and
  ``category`` (missing text reads as empty; a missing headline as the item id).

Standard CSV quoting (RFC 4180) is understood; extra columns are ignored. Interactions with an item that
``items.csv`` lacks are counted (``source["unknown_items"]``) and dropped, not an error.
"""

from __future__ import annotations

import csv
import math
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from recsim_lab.data.clicklog import ClickLog, CodeBook, note_first_listing
from recsim_lab.data.ids import IdMap
from recsim_lab.errors import DataFormatError, undecodable

INTERACTIONS_FILE = "interactions.csv"
ITEMS_FILE = "items.csv"
_TEXT_COLUMNS = ("headline", "short_description", "category")


def read_interactions_csv(directory: str | Path) -> ClickLog:
    """Read a directory with ``interactions.csv`` and ``items.csv``.

    Raises:
        DataFormatError: with file and line, for a missing file or header column, a row with the wrong
            number of fields, an empty id, a repeated item in ``items.csv``, or a timestamp or rating that
            is not a number.
    """
    directory = Path(directory)
    items_path = directory / ITEMS_FILE
    ids: list[str] = []
    texts: dict[str, list[str]] = {name: [] for name in _TEXT_COLUMNS}
    first_line: dict[str, int] = {}
    for number, row in _rows(items_path, required=("item",)):
        item = row["item"].strip()
        if not item:
            raise DataFormatError(items_path, "empty item id", number)
        note_first_listing(items_path, number, "item", item, first_line)
        ids.append(item)
        for name in _TEXT_COLUMNS:
            texts[name].append((row.get(name) or "").strip())
    items = IdMap(ids)
    headlines = [h or f"item {i}" for h, i in zip(texts["headline"], ids)]

    path = directory / INTERACTIONS_FILE
    book = CodeBook()
    users: list[int] = []
    clicked: list[int] = []
    times: list[float] = []
    unknown: dict[str, int] = {}
    timed = False
    for number, row in _rows(path, required=("user", "item")):
        user, item_text = row["user"].strip(), row["item"].strip()
        if not user or not item_text:
            raise DataFormatError(path, f"empty {'user' if not user else 'item'} id", number)
        timed = "timestamp" in row
        when = _timestamp(path, number, row["timestamp"]) if timed else float(number)
        if "rating" in row:
            _number(path, number, "rating", row["rating"])
        item = items.get(item_text)
        if item < 0:
            unknown[item_text] = unknown.get(item_text, 0) + 1
            continue
        users.append(book.add(user))
        clicked.append(item)
        times.append(when)
    user_ids, remap = book.finish()
    provisional = np.asarray(users, dtype=np.int64)
    return ClickLog(
        items=items, headlines=headlines, descriptions=texts["short_description"], categories=texts["category"],
        users=user_ids, event_user=remap[provisional] if provisional.size else provisional,
        event_item=np.asarray(clicked, dtype=np.int64), event_time=np.asarray(times, dtype=np.float64),
        source={"format": "csv", "path": str(directory), "files": [INTERACTIONS_FILE, ITEMS_FILE],
                "events": len(clicked), "users": len(user_ids), "items": len(items),
                "time": "timestamp column" if timed else "file order",
                "unknown_items": {"ids": len(unknown), "mentions": sum(unknown.values())}},
    )


def _rows(path: Path, required: tuple[str, ...]):
    """Yield ``(line_number, {column: value})`` for each data row of a CSV file with a header."""
    if not path.is_file():
        raise DataFormatError(path, "file not found")
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, None)
            if header is None:
                raise DataFormatError(path, f"empty file: expected a header with columns {', '.join(required)}")
            header = [name.strip().lstrip("\ufeff") for name in header]
            missing = [name for name in required if name not in header]
            if missing:
                raise DataFormatError(path, f"the header must name the column(s) {missing}; got {header}", 1)
            for row in reader:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                if len(row) != len(header):
                    raise DataFormatError(path, f"expected {len(header)} fields ({','.join(header)}), got "
                                                f"{len(row)}", reader.line_num)
                yield reader.line_num, dict(zip(header, row))
        except csv.Error as error:
            raise DataFormatError(path, f"malformed CSV ({error})", reader.line_num) from None
        except UnicodeDecodeError:  # decoded ahead of the reader's line: find the line that fails
            raise undecodable(path) from None


def _number(path: Path, line: int, name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise DataFormatError(path, f"{name} must be a number, got {text!r}", line) from None
    if not math.isfinite(value):
        raise DataFormatError(path, f"{name} must be finite, got {text!r}", line)
    return value


def _timestamp(path: Path, line: int, text: str) -> float:
    try:
        return _number(path, line, "timestamp", text)
    except DataFormatError:
        pass
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise DataFormatError(path, f"timestamp must be a number or an ISO 8601 date-time, got {text!r}",
                              line) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()
