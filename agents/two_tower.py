"""``two_tower``: a two-tower retrieval model in TensorFlow, the standard first stage of large recommenders.

Item tower: ``k_i = E_i + t_i W_t`` (``factors`` wide), the item's id embedding ``E_i`` plus a learnt linear map
of its text embedding ``t_i`` (``item_texts()`` through :func:`agents.helpers.text_embeddings.embed_texts`,
projected onto ``text_dim`` principal directions, unit rows; ``text=False`` drops the term and the need for
the ``[text]`` extra), and an item bias ``b_i``. User tower: the mean ``x_u`` of the item vectors ``k_i`` of
the user's clicks, through a residual MLP, ``q_u = x_u + relu(x_u W_1 + c_1) W_2 + c_2`` (``hidden`` units).
Score: ``s(u, i) = <q_u, k_i> + b_i``, i.e. ``queries(users) @ item_keys.T`` with ``[q_u, 1]`` against
``[k_i, b_i]``, so recommendations come from the retrieval layer (:mod:`agents.helpers.retrieval`: exact
below 50,000 items, a faiss index above, built in ``fit`` and kept in the checkpoint).

Warm start (``fit``): every (user, clicked item t) of the visible histories is an example whose user input
is the mean over the user's *other* clicks (leave-one-out, so the tower learns to predict a held-back click,
not to copy its input). Loss: softmax cross-entropy of the target among the batch's targets (in-batch
negatives; a repeat of the target elsewhere in the batch is masked) and ``negatives`` items drawn uniformly
per batch (shared), plus ``regularisation / 2 * |E_t|^2``; Adam, lazy on embedding rows
(:mod:`agents.helpers.adam`), one compiled ``tf.function``.

Online (``update``), on the user side only:

- the click joins the history, so ``x_u`` (kept as a running sum and count) is refreshed: the query moves
  towards what was just clicked, through the trained tower;
- ``online_steps`` SGD steps on a per-user offset ``delta_u`` added to ``q_u``. After a click on c in slate
  S, the loss is the conditional logit of the click among the shown items,
  ``-log softmax_S(s)_c``, gradient ``sum_j pi_j k_j - k_c`` (``pi = softmax`` of the slate's scores); after a
  slate with no click, ``ignored_weight * sum_j pi_j k_j`` (pushing the query away from the shown items,
  most from those it ranked highest).

Why the user side only: the item keys stay fixed, so the index built over them in ``fit`` stays valid and
a step costs O(k x factors) per user, at any catalogue size; the item side was learnt from every user's
history in ``fit``, where one user's session adds little. TensorFlow (the ``[mf]`` extra) is used in
``fit`` only; everything after it is NumPy.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agents.helpers.adam import adam_updater
from agents.helpers.native_log import quiet_native_log, verbose
from agents.helpers.ranking import top_k_unseen
from agents.helpers.retrieval import InnerProductIndex, load_index, require_index, save_index, unseen_candidates
from agents.helpers.sentence_model import EncodeSettings
from agents.helpers.text_embeddings import cached_embeddings, projected, require_encoder
from recsim_lab.checkpoint import load_arrays, save_arrays
from recsim_lab.data import Dataset
from recsim_lab.data.seen import SeenItems
from recsim_lab.extras import optional_import, require
from recsim_lab.validation import check_fields

_STATE = ("item_keys", "w_1", "c_1", "w_2", "c_2", "history_sums", "history_counts", "offsets")


@dataclass
class TwoTowerAgent:
    """Two towers (click-history user tower, id + text item tower), in-batch softmax warm start, a
    user-side step per response; see the module docstring."""

    factors: int = 32
    """Width of the item vectors and queries."""
    hidden: int = 64
    """Hidden units of the user tower's MLP."""
    text: bool = True
    """Add the item's text embedding to its id embedding (needs the ``[text]`` extra unless ``encoder`` is a
    stand-in object)."""
    encoder: Any = None
    """``None`` (the packaged all-MiniLM-L6-v2), a local sentence-transformers model directory, or an object
    with ``encode(texts)`` (a stand-in, e.g. in tests)."""
    backend: str = "auto"
    """Embedding backend (see :mod:`agents.helpers.sentence_model`)."""
    cache_dir: str | None = None
    """Embedding cache directory; ``None``: ``$RECSIM_LAB_CACHE`` or ``~/.cache/recsim-lab/embeddings``."""
    text_dim: int | None = 64
    """Principal directions of the text embeddings kept (``None``: all)."""
    show_progress: bool = True
    """Show a progress bar while embedding."""
    epochs: int = 10
    """Passes over the initial histories in ``fit``."""
    learning_rate: float = 0.005
    """Adam step size in ``fit``."""
    batch_size: int = 256
    """Examples per mini-batch in ``fit`` (also the in-batch negatives)."""
    negatives: int = 256
    """Uniformly drawn negatives shared by each mini-batch in ``fit``, besides the in-batch ones."""
    regularisation: float = 1e-4
    """L2 weight on the target's id embedding in the warm-start loss."""
    init_scale: float = 0.05
    """Standard deviation of the initial embeddings and weights."""
    online_learning_rate: float = 0.5
    """SGD step size on the user offsets in ``update`` (0.1, 0.5, 1 and 2 measured on three worlds:
    ``benchmarks/README.md``)."""
    online_steps: int = 1
    """SGD steps per ``update`` call."""
    ignored_weight: float = 1.0
    """Weight of a slate with no click in the online loss (0 ignores such slates; a click weighs 1)."""
    nprobe: int = 24
    """Clusters scanned per query by the approximate index (50,000 items or more)."""

    item_keys: np.ndarray | None = field(default=None, init=False, repr=False)
    """``(n_items, factors + 1)`` float32 ``[k_i, b_i]`` (fixed after ``fit``)."""
    w_1: np.ndarray | None = field(default=None, init=False, repr=False)
    """``(factors, hidden)`` float32 user tower, first layer."""
    c_1: np.ndarray | None = field(default=None, init=False, repr=False)
    """``(hidden,)`` float32."""
    w_2: np.ndarray | None = field(default=None, init=False, repr=False)
    """``(hidden, factors)`` float32 user tower, second layer."""
    c_2: np.ndarray | None = field(default=None, init=False, repr=False)
    """``(factors,)`` float32."""
    history_sums: np.ndarray | None = field(default=None, init=False, repr=False)
    """``(n_users, factors)`` float32 sum of ``k_i`` over each user's clicks."""
    history_counts: np.ndarray | None = field(default=None, init=False, repr=False)
    """``(n_users,)`` float32 number of clicks summed."""
    offsets: np.ndarray | None = field(default=None, init=False, repr=False)
    """``(n_users, factors)`` float32 ``delta_u``, learnt online (0 after ``fit``)."""
    seen: SeenItems | None = field(default=None, init=False, repr=False)
    """Each user's known history: initial clicks and every click seen by ``update``."""
    index: InnerProductIndex | None = field(default=None, init=False, repr=False)
    """Inner-product index over ``item_keys``."""

    def __post_init__(self) -> None:
        check_fields(self, ("factors", "hidden", "batch_size", "nprobe"), int, min_val=1)
        check_fields(self, ("epochs", "online_steps", "negatives"), int, min_val=0)
        check_fields(self, ("text_dim",), int, min_val=1, allow_none=True)
        check_fields(self, ("cache_dir",), (str, os.PathLike), allow_none=True)
        check_fields(self, ("text", "show_progress"), bool)
        check_fields(self, ("learning_rate",), float, min_val=0.0, include_boundaries="neither")
        check_fields(self, ("regularisation", "init_scale", "online_learning_rate", "ignored_weight"), float,
                     min_val=0.0)
        EncodeSettings(backend=self.backend)  # validates the name
        if self.text:
            require_encoder(self.encoder, "two_tower with text=True")
        if self.epochs:
            require("two_tower", "tensorflow")

    # ------------------------------------------------------------------------------------------ fit

    def fit(self, data: Dataset, *, seed: int) -> None:
        """Embed the item texts (``text=True``) and train both towers on ``data.histories``."""
        init_rng, train_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
        require_index(data.n_items)
        d, h, n_items = self.factors, self.hidden, data.n_items
        texts = np.zeros((n_items, 0), np.float32)
        if self.text:
            cached = cached_embeddings(data.item_texts(), encoder=self.encoder,
                                       settings=EncodeSettings(backend=self.backend), cache_dir=self.cache_dir,
                                       show_progress=self.show_progress)
            texts = projected(cached.embeddings, self.text_dim)

        def normal(*shape: int) -> np.ndarray:
            return (self.init_scale * init_rng.standard_normal(shape)).astype(np.float32)

        weights = {"ids": normal(n_items, d), "text_map": normal(texts.shape[1], d),
                   "bias": np.zeros(n_items, np.float32), "w_1": normal(d, h), "c_1": np.zeros(h, np.float32),
                   "w_2": normal(h, d), "c_2": np.zeros(d, np.float32)}
        users = np.repeat(np.arange(data.n_users, dtype=np.int64), [x.size for x in data.histories])
        if users.size and self.epochs:
            self._train(weights, texts, data.histories, users, train_rng)
        self.item_keys = np.column_stack([weights["ids"] + texts @ weights["text_map"], weights["bias"]])
        self.w_1, self.c_1, self.w_2, self.c_2 = (weights[name] for name in ("w_1", "c_1", "w_2", "c_2"))
        self.history_sums = np.zeros((data.n_users, d), np.float32)
        for user, history in enumerate(data.histories):
            self.history_sums[user] = self.item_keys[history, :-1].sum(axis=0)
        self.history_counts = np.array([x.size for x in data.histories], dtype=np.float32)
        self.offsets = np.zeros((data.n_users, d), np.float32)
        self.seen = SeenItems.from_histories(data.histories, data.n_items)
        self.index = InnerProductIndex(self.item_keys, nprobe=self.nprobe, seed=seed)

    def _train(self, weights: dict[str, np.ndarray], texts: np.ndarray, histories: list[np.ndarray],
               users: np.ndarray, rng: np.random.Generator) -> None:
        """Warm-start epochs (module docstring) over every ``(users[j], click)``; updates ``weights`` in place."""
        tf = _tensorflow()
        names = list(weights)
        params = [tf.Variable(weights[name]) for name in names]
        ids, text_map, bias, w_1, c_1, w_2, c_2 = params
        apply = adam_updater(tf, params, self.learning_rate)
        text_table = tf.constant(texts)
        lengths = np.array([x.size for x in histories], dtype=np.int64)
        ragged = tf.RaggedTensor.from_row_lengths(tf.constant(np.concatenate(histories)), tf.constant(lengths))
        counts = tf.constant(lengths.astype(np.float32))
        regularisation = self.regularisation
        spec = tf.TensorSpec([None], tf.int64)

        def keys(items: Any) -> Any:
            return tf.gather(ids, items) + tf.matmul(tf.gather(text_table, items), text_map)

        @tf.function(input_signature=[spec, spec, spec])
        def step(batch_users: Any, targets: Any, sampled: Any) -> Any:
            with tf.GradientTape() as tape:
                rows = tf.gather(ragged, batch_users)
                sums = tf.math.unsorted_segment_sum(keys(rows.flat_values), rows.value_rowids(),
                                                    tf.shape(batch_users)[0])
                target_keys = keys(targets)
                others = tf.maximum(tf.gather(counts, batch_users) - 1.0, 1.0)[:, None]
                x = (sums - target_keys) / others  # leave-one-out mean of the other clicks
                query = x + tf.matmul(tf.nn.relu(tf.matmul(x, w_1) + c_1), w_2) + c_2
                candidates = tf.concat([targets, sampled], axis=0)
                logits = tf.matmul(query, tf.concat([target_keys, keys(sampled)], axis=0), transpose_b=True)
                logits += tf.gather(bias, candidates)
                size = tf.shape(targets)[0]
                clash = tf.equal(targets[:, None], candidates[None, :]) & ~tf.eye(
                    size, tf.shape(candidates)[0], dtype=tf.bool)
                logits = tf.where(clash, tf.constant(-1e9, logits.dtype), logits)
                loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(tf.range(size), logits))
                loss += regularisation / 2 * tf.reduce_mean(tf.reduce_sum(tf.gather(ids, targets) ** 2, axis=1))
            apply(tape.gradient(loss, params))
            return loss

        items = np.concatenate(histories)
        n_items = ids.shape[0]
        for _ in range(self.epochs):
            order = rng.permutation(users.size)
            for start in range(0, users.size, self.batch_size):
                batch = order[start:start + self.batch_size]
                step(users[batch], items[batch], rng.integers(n_items, size=self.negatives))
        for name, param in zip(names, params):
            weights[name] = param.numpy()

    # ------------------------------------------------------------------------------------------ scoring

    def queries(self, users: np.ndarray) -> np.ndarray:
        """``(B, factors + 1)`` float32 ``[q_u + delta_u, 1]``: ``queries @ item_keys.T`` is the score."""
        self._check_fitted()
        users = np.asarray(users, dtype=np.int64)
        x = self.history_sums[users] / np.maximum(self.history_counts[users], 1.0)[:, None]
        query = x + np.maximum(x @ self.w_1 + self.c_1, 0.0) @ self.w_2 + self.c_2 + self.offsets[users]
        return np.column_stack([query, np.ones(users.size, np.float32)]).astype(np.float32, copy=False)

    def scores(self, users: np.ndarray) -> np.ndarray:
        """``(B, n_items)`` float32 scores of every item (history included) for ``users`` ``(B,)``."""
        return self.queries(users) @ self.item_keys.T

    def recommend(self, users: np.ndarray, k: int) -> np.ndarray:
        """``(B, k)`` int64: each user's ``k`` best items outside their known history, retrieved by the index."""
        self._check_fitted()
        users = np.asarray(users, dtype=np.int64)
        slates = unseen_candidates(self.index, self.queries(users), users, self.seen, k)
        short = (slates < 0).any(axis=1)  # an approximate index can come back short: score those rows fully
        if short.any():
            slates[short] = top_k_unseen(self.scores(users[short]), users[short], self.seen, k)
        return slates

    # ------------------------------------------------------------------------------------------ online

    def update(self, users: np.ndarray, slates: np.ndarray, clicks: np.ndarray) -> None:
        """Step the user offsets on the slate's conditional logit, then add the clicks to the histories.

        Args:
            users: ``(B,)`` int64 distinct user ids.
            slates: ``(B, k)`` int64 the slates they were shown.
            clicks: ``(B,)`` int64 the clicked item id, or -1 for no click.
        """
        self._check_fitted()
        users, slates, clicks = (np.asarray(a, dtype=np.int64) for a in (users, slates, clicks))
        if users.ndim != 1 or slates.ndim != 2 or slates.shape[0] != users.size or clicks.shape != users.shape:
            raise ValueError(f"need users (B,), slates (B, k) and clicks (B,); got shapes {users.shape}, "
                             f"{slates.shape} and {clicks.shape}")
        keys = self.item_keys[slates]  # (B, k, factors + 1)
        clicked = clicks >= 0
        target = (slates == clicks[:, None]).astype(np.float32)  # (B, k) one-hot of the click, or all 0
        weight = np.where(clicked, 1.0, self.ignored_weight).astype(np.float32)[:, None]
        for _ in range(self.online_steps):
            logits = np.einsum("bd,bkd->bk", self.queries(users), keys)
            shares = np.exp(logits - logits.max(axis=1, keepdims=True))
            shares /= shares.sum(axis=1, keepdims=True)
            grad = np.einsum("bk,bkd->bd", weight * (shares - target), keys[:, :, :-1])
            np.subtract.at(self.offsets, users, self.online_learning_rate * grad)
        live = users[clicked]
        np.add.at(self.history_sums, live, self.item_keys[clicks[clicked], :-1])
        np.add.at(self.history_counts, live, 1.0)
        self.seen.add(users, clicks)

    # ------------------------------------------------------------------------------------------ checkpoint

    def save(self, path: Path) -> None:
        """Write the item keys, the user tower, the pooled histories, the offsets, the histories and (above
        50,000 items) the approximate index into ``path``."""
        self._check_fitted()
        save_arrays(path, **{name: getattr(self, name) for name in _STATE})
        self.seen.save(path)
        save_index(self.index, path)

    def load(self, path: Path) -> None:
        """Restore exactly what :meth:`save` wrote (a freshly constructed agent needs no ``fit``)."""
        arrays = load_arrays(path, *_STATE)
        seen = SeenItems.load(path)
        if arrays[0].shape[0] != seen.n_items or arrays[5].shape[0] != seen.n_users:
            raise ValueError(f"checkpoint {path} is inconsistent: keys for {arrays[0].shape[0]} items and "
                             f"histories for {seen.n_items}")
        if arrays[0].shape[1] != self.factors + 1 or arrays[1].shape[1] != self.hidden:
            raise ValueError(f"checkpoint {path} does not match factors={self.factors}, hidden={self.hidden}")
        for name, array in zip(_STATE, arrays):
            setattr(self, name, array)
        self.seen = seen
        self.index = load_index(self.item_keys, path, nprobe=self.nprobe)

    def _check_fitted(self) -> None:
        if self.seen is None:
            raise RuntimeError("TwoTowerAgent has no state yet: call fit() or load() first")


def _tensorflow() -> Any:
    """The ``tensorflow`` module with its C++ start-up log silenced (as in :mod:`agents.funk_svd`)."""
    if not verbose():
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with quiet_native_log():
        return optional_import("tensorflow", "two_tower")
