"""JSON lines: one JSON object per line, errors with file and line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from recsim_lab.errors import DataFormatError


def read_json_lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, object)`` for each non-blank line of ``path`` (line numbers are 1-based).

    Raises:
        DataFormatError: the file is missing, a line is not valid JSON, or a line is not a JSON object.
    """
    if not path.is_file():
        raise DataFormatError(path, "file not found")
    with path.open(encoding="utf-8") as handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as error:
                raise DataFormatError(path, f"invalid JSON ({error.msg})", number) from None
            if not isinstance(record, dict):
                raise DataFormatError(path, f"expected a JSON object, got {type(record).__name__}", number)
            yield number, record


def json_line(record: dict[str, Any]) -> str:
    """One JSON-lines row (no trailing newline), UTF-8 kept readable."""
    return json.dumps(record, ensure_ascii=False)
