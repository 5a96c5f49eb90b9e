"""What the approximations of the large-catalogue path cost in recall, against exact search.

    python benchmarks/retrieval_recall.py [--env datalab] [--users 512] [--seed 0] [--set KEY=VALUE ...]

Fits the default hybrid on the world, playing only the blend ``fit`` chose (``adapt=False``), then, for
``--users`` users of the test population:

- **projection**: the content agent scores with 128-dimensional principal projections of the 384-dimensional
  text embeddings. Recall@k = the share of a user's k most cosine-similar items under the full embeddings
  (the same profile, unprojected) that are among the k best under the projection.
- **joint index**: the hybrid retrieves its blend's best unseen items from one faiss IVF index over the
  children's concatenated keys. Recall@n = the share of the exact top ``candidates`` of the same blended
  queries (a brute-force product over every item) that the index returns; ``slate_agreement`` = the share of
  slate items that the hybrid's re-scored top 5 has in common with the top 5 of an exact, full-row blend.

Prints one JSON object with those figures and the search times per user.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from agents.helpers.ranking import top_k, top_k_unseen
from agents.helpers.retrieval import unseen_candidates
from agents.helpers.text_embeddings import embed_texts, l2_normalised
from recsim_lab.cli.commands import parse_options
from recsim_lab.seeding import derive_seeds
from recsim_lab.worlds.presets import make_world


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean share of each row of ``truth`` found in the same row of ``found``."""
    return float(np.mean([np.intersect1d(f, t).size / t.size for f, t in zip(found, truth)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="datalab")
    parser.add_argument("--users", type=int, default=512)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", dest="options", action="append", default=[], metavar="KEY=VALUE",
                        help="a hybrid option, e.g. nprobe=48 (repeatable)")
    args = parser.parse_args()

    from agents.hybrid import HybridAgent

    world = make_world(args.env)
    hybrid = HybridAgent(**{"adapt": False, **parse_options(args.options)})  # every slate from the fitted blend
    hybrid.fit(world.dataset, seed=derive_seeds(args.seed, 1)[0])
    funk, content = hybrid.agents
    users = np.sort(np.random.default_rng(args.seed).choice(world.dataset.n_users, args.users, replace=False))

    full = embed_texts(world.dataset.item_texts(), show_progress=False)  # the cached 384-d embeddings
    profiles = np.zeros((users.size, full.shape[1]), dtype=np.float32)
    for row, user in enumerate(users):
        recent = world.dataset.histories[user][-content.history_size:]
        weights = content.decay ** np.arange(recent.size - 1, -1, -1)
        profiles[row] = weights.astype(np.float32) @ full[recent]
    exact_cosine = l2_normalised(profiles) @ full.T
    projected_cosine = content.queries(users)[:, :-1] @ content.item_keys[:, :-1].T  # less the popularity prior
    projection = {f"recall_at_{k}": round(recall(top_k(projected_cosine, k), top_k(exact_cosine, k)), 4)
                  for k in (10, 50, 100)}

    n = hybrid.candidates
    start = time.perf_counter()
    retrieved = np.concatenate([_retrieved(hybrid, chunk, n) for chunk in np.array_split(users, 4)])
    approximate_seconds = time.perf_counter() - start
    start = time.perf_counter()
    exact = np.concatenate([_exact(hybrid, chunk, n) for chunk in np.array_split(users, 4)])
    exact_seconds = time.perf_counter() - start
    slates = hybrid.recommend(users, 5)
    best = np.concatenate([_full_row_slates(hybrid, chunk) for chunk in np.array_split(users, 16)])
    print(json.dumps({
        "env": args.env, "n_items": world.dataset.n_items, "users": int(users.size),
        "projection": {"dim": content.dim, "full_dim": int(full.shape[1]), **projection},
        "joint_index": {"candidates": n, f"recall_at_{n}": round(recall(retrieved, exact), 4),
                        "slate_agreement": round(recall(slates, best), 4),
                        "approximate_ms_per_user": round(1e3 * approximate_seconds / users.size, 3),
                        "exact_ms_per_user": round(1e3 * exact_seconds / users.size, 3)},
    }, indent=2))


def _queries(hybrid, users: np.ndarray) -> np.ndarray:
    """The hybrid's blended joint queries for ``users``, as it retrieves with them."""
    return hybrid.joint_queries(users, hybrid.standardisation(users, _fitted_blend(hybrid, users))[0])


def _fitted_blend(hybrid, users: np.ndarray) -> np.ndarray:
    """``(B, n_children)``: the blend chosen in ``fit``, for every user."""
    return np.broadcast_to(np.asarray(hybrid.blend, dtype=np.float32), (users.size, len(hybrid.blend)))


def _retrieved(hybrid, users: np.ndarray, n: int) -> np.ndarray:
    return unseen_candidates(hybrid.index, _queries(hybrid, users), users, hybrid.seen, n)


def _exact(hybrid, users: np.ndarray, n: int) -> np.ndarray:
    return top_k_unseen(_queries(hybrid, users) @ hybrid.joint_keys().T, users, hybrid.seen, n)


def _full_row_slates(hybrid, users: np.ndarray) -> np.ndarray:
    """The top 5 unseen items of the exact blend over every item."""
    scales, means = hybrid.standardisation(users, _fitted_blend(hybrid, users))
    blend = sum(scale * (agent.scores(users) - mean) for agent, scale, mean in zip(hybrid.agents, scales, means))
    return top_k_unseen(blend, users, hybrid.seen, 5)


if __name__ == "__main__":
    main()
