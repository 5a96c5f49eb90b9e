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
