"""Time importing and calibrating a MovieLens 1M-sized log (parse, split, calibrate, write).

    python benchmarks/calibration.py [ML_1M_DIR] [--keep OUT_DIR]

With ``ML_1M_DIR`` (a GroupLens ``ml-1m/`` directory: ``ratings.dat``, ``movies.dat``) it imports that.
Without it (MovieLens may not be redistributed, and this machine is offline) it first writes, into a
temporary directory, a synthetic log with exactly the ML-1M shape in the ML-1M file format: 1,000,209
ratings by 6,040 users of 3,706 movies, every user with at least 20 ratings (log-normal activity, up to
2,314 ratings), skewed movie popularity (Zipf-like, every movie rated at least once), a low-rank taste
structure, and timestamps over about three years. Prints one JSON object: seconds per stage and in total
(the generation of the synthetic log is not counted), and the fidelity figures.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

ML1M_RATINGS, ML1M_USERS, ML1M_ITEMS = 1_000_209, 6_040, 3_706


def write_synthetic_ml1m(directory: Path, seed: int = 0) -> dict[str, int]:
    """Write ``ratings.dat`` and ``movies.dat`` with the ML-1M shape (see the module docstring)."""
    rng = np.random.default_rng(seed)
    lengths = np.clip(np.exp(rng.normal(4.6, 0.9, ML1M_USERS)), 20, 2314)
    lengths = np.clip(np.round(lengths * ML1M_RATINGS / lengths.sum()), 20, 2314).astype(np.int64)
    while lengths.sum() != ML1M_RATINGS:  # fix the rounding one rating at a time, within the bounds
        gap = ML1M_RATINGS - lengths.sum()
        room = np.flatnonzero(lengths < 2314) if gap > 0 else np.flatnonzero(lengths > 20)
        pick = rng.choice(room, size=min(abs(int(gap)), room.size), replace=False)
        lengths[pick] += np.sign(gap)
    popularity = np.log(1.0 / np.arange(1, ML1M_ITEMS + 1) ** 1.0)[rng.permutation(ML1M_ITEMS)]
    users, items = rng.standard_normal((ML1M_USERS, 16)) * 0.6, rng.standard_normal((ML1M_ITEMS, 16)) * 0.6
    rated = []
    for start in range(0, ML1M_USERS, 500):  # Gumbel top-k: sampling without replacement by taste x popularity
        block = users[start:start + 500] @ items.T + popularity + rng.gumbel(size=(min(500, ML1M_USERS - start),
                                                                                    ML1M_ITEMS))
        order = np.argsort(-block, axis=1)
        rated.extend(order[row, :lengths[start + row]] for row in range(order.shape[0]))
    counts = np.bincount(np.concatenate(rated), minlength=ML1M_ITEMS)
    for item in np.flatnonzero(counts == 0).tolist():  # every movie rated at least once, total unchanged
        user = int(rng.choice(np.flatnonzero(lengths > 20)))
        donor = max(range(len(rated[user])), key=lambda j: counts[rated[user][j]])
        counts[rated[user][donor]] -= 1
        rated[user][donor] = item
        counts[item] += 1
    lines = []
    for user, row in enumerate(rated):
        start = 956_703_932 + int(rng.integers(0, 60_000_000))
        stamps = start + np.sort(rng.integers(0, 40_000_000, size=row.size))
        stars = rng.integers(1, 6, size=row.size)
        lines.extend(f"{user + 1}::{item + 1}::{r}::{t}"
                     for item, r, t in zip(row.tolist(), stars.tolist(), stamps.tolist()))
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "ratings.dat").write_text("\n".join(lines) + "\n", encoding="latin-1")
    genres = ["Action", "Comedy", "Drama", "Thriller", "Romance", "Sci-Fi", "Horror", "Children's"]
    (directory / "movies.dat").write_text("".join(
        f"{i + 1}::Movie {i + 1} ({1930 + i % 71})::{genres[i % 8]}|{genres[(i * 7 + 3) % 8]}\n"
        for i in range(ML1M_ITEMS)), encoding="latin-1")
    return {"ratings": len(lines), "users": ML1M_USERS, "items": int((counts > 0).sum())}


def main() -> None:
    from recsim_lab.worlds.importing import ImportConfig, describe, import_world

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ml1m", nargs="?", type=Path, help="a GroupLens ml-1m directory (default: synthetic)")
    parser.add_argument("--keep", type=Path, help="write the world here instead of a temporary directory")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="recsim-calibration-") as scratch:
        source, shape = args.ml1m, None
        generated = 0.0
        if source is None:
            start = time.perf_counter()
            source = Path(scratch) / "ml-1m"
            shape = write_synthetic_ml1m(source)
            generated = time.perf_counter() - start
        out = args.keep or Path(scratch) / "world"
        imported = import_world("movielens-1m", source, out, ImportConfig(), force=args.keep is not None)
        summary = describe(imported)
        print(json.dumps({
            "source": str(args.ml1m) if args.ml1m else "synthetic log with the ML-1M shape (ML-1M file format)",
            "shape": shape or {"ratings": imported.world.info["provenance"]["events"],
                               "users": summary["users"], "items": summary["items"]},
            "generation_seconds_not_counted": round(generated, 2),
            "seconds": summary["seconds"], "fidelity": summary["fidelity"], "cpus": os.cpu_count(),
        }, indent=2))


if __name__ == "__main__":
    main()
