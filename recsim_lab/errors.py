"""Exceptions that carry enough context for a user to fix their input."""

from __future__ import annotations

from pathlib import Path


class DataFormatError(ValueError):
    """A data file is malformed. The message names the file, the line (1-based) when known, and the problem."""

    def __init__(self, path: str | Path, problem: str, line: int | None = None) -> None:
        where = f"{path}" if line is None else f"{path}, line {line}"
        super().__init__(f"{where}: {problem}")
        self.path = Path(path)
        self.line = line
        self.problem = problem


def undecodable(path: str | Path, encoding: str = "utf-8") -> DataFormatError:
    """The error for a file that is not ``encoding`` text, naming the first line that does not decode.

    A text reader decodes ahead of the line it hands out, so the line it was at when decoding failed is not
    the culprit's; this reads the raw lines again (split at ``\\n``, as for ``\\n`` and ``\\r\\n`` files) and
    decodes each alone.
    """
    with Path(path).open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                raw.decode(encoding)
            except UnicodeDecodeError as error:
                return DataFormatError(path, f"not {_encoding_name(encoding)} text ({error.reason} at byte "
                                             f"{error.start + 1} of the line)", number)
    return DataFormatError(path, f"not {_encoding_name(encoding)} text")


def _encoding_name(encoding: str) -> str:
    return "UTF-8" if encoding.lower().replace("_", "-") in ("utf-8", "utf8", "utf-8-sig") else encoding
