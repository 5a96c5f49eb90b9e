"""Reading and validating a score submission: the DataLab Cup ``user_id,avg_score`` CSV.

A valid submission has the header ``user_id,avg_score`` and one row per test user, each user exactly once
(in any order), with a score that is a finite number in [0, 1]. Blank lines (before the header too) are
ignored; a UTF-8 byte-order mark and ``\n``, ``\r\n`` or ``\r`` line ends are fine. Problems are reported
with their file and line, e.g. ``sub.csv, line 7: user_id 12 appears twice (first on line 5)``: the first
:data:`MAX_PROBLEMS`, then how many more.

The file is streamed: memory holds the per-user table (one entry per test user) and one line at a time,
whatever the file's size. A file over ``max_bytes`` is refused unread, and a line over
:data:`MAX_LINE_BYTES` ends the reading with a problem. While reading, the SHA-256 of the bytes is taken,
for the receipt's check (:mod:`~recsim_lab.evaluation.receipts`).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import math
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from recsim_lab.run.scoring import SCORES_HEADER

DEFAULT_MAX_BYTES = 100 << 20
"""Largest submission file read by default (100 MiB: a valid file takes about 30 bytes per test user)."""
MAX_PROBLEMS = 20
"""Problems listed per file; the rest are counted."""
MAX_LINE_BYTES = 1 << 20
"""Longest line read; a longer one ends the reading with a problem."""
_INTEGER = re.compile(r"[0-9]+")
_MAX_ID_DIGITS = 19  # user ids are int64
_SHOWN_MISSING = 10  # missing user ids listed in the message
_SHOWN_CHARACTERS = 40  # characters of a field quoted in a problem
_CHUNK = 1 << 20


class SubmissionError(ValueError):
    """A submission file is invalid; ``problems`` lists the first :data:`MAX_PROBLEMS` problems, each with
    its file and line, and ``total`` counts them all."""

    def __init__(self, path: Path, problems: list[str], total: int | None = None) -> None:
        total = len(problems) if total is None else total
        more = [f"... and {total - len(problems)} more problem(s)"] if total > len(problems) else []
        super().__init__(f"{path} is not a valid submission ({total} problem(s)):\n" +
                         "\n".join(f"  {p}" for p in problems + more))
        self.path = path
        self.problems = problems
        self.total = total


@dataclass
class Submission:
    """A valid submission, rows in file order."""

    path: Path
    users: np.ndarray
    """``(n,)`` int64 user ids."""
    scores: np.ndarray
    """``(n,)`` float64 each user's score in [0, 1]."""
    sha256: str = ""
    """SHA-256 hex of the file's bytes."""

    @property
    def mean_score(self) -> float:
        return float(self.scores.mean())


class _Problems:
    """The problems of one file: the first :data:`MAX_PROBLEMS` kept, all counted."""

    def __init__(self, path: Path) -> None:
        self.path, self.kept, self.total = path, [], 0

    def add(self, message: str, line: int | None = None) -> None:
        self.total += 1
        if len(self.kept) < MAX_PROBLEMS:
            self.kept.append(f"{self.path}{'' if line is None else f', line {line}'}: {message}")

    def error(self) -> SubmissionError:
        return SubmissionError(self.path, self.kept, self.total)


class _Stop(Exception):
    """The rest of the file cannot be read; the problem has been added."""


class _Lines:
    """The file's lines as text (a byte-order mark dropped), counted (``number``: lines given so far) and
    hashed as they are read. An undecodable line is a problem and reads as blank."""

    def __init__(self, handle: BinaryIO, problems: _Problems, max_bytes: int | None) -> None:
        self.handle, self.problems, self.max_bytes = handle, problems, max_bytes
        self.number, self.size, self.digest = 0, 0, hashlib.sha256()

    def __iter__(self) -> Iterator[str]:
        pending = b""
        while True:
            chunk = self.handle.read(_CHUNK)
            self.size += len(chunk)
            self.digest.update(chunk)
            if self.max_bytes is not None and self.size > self.max_bytes:
                self.problems.add(f"grew past the size limit of {self.max_bytes:,} bytes while read; the rest was "
                                  f"not checked")
                raise _Stop
            lines = (pending + chunk).splitlines(keepends=True)  # at b"\n", b"\r\n" and b"\r" only
            pending = b""
            if chunk and lines and (lines[-1][-1:] not in (b"\n", b"\r") or lines[-1].endswith(b"\r")):
                pending = lines.pop()  # a line still open (or a b"\r" that may be half of b"\r\n")
            if len(pending) > MAX_LINE_BYTES:
                self.problems.add(f"longer than {MAX_LINE_BYTES:,} bytes; the rest was not checked",
                                  self.number + 1)
                raise _Stop
            for raw in lines:
                self.number += 1
                if self.number == 1 and raw.startswith(codecs.BOM_UTF8):
                    raw = raw[len(codecs.BOM_UTF8):]
                try:
                    yield raw.decode("utf-8")
                except UnicodeDecodeError as error:
                    self.problems.add(f"not UTF-8 text (byte {raw[error.start]:#04x} at column {error.start + 1})",
                                      self.number)
                    yield "\n"
            if not chunk:
                return


def read_submission(path: str | Path, test_users: np.ndarray, *,
                    max_bytes: int | None = DEFAULT_MAX_BYTES) -> Submission:
    """Read and validate ``path`` against the world's test users, streaming it.

    Args:
        path: a ``user_id,avg_score`` CSV file.
        test_users: ``(n,)`` the ids that must each appear exactly once (``dataset.users("test")``).
        max_bytes: refuse a larger file unread (``None``: no limit).

    Raises:
        SubmissionError: listing the problems (``problems``, ``total``), each with its line.
        FileNotFoundError: no such file.
    """
    path = Path(path)
    problems = _Problems(path)
    with path.open("rb") as handle:
        size = _size(handle)
        if max_bytes is not None and size is not None and size > max_bytes:
            problems.add(f"{size:,} bytes, over the size limit of {max_bytes:,} bytes (--max-bytes); not read")
            raise problems.error()
        lines = _Lines(handle, problems, max_bytes)
        try:
            users, scores = _rows(lines, test_users, problems)
        except _Stop:
            raise problems.error() from None
    if problems.total:
        raise problems.error()
    return Submission(path, users, scores, lines.digest.hexdigest())


def _size(handle: BinaryIO) -> int | None:
    """The size of a regular file, ``None`` for a pipe or device (then the limit is checked while reading)."""
    info = os.fstat(handle.fileno())
    return info.st_size if stat.S_ISREG(info.st_mode) else None


def _rows(lines: _Lines, test_users: np.ndarray, problems: _Problems) -> tuple[np.ndarray, np.ndarray]:
    """Check the header and every row; the valid rows' users and scores, in file order."""
    reader = csv.reader(iter(lines))
    header = None
    while header is None:
        start = lines.number + 1
        row = _next_row(reader, lines, problems)
        if row is None:
            problems.add(f"the file is empty; expected the header {SCORES_HEADER!r}")
            raise _Stop
        if any(field.strip() for field in row):
            header = row
    if ",".join(field.strip() for field in header) != SCORES_HEADER:
        problems.add(f"the header must be {SCORES_HEADER!r}, got {_shown(','.join(header))}; the rows were not "
                     f"checked", start)
        raise _Stop
    expected = set(np.asarray(test_users).tolist())
    described = _describe(expected)
    first_line: dict[int, int] = {}
    scores: list[float] = []
    while True:
        start = lines.number + 1
        row = _next_row(reader, lines, problems)
        if row is None:
            break
        if not any(field.strip() for field in row):
            continue
        if len(row) != 2:
            problems.add(f"expected 2 fields ({SCORES_HEADER}), got {len(row)}: {_shown(','.join(row))}", start)
            continue
        user = _user_id(row[0].strip(), expected, described, start, problems)
        score = _score(row[1].strip(), start, problems)
        if user is None:
            continue
        if user in first_line:
            problems.add(f"user_id {user} appears twice (first on line {first_line[user]})", start)
            continue
        first_line[user] = start
        scores.append(score)
    missing = sorted(expected - set(first_line))
    if missing:
        shown = ", ".join(map(str, missing[:_SHOWN_MISSING])) + (", ..." if len(missing) > _SHOWN_MISSING else "")
        problems.add(f"{len(missing)} of {len(expected)} test users are missing: {shown}")
    return np.array(list(first_line), dtype=np.int64), np.array(scores, dtype=np.float64)


def _next_row(reader: Iterator[list[str]], lines: _Lines, problems: _Problems) -> list[str] | None:
    """The next CSV row, ``None`` at the end; a CSV error is a problem on the line where it was found."""
    try:
        return next(reader)
    except StopIteration:
        return None
    except csv.Error as error:
        problems.add(f"not CSV text ({error}); the rest was not checked", max(lines.number, 1))
        raise _Stop from None


def _shown(text: str) -> str:
    """``text`` quoted for a message, cut to :data:`_SHOWN_CHARACTERS` characters."""
    if len(text) <= _SHOWN_CHARACTERS:
        return repr(text)
    return f"{text[:_SHOWN_CHARACTERS]!r}... ({len(text):,} characters)"


def _user_id(text: str, expected: set[int], described: str, line: int, problems: _Problems) -> int | None:
    if not _INTEGER.fullmatch(text):
        problems.add(f"user_id {_shown(text)} is not a non-negative integer", line)
        return None
    if len(text.lstrip("0")) > _MAX_ID_DIGITS:  # no test user; int() of thousands of digits raises
        problems.add(f"user_id {_shown(text)} is not a test user of this world ({described})", line)
        return None
    user = int(text)
    if user not in expected:
        problems.add(f"user_id {user} is not a test user of this world ({described})", line)
        return None
    return user


def _score(text: str, line: int, problems: _Problems) -> float:
    try:
        score = float(text)
    except ValueError:
        problems.add(f"avg_score {_shown(text)} is not a number", line)
        return math.nan
    if not 0.0 <= score <= 1.0:  # also rejects nan
        problems.add(f"avg_score {text if len(text) <= _SHOWN_CHARACTERS else _shown(text)} is outside [0, 1]",
                     line)
    return score


def _describe(users: set[int]) -> str:
    """``"ids 0..199"`` for a contiguous set, else ``"200 ids from 0 to 398"``."""
    if not users:
        return "none"
    low, high = min(users), max(users)
    return f"ids {low}..{high}" if high - low + 1 == len(users) else f"{len(users)} ids from {low} to {high}"
