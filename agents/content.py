"""``content``: the items whose text is most similar to what the user clicked, by sentence embeddings.

Items are embedded once (``headline + " " + short_description`` through
:func:`agents.helpers.text_embeddings.embed_texts`: all-MiniLM-L6-v2 by default, cached on disk), projected onto
their ``dim`` (128) leading principal directions and scaled to unit length. Each user has a *profile* in the
same space, and a slate is the ``k`` items of highest score outside the user's history, where the score is
the cosine between profile and item, plus a popularity prior, less two penalties learnt from the session's
feedback.

- **Profile**: a recency-weighted sum of the embeddings of the user's clicks. Over the last
  ``history_size`` clicks of the initial history the most recent weighs 1, the one before ``decay``, then
  ``decay**2`` and so on. A click multiplies the profile by ``decay`` and adds the clicked item (the same
  weighting, continued); a slate the user ignored subtracts ``negative_weight`` times the mean of its items
  (in units of one click), pushing the profile away from what did not appeal. Only the profile's direction
  matters. A user with no clicks at all gets the mean direction of everyone's profile.
- **Penalties**: an item shown in a slate the user ignored loses ``ignore_penalty``; an item of a clicked
  slate that the user passed over loses ``passed_penalty``. Under the DataLab choice rule the same slate
  draws the same click chances every time, so re-showing what was just ignored wastes the user's patience.
- **Popularity prior**: ``prior_weight * log(1 + clicks_i) / log(1 + most clicks of an item at fit)``, the
  clicks counted over the histories and every click of the session (of all users). Where texts say little
  about taste (MovieLens titles, or noise), the cosine alone ranked below the popularity agent; with the
  prior, content never did on the world suite. ``popularity_weight=None`` (the default) chooses the weight
  in ``fit`` among :data:`PRIOR_WEIGHTS`, by replaying sessions against the last part of each history
  (:mod:`agents.helpers.holdout`); the checkpoint keeps the choice.

``queries(users) @ item_keys.T`` is the cosine plus the prior (``[profile, prior_weight]`` against
``[embedding, prior]``), and ``scores(users)`` ``(B, n_items)`` and ``scores_of(users, items)`` the scores
with penalties, for blending (:mod:`agents.hybrid`).

The projection to ``dim`` dimensions makes every product over the catalogue narrower (3x at 128 of 384)
at no measured cost in score. The defaults were chosen by measurement on the default world: the tables
(variants of the profile and the penalties, multi-interest and MMR re-ranking, the projection's recall and
score) are in ``benchmarks/README.md``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from agents.helpers.holdout import choose_in_fit
from agents.helpers.ranking import top_k_unseen_by_chunks
from agents.helpers.retrieval import FULL_ROW_ITEMS
from agents.helpers.sentence_model import EncodeSettings
from agents.helpers.text_embeddings import cached_embeddings, l2_normalised, projected, require_encoder
from recsim_lab.checkpoint import load_arrays, load_json, save_arrays, save_json
from recsim_lab.data import Dataset
from recsim_lab.data.seen import SeenItems
from recsim_lab.validation import check_fields

_FORMAT = 2
_META = "content.json"

PRIOR_WEIGHTS = (0.0, 0.1, 0.3, 0.5, 1.0, 2.0)
"""The popularity prior's weights compared in ``fit`` (``popularity_weight=None``), in order of preference
among ties: the cosine lies in [-1, 1] and the prior in [0, 1] (the most clicked item at 1)."""
DEFAULT_PRIOR_WEIGHT = 0.5
"""The weight used when no history is long enough to hold clicks out (the one chosen most often on the world
suite)."""


@dataclass
class ContentAgent:
    """Cosine between item text embeddings and a recency-weighted profile of each user's clicks, plus a
    popularity prior, less penalties for items the user ignored or passed over in this session (see the
    module docstring)."""

    CHOSEN_IN_FIT: ClassVar[dict[str, str]] = {"popularity_weight": "prior_weight"}
    """The options that ``fit`` chooses when they are ``None``, each with the attribute that holds the choice:
    a caller that fits the agent on part of the data and then on all of it (:class:`~agents.hybrid.HybridAgent`)
    may give it the first choice for the second fit."""

    encoder: Any = None
    """``None`` (the packaged all-MiniLM-L6-v2), the path of a local sentence-transformers model directory,
    or an object with ``encode(texts) -> (n, dim) array`` (a stand-in, e.g. in tests)."""
    backend: str = "auto"
    """Embedding backend: ``"auto"``, ``"torch"``, ``"openvino"`` or ``"openvino-int8"`` (see
    :mod:`agents.helpers.sentence_model`)."""
    cache_dir: str | None = None
    """Embedding cache directory; ``None``: ``$RECSIM_LAB_CACHE`` or ``~/.cache/recsim-lab/embeddings``."""
    history_size: int = 50
    """How many of the most recent clicks of the initial history form the profile."""
    decay: float = 0.95
    """Weight ratio between a click and the next more recent one (1: plain sum, 0: last click only)."""
    negative_weight: float = 0.3
    """How far an ignored slate pushes the profile away from the mean of its items (0: not at all)."""
    ignore_penalty: float = 1.0
    """Score taken off every item of a slate the user ignored (1 or more: effectively never shown again)."""
    passed_penalty: float = 0.1
    """Score taken off the items of a clicked slate that the user did not click."""
    dim: int | None = 128
    """Width of the vectors scored: the embeddings projected onto their ``dim`` leading principal directions
    (uncentred) and scaled back to unit length; ``None`` (or the encoder's width or more) keeps them whole."""
    popularity_weight: float | None = None
    """Weight of the item's popularity prior in the score (0: cosine only); ``None``: chosen in ``fit`` among
    :data:`PRIOR_WEIGHTS` (see the module docstring)."""
    holdout: float = 0.2
    """Share of each user's history held out to choose the prior's weight (``popularity_weight=None``)."""
    show_progress: bool = True
    """Show a progress bar while embedding."""

    item_keys: np.ndarray = field(default_factory=lambda: np.zeros((0, 1), np.float32), init=False, repr=False)
    """``(n_items, dim + 1)`` float32 ``[embedding, prior]`` per item: the (projected) unit text embedding and
    the popularity prior; ``scores = queries(users) @ item_keys.T`` less the penalties (what
    :class:`agents.hybrid.HybridAgent` retrieves with at large catalogues)."""
    profiles: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32), init=False, repr=False)
    """``(n_users, dim)`` float32 unnormalised profiles."""
    counts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64), init=False, repr=False)
    """``(n_items,)`` int64 clicks per item: the histories' and every click since."""
    prior_weight: float = field(default=0.0, init=False, repr=False)
    """The popularity prior's weight in use: ``popularity_weight``, or the one chosen in ``fit``."""
    popularity_unit: float = field(default=0.0, init=False, repr=False)
    """``1 / log(1 + most clicks of an item at fit)`` (0 when the histories are empty): the most clicked
    item starts at prior 1."""
    fallback: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32), init=False, repr=False)
    """``(dim,)`` unit profile for users without clicks: the mean direction of all profiles."""
    seen: SeenItems | None = field(default=None, init=False, repr=False)
    ignored: SeenItems | None = field(default=None, init=False, repr=False)
    passed: SeenItems | None = field(default=None, init=False, repr=False)
    embedding_key: str = field(default="", init=False, repr=False)
    """Cache key of the item embeddings (:func:`agents.helpers.text_embeddings.cache_key`), for provenance."""

    def __post_init__(self) -> None:
        EncodeSettings(backend=self.backend)  # validates the name
        check_fields(self, ("cache_dir",), (str, os.PathLike), allow_none=True)
        check_fields(self, ("history_size",), int, min_val=1)
        check_fields(self, ("dim",), int, min_val=1, allow_none=True)
        check_fields(self, ("decay",), float, min_val=0.0, max_val=1.0)
        check_fields(self, ("negative_weight", "ignore_penalty", "passed_penalty"), float, min_val=0.0)
        check_fields(self, ("popularity_weight",), float, min_val=0.0, allow_none=True)
        check_fields(self, ("holdout",), float, min_val=0.0, max_val=1.0, include_boundaries="neither")
        check_fields(self, ("show_progress",), bool)
        require_encoder(self.encoder, "content")

    # ------------------------------------------------------------------------------------------ protocol

    def fit(self, data: Dataset, *, seed: int) -> None:
        """Embed the items (through the cache), choose the popularity prior's weight unless it is given
        (:mod:`agents.helpers.holdout`: profiles from each history less its last ``holdout`` share, then
        the weight of :data:`PRIOR_WEIGHTS` whose replayed sessions click most of the held-out items), and build every
        user's profile from their whole history. ``seed`` only draws the users compared (large populations).
        """
        cached = cached_embeddings(data.item_texts(), encoder=self.encoder,
                                   settings=EncodeSettings(backend=self.backend), cache_dir=self.cache_dir,
                                   show_progress=self.show_progress)
        embeddings = projected(cached.embeddings, self.dim)
        self.item_keys = np.zeros((embeddings.shape[0], embeddings.shape[1] + 1), dtype=np.float32)
        self.item_keys[:, :-1] = embeddings
        self.embedding_key = cached.key
        self.prior_weight = DEFAULT_PRIOR_WEIGHT if self.popularity_weight is None else self.popularity_weight
        if self.popularity_weight is None:
            self.prior_weight, _ = choose_in_fit(self, data, self.holdout, seed, self._start, "prior_weight",
                                                 PRIOR_WEIGHTS, default=DEFAULT_PRIOR_WEIGHT)
        self._start(data)

    def _start(self, data: Dataset) -> None:
        """Profiles, click counts and item sets from ``data``'s histories, before any session feedback."""
        embeddings = self.item_embeddings
        self.profiles = np.zeros((data.n_users, embeddings.shape[1]), dtype=np.float32)
        for user, history in enumerate(data.histories):
            recent = history[-self.history_size:]
            if recent.size:
                weights = (self.decay ** np.arange(recent.size - 1, -1, -1, dtype=np.float64)).astype(np.float32)
                self.profiles[user] = weights @ embeddings[recent]
        self.fallback = l2_normalised(l2_normalised(self.profiles).sum(axis=0))
        self.counts = data.click_counts()
        most = int(self.counts.max(initial=0))
        self.popularity_unit = 1.0 / np.log1p(most) if most else 0.0
        self.item_keys[:, -1] = self.popularity_unit * np.log1p(self.counts)
        self.seen = SeenItems.from_histories(data.histories, data.n_items)
        self.ignored = SeenItems(data.n_users, data.n_items)
        self.passed = SeenItems(data.n_users, data.n_items)

    @property
    def item_embeddings(self) -> np.ndarray:
        """``(n_items, dim)`` float32 unit rows: the (projected) text embeddings (a view of ``item_keys``)."""
        return self.item_keys[:, :-1]

    @property
    def popularity(self) -> np.ndarray:
        """``(n_items,)`` float32 the prior ``popularity_unit * log(1 + counts)`` (a view of ``item_keys``)."""
        return self.item_keys[:, -1]

    def queries(self, users: np.ndarray) -> np.ndarray:
        """``(B, dim + 1)`` float32: unit profiles of ``users`` (users without clicks get the fallback
        direction) and ``prior_weight``."""
        return np.column_stack([self._profiles(users), np.full(len(users), self.prior_weight, np.float32)])

    def _profiles(self, users: np.ndarray) -> np.ndarray:
        """``(B, dim)`` float32 unit profiles of ``users``; users without clicks get the fallback direction."""
        queries = l2_normalised(self.profiles[np.asarray(users, dtype=np.int64)])
        cold = ~queries.any(axis=1)
        if cold.any():
            queries[cold] = self.fallback
        return queries

    def scores(self, users: np.ndarray) -> np.ndarray:
        """``(B, n_items)`` float32: cosine between each user's profile and every item plus the weighted prior,
        less the penalties for items ignored or passed over in this session. History items are not masked."""
        users = np.asarray(users, dtype=np.int64)
        scores = self.queries(users) @ self.item_keys.T
        for penalty, shown in ((self.ignore_penalty, self.ignored), (self.passed_penalty, self.passed)):
            if penalty and shown.sizes[users].any():
                np.subtract(scores, np.float32(penalty), out=scores, where=shown.dense(users))
        return scores

    def scores_of(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """``(B, C)`` float32 :meth:`scores` of ``items[b, c]`` for ``users[b]``, or of shared ``(C,)`` items."""
        users = np.asarray(users, dtype=np.int64)
        queries = self.queries(users)
        if items.ndim == 1:
            scores = queries @ self.item_keys[items].T
            items = np.broadcast_to(items, scores.shape)
        elif self.item_keys.shape[0] <= FULL_ROW_ITEMS:  # a full row by BLAS beats gathering (B, C, d)
            scores = np.take_along_axis(queries @ self.item_keys.T, items, axis=1)
        else:
            scores = np.einsum("bd,bcd->bc", queries, self.item_keys[items])
        for penalty, shown in ((self.ignore_penalty, self.ignored), (self.passed_penalty, self.passed)):
            if penalty:
                scores -= np.float32(penalty) * shown.contains(users, items)
        return scores

    def recommend(self, users: np.ndarray, k: int) -> np.ndarray:
        return top_k_unseen_by_chunks(self.scores, np.asarray(users, dtype=np.int64), self.seen, k)

    def update(self, users: np.ndarray, slates: np.ndarray, clicks: np.ndarray) -> None:
        """Profiles follow clicks and move away from ignored slates; shown items are remembered."""
        users = np.asarray(users, dtype=np.int64)
        slates = np.asarray(slates, dtype=np.int64)
        clicks = np.asarray(clicks, dtype=np.int64)
        if np.unique(users).size != users.size:  # a user twice in one batch: apply the responses in order
            for row in range(users.size):
                self.update(users[row:row + 1], slates[row:row + 1], clicks[row:row + 1])
            return
        clicked = clicks >= 0
        if clicked.any():
            np.add.at(self.counts, clicks[clicked], 1)
            self.item_keys[clicks[clicked], -1] = self.popularity_unit * np.log1p(self.counts[clicks[clicked]])
            who = users[clicked]
            self.profiles[who] = self.decay * self.profiles[who] + self.item_embeddings[clicks[clicked]]
            passed = slates[clicked]
            passed = np.where(passed == clicks[clicked, None], -1, passed)  # -1 entries are skipped
            self.passed.add(np.repeat(who, passed.shape[1]), passed.reshape(-1))
        if (~clicked).any():
            who, ignored = users[~clicked], slates[~clicked]
            if self.negative_weight:
                self.profiles[who] -= np.float32(self.negative_weight) * self.item_embeddings[ignored].mean(axis=1)
            self.ignored.add(np.repeat(who, ignored.shape[1]), ignored.reshape(-1))
        self.seen.add(users, clicks)

    def save(self, path: Path) -> None:
        """Write profiles, the history set, the ignored and passed-over (user, item) pairs, the click counts and
        the item keys (projected embeddings and prior): the checkpoint stands alone. ``content.json`` records
        the cache key, the prior's unit and its weight."""
        path = Path(path)
        save_arrays(path, profiles=self.profiles, fallback=self.fallback, item_keys=self.item_keys,
                    ignored_pairs=_pairs(self.ignored), passed_pairs=_pairs(self.passed), counts=self.counts)
        self.seen.save(path)
        save_json(path / _META, {"format": _FORMAT, "embedding_key": self.embedding_key,
                                 "popularity_unit": self.popularity_unit, "prior_weight": self.prior_weight,
                                 "n_items": int(self.item_embeddings.shape[0]),
                                 "dim": int(self.item_embeddings.shape[1])})

    def load(self, path: Path) -> None:
        """Restore exactly what :meth:`save` wrote; no encoder or cache is needed."""
        path = Path(path)
        if not (path / _META).is_file():
            raise FileNotFoundError(f"checkpoint {path} has no {_META}; was it written by ContentAgent?")
        meta = load_json(path / _META)
        if meta.get("format") != _FORMAT:
            raise ValueError(f"checkpoint {path} has content format {meta.get('format')!r}; this agent reads "
                             f"format {_FORMAT}")
        profiles, fallback, keys, ignored, passed, counts = load_arrays(
            path, "profiles", "fallback", "item_keys", "ignored_pairs", "passed_pairs", "counts")
        seen = SeenItems.load(path)
        ignored, passed = _from_pairs(ignored, seen), _from_pairs(passed, seen)
        n_items, dim = keys.shape[0], keys.shape[1] - 1
        if (profiles.shape[1] != dim or seen.n_items != n_items or (meta["n_items"], meta["dim"]) != (n_items, dim)
                or counts.shape != (n_items,)):
            raise ValueError(f"checkpoint {path} is inconsistent: item keys {keys.shape}, profiles "
                             f"{profiles.shape}, {seen.n_items} items in the history sets, {counts.shape} counts")
        self.profiles, self.fallback, self.item_keys = profiles, fallback, keys
        self.seen, self.ignored, self.passed = seen, ignored, passed
        self.counts, self.popularity_unit = counts, float(meta["popularity_unit"])
        self.prior_weight = float(meta["prior_weight"])
        self.embedding_key = meta["embedding_key"]


def _pairs(items: SeenItems) -> np.ndarray:
    """``(m, 2)`` int64 ``(user, item)`` rows of a sparse item set, sorted: far smaller than its bitset."""
    users, columns = np.nonzero(items.bits)
    bits = np.unpackbits(items.bits[users, columns][:, None], axis=1, bitorder="little")
    row, bit = np.nonzero(bits)
    return np.stack([users[row], columns[row] * 8 + bit], axis=1).astype(np.int64)


def _from_pairs(pairs: np.ndarray, like: SeenItems) -> SeenItems:
    """The item set of :func:`_pairs` rows, over ``like``'s users and items."""
    if pairs.ndim != 2 or pairs.shape[1] != 2 or (pairs.size and (pairs.min() < 0 or pairs[:, 0].max() >= like.n_users
                                                                  or pairs[:, 1].max() >= like.n_items)):
        raise ValueError(f"checkpoint item pairs of shape {pairs.shape} do not fit {like.n_users} users x "
                         f"{like.n_items} items")
    items = SeenItems(like.n_users, like.n_items)
    items.add(pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64))
    return items


__all__ = ["ContentAgent"]
