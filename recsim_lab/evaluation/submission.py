"""Reading and validating a score submission: the DataLab Cup ``user_id,avg_score`` CSV.

A valid submission has the header ``user_id,avg_score`` and one row per test user, each user exactly once
(in any order), with a score that is a finite number in [0, 1]. Blank lines are ignored. Every problem is
reported, each with its file and line, e.g. ``sub.csv, line 7: user_id 12 appears twice (first on line 5)``.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recsim_lab.run.scoring import SCORES_HEADER

_INTEGER = re.compile(r"[0-9]+")
_SHOWN_MISSING = 10  # missing user ids listed in the message


class SubmissionError(ValueError):
    """A submission file is invalid; ``problems`` lists each problem, with its file and line."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        super().__init__(f"{path} is not a valid submission ({len(problems)} problem(s)):\n" +
                         "\n".join(f"  {p}" for p in problems))
        self.path = path
        self.problems = problems


@dataclass
class Submission:
    """A valid submission, rows in file order."""

    path: Path
    users: np.ndarray
    """``(n,)`` int64 user ids."""
    scores: np.ndarray
    """``(n,)`` float64 each user's score in [0, 1]."""

    @property
    def mean_score(self) -> float:
        return float(self.scores.mean())


def read_submission(path: str | Path, test_users: np.ndarray) -> Submission:
    """Read and validate ``path`` against the world's test users.

    Args:
        path: a ``user_id,avg_score`` CSV file.
        test_users: ``(n,)`` the ids that must each appear exactly once (``dataset.users("test")``).

    Raises:
        SubmissionError: listing every problem (``problems``), each with its line.
        FileNotFoundError: no such file.
    """
    path = Path(path)
    rows = _numbered_rows(path)
    if not rows:
        raise SubmissionError(path, [f"{path}: the file is empty; expected the header {SCORES_HEADER!r}"])
    _, header = rows[0]
    if ",".join(field.strip() for field in header) != SCORES_HEADER:
        raise SubmissionError(path, [f"{path}, line 1: the header must be {SCORES_HEADER!r}, got "
                                     f"{','.join(header)!r}; the rows were not checked"])
    test_users = np.asarray(test_users)
    expected = set(test_users.tolist())
    problems: list[str] = []
    first_line: dict[int, int] = {}
    scores: list[float] = []
    for line, row in rows[1:]:
        if not any(field.strip() for field in row):
            continue
        where = f"{path}, line {line}"
        if len(row) != 2:
            problems.append(f"{where}: expected 2 fields ({SCORES_HEADER}), got {len(row)}: {','.join(row)!r}")
            continue
        user = _user_id(row[0].strip(), expected, where, problems)
        score = _score(row[1].strip(), where, problems)
        if user is None:
            continue
        if user in first_line:
            problems.append(f"{where}: user_id {user} appears twice (first on line {first_line[user]})")
            continue
        first_line[user] = line
        scores.append(score)
    missing = sorted(expected - set(first_line))
    if missing:
        shown = ", ".join(map(str, missing[:_SHOWN_MISSING])) + (", ..." if len(missing) > _SHOWN_MISSING else "")
        problems.append(f"{path}: {len(missing)} of {len(expected)} test users are missing: {shown}")
    if problems:
        raise SubmissionError(path, problems)
    return Submission(path, np.array(list(first_line), dtype=np.int64), np.array(scores, dtype=np.float64))


def _numbered_rows(path: Path) -> list[tuple[int, list[str]]]:
    """``(line number, fields)`` of every CSV row (a UTF-8 byte-order mark is allowed)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        try:
            return [(reader.line_num, row) for row in reader]
        except UnicodeDecodeError as error:
            raise SubmissionError(path, [f"{path}: not UTF-8 text ({error})"]) from None
        except csv.Error as error:
            raise SubmissionError(path, [f"{path}, line {reader.line_num + 1}: not CSV text ({error})"]) from None


def _user_id(text: str, expected: set[int], where: str, problems: list[str]) -> int | None:
    if not _INTEGER.fullmatch(text):
        problems.append(f"{where}: user_id {text!r} is not a non-negative integer")
        return None
    user = int(text)
    if user not in expected:
        problems.append(f"{where}: user_id {user} is not a test user of this world ({_describe(expected)})")
        return None
    return user


def _score(text: str, where: str, problems: list[str]) -> float:
    try:
        score = float(text)
    except ValueError:
        problems.append(f"{where}: avg_score {text!r} is not a number")
        return math.nan
    if not 0.0 <= score <= 1.0:  # also rejects nan
        problems.append(f"{where}: avg_score {text} is outside [0, 1]")
    return score


def _describe(users: set[int]) -> str:
    """``"ids 0..199"`` for a contiguous set, else ``"200 ids from 0 to 398"``."""
    low, high = min(users), max(users)
    return f"ids {low}..{high}" if high - low + 1 == len(users) else f"{len(users)} ids from {low} to {high}"
