"""MovieLens 100K and 1M (GroupLens) as click logs.

- **100K** (a directory such as ``ml-100k/``): ``u.data``, tab-separated ``user item rating timestamp``;
  ``u.item``, pipe-separated latin-1 ``id|title|release date|video release date|IMDb URL|flag*19`` (one 0/1
  flag per genre); ``u.genre``, ``name|index`` per line, the genre names of those flags in order.
- **1M** (a directory such as ``ml-1m/``): ``ratings.dat``, ``UserID::MovieID::Rating::Timestamp``;
  ``movies.dat``, latin-1 ``MovieID::Title::Genre|Genre|...``.

Every rating is one implicit click (a rating means the user watched the film, the usual implicit reading
of MovieLens); its value is checked (a number) but not used. Item text: headline = the title (with its
year, as MovieLens writes it), description = the genres and the year, category = the first genre. A rating
of a movie that the movie file lacks is an error (MovieLens is a closed set), reported with its line.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from recsim_lab.data.clicklog import ClickLog, CodeBook, note_first_listing, read_lines
from recsim_lab.data.ids import IdMap
from recsim_lab.errors import DataFormatError

_YEAR_IN_TITLE = re.compile(r"\((\d{4})\)\s*$")
_YEAR_IN_DATE = re.compile(r"(\d{4})\s*$")


def read_movielens_100k(directory: str | Path) -> ClickLog:
    """Read an ``ml-100k`` directory (``u.data``, ``u.item``, ``u.genre``).

    Raises:
        DataFormatError: with file and line, for a missing file, a wrong field count, a non-integer id or
            timestamp, a non-numeric rating, a genre flag other than 0/1, a duplicate movie, or a rating of
            a movie that ``u.item`` lacks.
    """
    directory = Path(directory)
    genres = _read_genres(directory / "u.genre")
    path = directory / "u.item"
    n_fields = 5 + len(genres)
    ids, titles, item_genres, dates = [], [], [], []
    first_line: dict[int, int] = {}
    for number, text in read_lines(path, encoding="latin-1"):
        parts = text.split("|")
        if len(parts) != n_fields:
            raise DataFormatError(path, f"expected {n_fields} '|'-separated fields (id, title, release date, "
                                        f"video release date, IMDb URL and {len(genres)} genre flags from "
                                        f"u.genre), got {len(parts)}", number)
        flags = parts[5:]
        if any(flag not in ("0", "1") for flag in flags):
            bad = next(flag for flag in flags if flag not in ("0", "1"))
            raise DataFormatError(path, f"genre flags must be 0 or 1, got {bad!r}", number)
        ids.append(_movie_id(path, number, parts[0], first_line))
        titles.append(parts[1].strip())
        dates.append(parts[2].strip())
        item_genres.append([g for g, flag in zip(genres, flags) if flag == "1"])
    log = _read_ratings(directory / "u.data", "\t", "tab")
    return _click_log("movielens-100k", directory, ["u.data", "u.item", "u.genre"], ids, titles, item_genres,
                      dates, log)


def read_movielens_1m(directory: str | Path) -> ClickLog:
    """Read an ``ml-1m`` directory (``ratings.dat``, ``movies.dat``).

    Raises:
        DataFormatError: with file and line, as :func:`read_movielens_100k`.
    """
    directory = Path(directory)
    path = directory / "movies.dat"
    ids, titles, item_genres = [], [], []
    first_line: dict[int, int] = {}
    for number, text in read_lines(path, encoding="latin-1"):
        parts = text.split("::")
        if len(parts) != 3:
            raise DataFormatError(path, f"expected 3 '::'-separated fields (MovieID, Title, Genres), "
                                        f"got {len(parts)}", number)
        ids.append(_movie_id(path, number, parts[0], first_line))
        titles.append(parts[1].strip())
        item_genres.append([g for g in parts[2].strip().split("|") if g])
    log = _read_ratings(directory / "ratings.dat", "::", "'::'")
    return _click_log("movielens-1m", directory, ["ratings.dat", "movies.dat"], ids, titles, item_genres,
                      [""] * len(ids), log)


def _read_genres(path: Path) -> list[str]:
    genres: dict[int, str] = {}
    for number, text in read_lines(path, encoding="latin-1"):
        name, sep, index = text.rpartition("|")
        if not sep or not name:
            raise DataFormatError(path, f"expected 'name|index', got {text!r}", number)
        position = _integer(path, number, "genre index", index)
        if position in genres:
            raise DataFormatError(path, f"genre index {position} given twice", number)
        genres[position] = name.strip()
    if sorted(genres) != list(range(len(genres))):
        raise DataFormatError(path, f"genre indices must be 0..{len(genres) - 1}, got {sorted(genres)}")
    return [genres[i] for i in range(len(genres))]


def _integer(path: Path, number: int, what: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise DataFormatError(path, f"{what} must be an integer, got {text!r}", number) from None


def _movie_id(path: Path, number: int, text: str, first_line: dict[int, int]) -> int:
    movie = _integer(path, number, "movie id", text)
    note_first_listing(path, number, "movie id", movie, first_line)
    return movie


def _read_ratings(path: Path, sep: str, sep_name: str) -> tuple[list[int], list[int], list[int], list[int]]:
    """``(users, items, timestamps, line_numbers)`` of a ratings file (4 fields per line)."""
    users: list[int] = []
    items: list[int] = []
    times: list[int] = []
    lines: list[int] = []
    for number, text in read_lines(path, encoding="latin-1"):
        parts = text.split(sep)
        if len(parts) != 4:
            raise DataFormatError(path, f"expected 4 {sep_name}-separated fields (user, item, rating, "
                                        f"timestamp), got {len(parts)}", number)
        try:
            user, item, _, when = int(parts[0]), int(parts[1]), float(parts[2]), int(parts[3])
        except ValueError:
            for name, value, kind in zip(("user", "item", "rating", "timestamp"), parts, (int, int, float, int)):
                try:
                    kind(value)
                except ValueError:
                    what = "a number" if kind is float else "an integer"
                    raise DataFormatError(path, f"{name} must be {what}, got {value!r}", number) from None
            raise
        users.append(user)
        items.append(item)
        times.append(when)
        lines.append(number)
    return users, items, times, lines


def _click_log(fmt: str, directory: Path, files: list[str], ids: list[int], titles: list[str],
               item_genres: list[list[str]], dates: list[str],
               log: tuple[list[int], list[int], list[int], list[int]]) -> ClickLog:
    users, items, times, lines = (np.asarray(column, dtype=np.int64) for column in log)
    catalogue = np.asarray(ids, dtype=np.int64)
    order = np.argsort(catalogue, kind="stable")
    where = np.minimum(np.searchsorted(catalogue[order], items), max(len(ids) - 1, 0))
    known = catalogue[order][where] == items if len(ids) else np.zeros(items.size, dtype=bool)
    if not known.all():
        first = int(np.argmax(~known))
        raise DataFormatError(directory / files[0], f"item {items[first]} is not in {files[1]}", int(lines[first]))
    book = CodeBook()
    provisional = np.fromiter((book.add(str(u)) for u in users.tolist()), dtype=np.int64, count=users.size)
    user_ids, remap = book.finish()
    headlines, descriptions, categories = [], [], []
    for title, genres, date in zip(titles, item_genres, dates):
        year = _year(title, date)
        headlines.append(title)
        descriptions.append("; ".join(part for part in (", ".join(genres), year) if part))
        categories.append(genres[0] if genres else "")
    return ClickLog(
        items=IdMap(ids), headlines=headlines, descriptions=descriptions, categories=categories,
        users=user_ids, event_user=remap[provisional] if users.size else provisional,
        event_item=order[where] if users.size else items, event_time=times.astype(np.float64),
        source={"format": fmt, "path": str(directory), "files": files, "events": int(users.size),
                "users": len(user_ids), "items": len(ids)},
    )


def _year(title: str, date: str) -> str:
    match = _YEAR_IN_TITLE.search(title) or _YEAR_IN_DATE.search(date)
    return match.group(1) if match else ""
