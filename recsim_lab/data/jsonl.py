"""JSON lines and JSON files: every failure as a :class:`~recsim_lab.errors.DataFormatError` with file and line.

Besides invalid syntax, :func:`json.loads` fails on text that is valid JSON but too deep for the recursive
decoder (``RecursionError``) and on an integer literal longer than Python's ``int`` string-conversion limit
(``ValueError``, 4300 digits by default); both are reported as invalid JSON here, never as a traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from recsim_lab.errors import DataFormatError, undecodable


def parse_json(text: str, path: Path, line: int | None = None) -> Any:
    """``json.loads(text)``, for ``text`` read from ``path`` (at ``line``, or from the file's start).

    Raises:
        DataFormatError: invalid JSON, JSON nested too deeply, or an integer with too many digits.
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        where = error.lineno if line is None else line
        raise DataFormatError(path, f"invalid JSON ({error.msg})", where) from None
    except RecursionError:
        raise DataFormatError(path, "invalid JSON (nested too deeply)", line or 1) from None
    except ValueError:  # int("9" * 4301): Python's limit on integer string conversion
        where = line if line is not None else _digits_line(text)
        raise DataFormatError(path, f"invalid JSON (an integer of more than {_max_digits()} digits)", where) from None


def read_json_file(path: str | Path) -> Any:
    """The JSON value in the UTF-8 file ``path``.

    Raises:
        DataFormatError: the file is missing or unreadable, not UTF-8 (with the line), or not valid JSON.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise DataFormatError(path, f"cannot read ({error.strerror or error})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise undecodable(path) from None
    return parse_json(text, path)


def read_json_lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, object)`` for each non-blank line of ``path`` (line numbers are 1-based).

    Raises:
        DataFormatError: the file is missing, is not UTF-8, a line is not valid JSON, or a line is not a JSON
            object.
    """
    if not path.is_file():
        raise DataFormatError(path, "file not found")
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise DataFormatError(path, f"not UTF-8 text ({error.reason} at byte {error.start + 1} of the line)",
                                      number) from None
            if not text.strip():
                continue
            record = parse_json(text, path, number)
            if not isinstance(record, dict):
                raise DataFormatError(path, f"expected a JSON object, got {type(record).__name__}", number)
            yield number, record


def json_line(record: dict[str, Any]) -> str:
    """One JSON-lines row (no trailing newline), UTF-8 kept readable."""
    return json.dumps(record, ensure_ascii=False)


def _digits_line(text: str) -> int:
    """The line of ``text`` holding its first run of digits longer than the conversion limit (else 1)."""
    limit = _max_digits()
    run = 0
    line = 1
    for char in text:
        if char.isdigit():
            run += 1
            if run > limit:
                return line
        else:
            run = 0
            if char == "\n":
                line += 1
    return 1


def _max_digits() -> int:
    """Python's limit on the digits of an integer read from text (``sys.get_int_max_str_digits``, 3.10.7+)."""
    return getattr(sys, "get_int_max_str_digits", lambda: 4300)()
