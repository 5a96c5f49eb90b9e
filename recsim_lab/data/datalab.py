"""The DataLab Cup directory format.

A directory with two JSON-lines files:

- ``user_data.json``: ``{"user_id": int, "history": [int, ...]}`` per line, ids ``0..n_users-1``;
- ``item_data.json``: ``{"item_id": int, "headline": str, "short_description": str, "category": str}``
  per line (``category`` optional), ids ``0..n_items-1``.

Lines may come in any order; ids must be contiguous and unique. Every error names the file and the line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from recsim_lab.atomic import atomic_write_text
from recsim_lab.data.dataset import Dataset
from recsim_lab.data.jsonl import json_line, read_json_lines
from recsim_lab.errors import DataFormatError

USER_FILE = "user_data.json"
ITEM_FILE = "item_data.json"


def read_datalab(directory: str | Path, n_train_users: int | None = None) -> Dataset:
    """Read a DataLab-format directory.

    Args:
        directory: folder holding ``user_data.json`` and ``item_data.json``.
        n_train_users: size of the training population; default half the users (DataLab: 1,000 of 2,000).

    Raises:
        DataFormatError: with file and line, for bad JSON, a missing or mistyped field, a duplicate or
            non-contiguous id, or a history item id that is not in ``item_data.json``.
    """
    directory = Path(directory)
    items = _read_items(directory / ITEM_FILE)
    histories = _read_users(directory / USER_FILE, n_items=len(items))
    return Dataset(
        headlines=[item["headline"] for item in items],
        descriptions=[item["short_description"] for item in items],
        categories=[item["category"] for item in items],
        histories=histories,
        n_train_users=len(histories) // 2 if n_train_users is None else n_train_users,
    )


def write_datalab(dataset: Dataset, directory: str | Path) -> None:
    """Write ``user_data.json`` and ``item_data.json`` into ``directory`` (created if missing), atomically."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    item_rows = (
        json_line({"item_id": i, "headline": h, "short_description": d, "category": c})
        for i, (h, d, c) in enumerate(zip(dataset.headlines, dataset.descriptions, dataset.categories))
    )
    atomic_write_text(directory / ITEM_FILE, "".join(row + "\n" for row in item_rows))
    user_rows = (
        json_line({"user_id": u, "history": history.tolist()}) for u, history in enumerate(dataset.histories)
    )
    atomic_write_text(directory / USER_FILE, "".join(row + "\n" for row in user_rows))


def _field(path: Path, line: int, record: dict[str, Any], name: str, kind: type, default: Any = None) -> Any:
    if name not in record:
        if default is not None:
            return default
        raise DataFormatError(path, f"missing field {name!r}", line)
    value = record[name]
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise DataFormatError(path, f"field {name!r} must be an integer, got {value!r}", line)
    if kind is str and not isinstance(value, str):
        raise DataFormatError(path, f"field {name!r} must be a string, got {value!r}", line)
    if kind is list and not isinstance(value, list):
        raise DataFormatError(path, f"field {name!r} must be a list, got {type(value).__name__}", line)
    return value


def _by_contiguous_id(path: Path, id_field: str, rows: dict[int, tuple[int, Any]]) -> list[Any]:
    """Order ``{id: (line, value)}`` by id, requiring ids ``0..n-1``."""
    for expected, found in enumerate(sorted(rows)):
        if found != expected:
            line = rows[found][0]
            raise DataFormatError(
                path, f"{id_field} values must be contiguous from 0; {found} found but {expected} missing", line
            )
    return [rows[i][1] for i in range(len(rows))]


def _read_items(path: Path) -> list[dict[str, str]]:
    rows: dict[int, tuple[int, dict[str, str]]] = {}
    for line, record in read_json_lines(path):
        item_id = _field(path, line, record, "item_id", int)
        if item_id in rows:
            raise DataFormatError(path, f"duplicate item_id {item_id} (first on line {rows[item_id][0]})", line)
        item = {
            "headline": _field(path, line, record, "headline", str),
            "short_description": _field(path, line, record, "short_description", str),
            "category": _field(path, line, record, "category", str, default=""),
        }
        rows[item_id] = (line, item)
    return _by_contiguous_id(path, "item_id", rows)


def _read_users(path: Path, n_items: int) -> list[list[int]]:
    rows: dict[int, tuple[int, list[int]]] = {}
    for line, record in read_json_lines(path):
        user_id = _field(path, line, record, "user_id", int)
        if user_id in rows:
            raise DataFormatError(path, f"duplicate user_id {user_id} (first on line {rows[user_id][0]})", line)
        history = _field(path, line, record, "history", list)
        for item in history:
            if isinstance(item, bool) or not isinstance(item, int):
                raise DataFormatError(path, f"history entries must be integers, got {item!r}", line)
            if not 0 <= item < n_items:
                raise DataFormatError(
                    path, f"history has unknown item id {item} ({ITEM_FILE} has ids 0..{n_items - 1})", line
                )
        rows[user_id] = (line, history)
    return _by_contiguous_id(path, "user_id", rows)
