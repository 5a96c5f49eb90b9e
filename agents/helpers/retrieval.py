"""Top-n retrieval by inner product: exact for small catalogues, an approximate faiss index for large ones.

Scoring every item for every user-step costs ``n_items x dim`` multiply-adds plus an O(n_items) partial
selection: about a millisecond per user at 209,527 items on two cores, too slow for thousands of steps per
second. :class:`InnerProductIndex` answers "the n items with the largest ``<query, item>``" through
faiss's inverted-file index (``IndexIVFFlat``): items are clustered once, and a query scans only the
``nprobe`` clusters nearest to it. Agents re-score the retrieved candidates exactly, so the only cost of
the approximation is recall: an item in the true top-n that the scanned clusters miss.

The index is a Euclidean one over *lifted* items (Bachrach et al., 2014): each item ``x`` gets one more
coordinate, ``sqrt(bound^2 - |x|^2)`` (``bound`` the largest item norm at build, times
:data:`NORM_HEADROOM`), and each query a 0, so that ``|q - x'|^2 = |q|^2 + bound^2 - 2 <q, x>``: the
nearest lifted items are those of the largest inner product, and the clusters are plain k-means ones. Filing
items under the centroid of the largest inner product instead (faiss's inner-product IVF) scatters the top
items of some queries: on the hybrid's joint keys at 209,527 items (``nprobe`` 24), a content-only query's
top 5 were found 2% of the time that way, 84% lifted (``benchmarks/README.md``). An item that
:meth:`InnerProductIndex.refresh` moves past the bound cannot be lifted; it leaves the index for a short list
searched exactly, whose hits are merged with the index's by inner product.

Building the approximate index (k-means over the items, then filing every item) takes seconds at 209,527
items, so the hybrid agent builds it once in ``fit`` and keeps it in its checkpoint
(:meth:`InnerProductIndex.stored`), instead of rebuilding it at every episode's restore.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from agents.helpers.ranking import top_k
from recsim_lab.checkpoint import load_arrays, save_arrays
from recsim_lab.data.seen import SeenItems
from recsim_lab.extras import optional_import, require

EXACT_BELOW = 50_000
"""Catalogues smaller than this are searched exactly (a matrix product is then cheap enough)."""
NORM_HEADROOM = 1.1
"""The bound of the lifted items' norms: their largest norm at build, times this (room for learning)."""
FULL_ROW_ITEMS = 8192
"""Up to this many items, scoring a user's whole row and picking from it is cheaper than gathering the
``(candidates, dim)`` vectors of the items to score."""
_APPROXIMATE = f"retrieval over {EXACT_BELOW:,} items or more"  # the feature that needs faiss (the [ann] extra)


def require_index(n_items: int) -> None:
    """Fail early unless an index over ``n_items`` can be built: an approximate one needs faiss."""
    if n_items >= EXACT_BELOW:
        require(_APPROXIMATE, "faiss")


class InnerProductIndex:
    """Search ``(n_items, d)`` item vectors for the largest inner products with a batch of queries.

    Args:
        items: ``(n_items, d)`` float32 item vectors.
        exact: force exact search (default: exact below :data:`EXACT_BELOW` items).
        nprobe: clusters scanned per query in the approximate index (more: higher recall, slower).
        seed: seed of the clustering (k-means) of the approximate index.
        stored: an approximate index over ``items`` as :meth:`stored` gave it, restored instead of built
            (``exact`` is then ``False``).

    Raises:
        ValueError: ``stored`` does not hold an index of ``items``' count and width.
    """

    def __init__(self, items: np.ndarray, *, exact: bool | None = None, nprobe: int = 24, seed: int = 0,
                 stored: dict[str, np.ndarray] | None = None) -> None:
        items = np.ascontiguousarray(items, dtype=np.float32)
        n_items, dim = items.shape
        self.n_items = n_items
        self.exact = (n_items < EXACT_BELOW if exact is None else exact) and stored is None
        self.items = items.copy() if self.exact else None  # exact search reads its own copy; faiss has one
        self.index = None
        self.bound = 0.0
        """The norm bound of the lifted items (approximate index; see the module docstring)."""
        self.outgrown_ids = np.zeros(0, dtype=np.int64)
        """``(m,)`` the items refreshed past the bound, searched exactly."""
        self.outgrown = np.zeros((0, dim), dtype=np.float32)
        """``(m, d)`` their vectors."""
        if stored is not None:
            faiss = optional_import("faiss", _APPROXIMATE)
            self.index = faiss.deserialize_index(np.asarray(stored["index"], dtype=np.uint8))
            self.outgrown_ids, self.outgrown = stored["index_outgrown_ids"], stored["index_outgrown"]
            if (self.index.ntotal + self.outgrown_ids.size, self.index.d) != (n_items, dim + 1):
                raise ValueError(f"the stored index holds {self.index.ntotal + self.outgrown_ids.size} vectors "
                                 f"of width {self.index.d - 1}, not the {n_items} x {dim} items")
            self.index.nprobe, self.bound = nprobe, float(stored["index_bound"])
        elif not self.exact:
            faiss = optional_import("faiss", _APPROXIMATE)
            self.bound = NORM_HEADROOM * float(np.linalg.norm(items, axis=1).max(initial=0.0)) or 1.0
            lifted = self._lifted(items)
            n_lists = int(4 * np.sqrt(n_items))
            self.index = faiss.IndexIVFFlat(faiss.IndexFlatL2(dim + 1), dim + 1, n_lists, faiss.METRIC_L2)
            self.index.cp.seed = seed
            sample = np.random.default_rng(seed).choice(n_items, size=min(n_items, 64 * n_lists), replace=False)
            self.index.train(lifted[np.sort(sample)])
            self.index.add(lifted)
            self.index.nprobe = nprobe

    def _lifted(self, items: np.ndarray) -> np.ndarray:
        """``(m, d + 1)`` float32: ``items`` ``(m, d)`` within the bound, with ``sqrt(bound^2 - |x|^2)`` appended."""
        extra = np.sqrt(np.maximum(self.bound ** 2 - np.einsum("md,md->m", items, items), 0.0))
        return np.ascontiguousarray(np.column_stack([items, extra]), dtype=np.float32)

    def search(self, queries: np.ndarray, n: int) -> np.ndarray:
        """``(B, n)`` int64 item ids with the largest ``<query, item>`` per query, best first.

        Approximate search may return fewer than ``n`` hits for a query; the row is then padded with -1.
        """
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        n = min(n, self.n_items)
        if self.exact:

            return top_k(queries @ self.items.T, n)
        distances, hits = self.index.search(np.column_stack([queries, np.zeros(len(queries), np.float32)]), n)
        hits = hits.astype(np.int64, copy=False)
        if not self.outgrown_ids.size:
            return hits
        scores = np.where(hits >= 0, (np.einsum("bd,bd->b", queries, queries)[:, None] + self.bound ** 2
                                      - distances) / 2, -np.inf)
        scores = np.hstack([scores, queries @ self.outgrown.T])
        ids = np.hstack([hits, np.broadcast_to(self.outgrown_ids, (len(queries), self.outgrown_ids.size))])
        best = top_k(scores, n)
        return np.where(np.take_along_axis(scores, best, axis=1) > -np.inf, np.take_along_axis(ids, best, axis=1), -1)

    def refresh(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Replace the vectors of the distinct items ``ids`` ``(m,)`` with ``vectors`` ``(m, d)``: an agent
        whose item vectors learn keeps its index current for the items that changed (an approximate index
        files them anew, in the clusters nearest to their new vectors)."""
        ids = np.asarray(ids, dtype=np.int64)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if self.exact:
            self.items[ids] = vectors
            return
        self.index.remove_ids(ids)
        kept = ~np.isin(self.outgrown_ids, ids)
        over = np.einsum("md,md->m", vectors, vectors) > self.bound ** 2
        self.index.add_with_ids(self._lifted(vectors[~over]), ids[~over])
        self.outgrown_ids = np.concatenate([self.outgrown_ids[kept], ids[over]])
        self.outgrown = np.concatenate([self.outgrown[kept], vectors[over]])

    def stored(self) -> dict[str, np.ndarray] | None:
        """The approximate index as arrays for a checkpoint (the faiss index as ``(m,)`` uint8 bytes, the bound,
        the outgrown items); ``None`` for exact search."""
        if self.exact:
            return None
        return {"index": optional_import("faiss", _APPROXIMATE).serialize_index(self.index),
                "index_bound": np.array(self.bound), "index_outgrown_ids": self.outgrown_ids,
                "index_outgrown": self.outgrown}


def save_index(index: InnerProductIndex, directory: Path) -> None:
    """Write an approximate index into a checkpoint directory as ``index*.npy`` (an exact one needs nothing)."""
    stored = index.stored()
    if stored is not None:
        save_arrays(directory, **stored)


def load_index(items: np.ndarray, directory: Path, *, nprobe: int = 24) -> InnerProductIndex:
    """The index over ``items`` that :func:`save_index` wrote into ``directory``, or, when it wrote none, a
    new one (exact for a small catalogue)."""
    if not (Path(directory) / "index.npy").is_file():
        return InnerProductIndex(items, nprobe=nprobe)
    names = ("index", "index_bound", "index_outgrown_ids", "index_outgrown")
    return InnerProductIndex(items, nprobe=nprobe, stored=dict(zip(names, load_arrays(directory, *names))))


def unseen_candidates(index: InnerProductIndex, queries: np.ndarray, users: np.ndarray, seen: SeenItems, n: int
                      ) -> np.ndarray:
    """``(B, n)`` int64: per user, the ``n`` best retrieved items that are not in their set, best first.

    Retrieves ``2 n`` items per query, then, only for the users with fewer than ``n`` unseen ones among them,
    ``n`` plus their largest history, so that a history full of top items still leaves ``n`` unseen ones
    (searching every query that deep would make one long history slow down a whole batch). A row the index
    could not fill is padded with -1.
    """
    n = min(n, index.n_items)
    picked, short = _first_unseen(index.search(queries, min(2 * n, index.n_items)), users, seen, n)
    deeper = n + int(seen.sizes[users[short]].max(initial=0))
    if short.any() and deeper > 2 * n:
        picked[short] = _first_unseen(index.search(queries[short], deeper), users[short], seen, n)[0]
    return picked


def _first_unseen(hits: np.ndarray, users: np.ndarray, seen: SeenItems, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``(B, m)`` ``hits`` (-1: none), the first ``n`` not in the user's set (-1 pads), and whether
    fewer than ``n`` were found among real hits, i.e. a deeper search could find more."""
    valid = hits >= 0
    blocked = ~valid
    blocked[valid] = seen.contains(np.broadcast_to(users[:, None], hits.shape)[valid], hits[valid][:, None])[:, 0]
    first = np.argsort(blocked, axis=1, kind="stable")[:, :n]
    picked = np.where(np.take_along_axis(blocked, first, axis=1), -1, np.take_along_axis(hits, first, axis=1))
    short = ((~blocked).sum(axis=1) < n) & valid.all(axis=1)
    return picked, short
