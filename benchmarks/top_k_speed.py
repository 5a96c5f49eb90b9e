"""Speed of :func:`agents.helpers.ranking.top_k` (two stages over blocks of 64 columns) against one partition
per row (``_partition_top_k``), on random float32 score rows.

    python benchmarks/top_k_speed.py [--items 3000] [--k 5] [--rows 1,16,256,2000] [--repeats 20]

For each number of rows (users scored in one call) both selections run ``--repeats`` times in turn on the same
``(rows, items)`` matrix and the best time of each is kept, so a busy machine penalises both alike. Prints one
JSON object: per row count, the microseconds per call of each and ``ratio`` = two-stage / partition (below 1:
the two-stage selection is faster).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from agents.helpers.ranking import _partition_top_k, top_k


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=3000)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--rows", default="1,16,256,2000", help="comma-separated row counts")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    results = {}
    for rows in (int(r) for r in args.rows.split(",")):
        scores = rng.standard_normal((rows, args.items)).astype(np.float32)
        assert (np.sort(top_k(scores, args.k), axis=1) == np.sort(_partition_top_k(scores, args.k), axis=1)).all()
        best = {"two_stage": np.inf, "partition": np.inf}
        for _ in range(args.repeats):
            for name, select in (("two_stage", top_k), ("partition", _partition_top_k)):
                start = time.perf_counter()
                select(scores, args.k)
                best[name] = min(best[name], time.perf_counter() - start)
        results[rows] = {"two_stage_us": round(best["two_stage"] * 1e6, 1),
                         "partition_us": round(best["partition"] * 1e6, 1),
                         "ratio": round(best["two_stage"] / best["partition"], 2)}
    print(json.dumps({"items": args.items, "k": args.k, "rows": results, "numpy": np.__version__}, indent=2))


if __name__ == "__main__":
    main()
