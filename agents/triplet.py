"""``triplet``: a triplet margin model, learning from what each user clicked and what they passed over.

Model: ``s(u, i) = f(p_u, q_i) + b_i`` with user and item embeddings ``p_u``, ``q_i`` (``factors`` wide) and an
item bias ``b_i``. The scorer ``f`` is either the inner product ``<p_u, q_i>`` (``scorer="dot"``, the default)
or a one-hidden-layer MLP over the concatenation (``scorer="mlp"``):
``f = w_2 . relu(W_u p_u + W_i q_i + c_1)``, ``hidden`` units, as in the Keras "deep triplet" tutorial on
MovieLens. The MLP's weights are learnt in ``fit`` and then kept; online learning moves the embeddings and
biases only.

Loss, for a triplet (user u, preferred item i, other item j) of weight w::

    w * max(0, margin - s(u, i) + s(u, j))

Warm start (``fit``): every (user, clicked item) of the visible histories against ``negatives`` items drawn
uniformly per positive (mean over them), plus ``regularisation / 2 * (|p_u|^2 + |q_i|^2 + |q_j|^2)`` per
triplet; mini-batches, Adam (lazy on the embedding rows, :mod:`agents.helpers.adam`), one compiled
``tf.function``.

Online (``update``): ``online_steps`` plain SGD steps (NumPy, no optimiser state) on the same hinge, with
the triplets the env reveals:

- a click on c in slate S: ``(u, c, j)`` for every other shown item j, each of weight ``1 / (k - 1)`` (the
  user preferred c to each item beside it);
- a slate with no click: ``(u, r_j, j)`` for every shown item j, with ``r_j`` drawn uniformly from the
  catalogue, each of weight ``ignored_weight / k`` (the user preferred leaving to every shown item, so they
  should rank below an item picked at random).

Gradients, for an active triplet (hinge > 0), dot scorer: ``d/dp_u = w (q_j - q_i)``, ``d/dq_i = -w p_u``,
``d/dq_j = w p_u``, ``d/db_i = -w``, ``d/db_j = w``; an inactive triplet changes nothing. The MLP's are
``w (df/dp(u, j) - df/dp(u, i))`` and so on, with ``df/dp = W_u^T (w_2 * [z > 0])``.

With the dot scorer, ``queries(users) @ item_keys.T`` is the score (``[p_u, 1]`` against ``[q_i, b_i]``);
the MLP scorer has no such form and scores every item of a user's row (``n_items x hidden`` per user; fine
up to a few thousand items, slow at the datalab scale). TensorFlow (the ``[mf]`` extra) is used in ``fit``
only; everything after it is NumPy.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agents.helpers.adam import adam_updater
from agents.helpers.native_log import quiet_native_log, verbose
from agents.helpers.ranking import top_k_unseen_by_chunks
from recsim_lab.checkpoint import load_arrays, save_arrays
from recsim_lab.data import Dataset
from recsim_lab.data.seen import SeenItems
from recsim_lab.extras import optional_import, require
from recsim_lab.validation import check_choice, check_fields

_STATE = ("user_factors", "item_factors", "item_bias", "w_user", "w_item", "c_1", "w_2", "counters")
_CELLS = 1 << 22  # MLP scorer: at most this many hidden activations (users x items x hidden) at a time


@dataclass
class TripletAgent:
    """Triplet margin model: clicked item above the items passed over; see the module docstring."""

    factors: int = 32
    """Width of the user and item embeddings."""
    scorer: str = "dot"
    """``"dot"`` (inner product) or ``"mlp"`` (one hidden layer over the concatenated embeddings)."""
    hidden: int = 64
    """Hidden units of the MLP scorer."""
    margin: float = 1.0
    """Margin of the hinge."""
    epochs: int = 10
    """Passes over the initial histories in ``fit``."""
    learning_rate: float = 0.01
    """Adam step size in ``fit``."""
    regularisation: float = 1e-3
    """L2 weight on the embeddings of each triplet in the warm-start loss."""
    negatives: int = 4
    """Uniformly drawn negatives per positive in ``fit``."""
    batch_size: int = 512
    """Positives per mini-batch in ``fit``."""
    init_scale: float = 0.05
    """Standard deviation of the initial embeddings (biases start at 0)."""
    online_learning_rate: float = 0.05
    """SGD step size of ``update``."""
    online_steps: int = 1
    """SGD steps per ``update`` call."""
    ignored_weight: float = 0.3
    """Total weight of an ignored slate's triplets (0 ignores such slates; a click weighs 1; 0, 0.3 and 1
    measured on three worlds: ``benchmarks/README.md``)."""

    user_factors: np.ndarray | None = field(default=None, init=False, repr=False)
    """``(n_users, factors)`` float32 ``p_u``."""
    item_factors: np.ndarray | None = field(default=None, init=False, repr=False)
    """``(n_items, factors)`` float32 ``q_i``."""
    item_bias: np.ndarray | None = field(default=None, init=False, repr=False)
    """``(n_items,)`` float32 ``b_i``."""
    w_user: np.ndarray | None = field(default=None, init=False, repr=False)
    """``(factors, hidden)`` float32 ``W_u`` (the MLP scorer; empty for ``dot``)."""
    w_item: np.ndarray | None = field(default=None, init=False, repr=False)
    """``(factors, hidden)`` float32 ``W_i``."""
    c_1: np.ndarray | None = field(default=None, init=False, repr=False)
    """``(hidden,)`` float32 hidden bias."""
    w_2: np.ndarray | None = field(default=None, init=False, repr=False)
    """``(hidden,)`` float32 output weights."""
    counters: np.ndarray = field(default_factory=lambda: np.zeros(2, np.int64), init=False, repr=False)
    """``[seed, updates so far]``: the random positives of ignored slates follow these, so a restored agent
    learns exactly as the original would."""
    seen: SeenItems | None = field(default=None, init=False, repr=False)
    """Each user's known history: initial clicks and every click seen by ``update``."""

    def __post_init__(self) -> None:
        check_choice(self.scorer, "scorer", ("dot", "mlp"))
        check_fields(self, ("factors", "hidden", "negatives", "batch_size"), int, min_val=1)
        check_fields(self, ("epochs", "online_steps"), int, min_val=0)
        check_fields(self, ("learning_rate",), float, min_val=0.0, include_boundaries="neither")
        check_fields(self, ("margin", "regularisation", "init_scale", "online_learning_rate", "ignored_weight"),
                     float, min_val=0.0)
        if self.epochs:
            require("triplet", "tensorflow")

    # ------------------------------------------------------------------------------------------ fit

    def fit(self, data: Dataset, *, seed: int) -> None:
        """Warm-start on ``data.histories``; every random draw (online ones included) follows ``seed``."""
        init_rng, train_rng, online_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3))
        d, h = self.factors, self.hidden if self.scorer == "mlp" else 0

        def normal(*shape: int, scale: float = self.init_scale) -> np.ndarray:
            return (scale * init_rng.standard_normal(shape)).astype(np.float32)

        self.user_factors, self.item_factors = normal(data.n_users, d), normal(data.n_items, d)
        self.item_bias = np.zeros(data.n_items, np.float32)
        glorot = np.sqrt(2.0 / (2 * d + h)) if h else 0.0
        self.w_user, self.w_item = normal(d, h, scale=glorot), normal(d, h, scale=glorot)
        self.c_1 = np.zeros(h, np.float32)
        self.w_2 = normal(h, scale=np.sqrt(2.0 / (h + 1)) if h else 0.0)
        self.counters = np.array([online_rng.integers(2**62), 0], dtype=np.int64)
        self.seen = SeenItems.from_histories(data.histories, data.n_items)
        users = np.repeat(np.arange(data.n_users, dtype=np.int64), [x.size for x in data.histories])
        if users.size and self.epochs:
            self._train(users, np.concatenate(data.histories), train_rng)

    def _train(self, users: np.ndarray, items: np.ndarray, rng: np.random.Generator) -> None:
        """Warm-start epochs over the ``(n,)`` clicks ``(users[j], items[j])``, updating the state in place."""
        tf = _tensorflow()
        names = ["user_factors", "item_factors", "item_bias"] + (["w_user", "w_item", "c_1", "w_2"]
                                                                 if self.scorer == "mlp" else [])
        params = [tf.Variable(getattr(self, name)) for name in names]
        apply = adam_updater(tf, params, self.learning_rate)
        margin, regularisation, mlp = self.margin, self.regularisation, self.scorer == "mlp"
        ids = tf.TensorSpec([None], tf.int64)

        @tf.function(input_signature=[ids, ids, tf.TensorSpec([None, None], tf.int64)])
        def step(batch_users: Any, positives: Any, negatives: Any) -> Any:
            with tf.GradientTape() as tape:
                p = tf.gather(params[0], batch_users)  # (b, d)
                items_ = tf.concat([positives[:, None], negatives], axis=1)  # (b, 1 + n)
                q = tf.gather(params[1], items_)  # (b, 1 + n, d)
                if mlp:
                    w_user, w_item, c_1, w_2 = params[3:]
                    z = (tf.matmul(p, w_user)[:, None, :] + tf.einsum("bmd,dh->bmh", q, w_item) + c_1)
                    scores = tf.einsum("bmh,h->bm", tf.nn.relu(z), w_2)
                else:
                    scores = tf.einsum("bd,bmd->bm", p, q)
                scores += tf.gather(params[2], items_)
                hinge = tf.reduce_mean(tf.nn.relu(margin - scores[:, :1] + scores[:, 1:]), axis=1)
                penalty = tf.reduce_sum(p * p, axis=1) + tf.reduce_mean(
                    tf.reduce_sum(q[:, 1:] ** 2, axis=2), axis=1) + tf.reduce_sum(q[:, 0] ** 2, axis=1)
                loss = tf.reduce_mean(hinge + regularisation / 2 * penalty)
            apply(tape.gradient(loss, params))
            return loss

        n_items = self.item_factors.shape[0]
        for _ in range(self.epochs):
            order = rng.permutation(users.size)
            negatives = rng.integers(n_items, size=(users.size, self.negatives))
            for start in range(0, users.size, self.batch_size):
                batch = order[start:start + self.batch_size]
                step(users[batch], items[batch], negatives[batch])
        for name, param in zip(names, params):
            setattr(self, name, param.numpy())

    # ------------------------------------------------------------------------------------------ scoring

    def queries(self, users: np.ndarray) -> np.ndarray:
        """``(B, factors + 1)`` float32 ``[p_u, 1]`` (dot scorer): ``queries @ item_keys.T`` is the score."""
        self._check_dot()
        return np.column_stack([self.user_factors[users], np.ones(len(users), np.float32)])

    @property
    def item_keys(self) -> np.ndarray:
        """``(n_items, factors + 1)`` float32 ``[q_i, b_i]`` (dot scorer)."""
        self._check_dot()
        return np.column_stack([self.item_factors, self.item_bias])

    def scores(self, users: np.ndarray) -> np.ndarray:
        """``(B, n_items)`` float32 scores of every item (history included) for ``users`` ``(B,)``."""
        self._check_fitted()
        users = np.asarray(users, dtype=np.int64)
        if self.scorer == "dot":
            return self.user_factors[users] @ self.item_factors.T + self.item_bias
        hidden_items = self.item_factors @ self.w_item + self.c_1  # (n_items, hidden)
        hidden_users = self.user_factors[users] @ self.w_user  # (B, hidden)
        out = np.empty((users.size, hidden_items.shape[0]), dtype=np.float32)
        rows = max(1, _CELLS // hidden_items.size)
        for start in range(0, users.size, rows):
            z = hidden_users[start:start + rows, None, :] + hidden_items[None]
            out[start:start + rows] = np.maximum(z, 0.0) @ self.w_2
        return out + self.item_bias

    def recommend(self, users: np.ndarray, k: int) -> np.ndarray:
        """``(B, k)`` int64: each user's ``k`` best-scoring items outside their known history, best first."""
        self._check_fitted()
        cells = (1 << 23) if self.scorer == "dot" else _CELLS // max(self.hidden, 1) * 8
        return top_k_unseen_by_chunks(self.scores, np.asarray(users, dtype=np.int64), self.seen, k, cells=cells)

    # ------------------------------------------------------------------------------------------ online

    def update(self, users: np.ndarray, slates: np.ndarray, clicks: np.ndarray) -> None:
        """Learn from the triplets of the responses (module docstring) and add the clicks to the histories.

        Args:
            users: ``(B,)`` int64 user ids.
            slates: ``(B, k)`` int64 the slates they were shown.
            clicks: ``(B,)`` int64 the clicked item id, or -1 for no click.
        """
        self._check_fitted()
        users, slates, clicks = (np.asarray(a, dtype=np.int64) for a in (users, slates, clicks))
        if users.ndim != 1 or slates.ndim != 2 or slates.shape[0] != users.size or clicks.shape != users.shape:
            raise ValueError(f"need users (B,), slates (B, k) and clicks (B,); got shapes {users.shape}, "
                             f"{slates.shape} and {clicks.shape}")
        rng = np.random.default_rng(self.counters.tolist())
        k = slates.shape[1]
        clicked = clicks >= 0
        randoms = rng.integers(self.item_factors.shape[0], size=slates.shape)
        positives = np.where(clicked[:, None], clicks[:, None], randoms)  # (B, k)
        weights = np.where(clicked[:, None], 1.0 / max(k - 1, 1), self.ignored_weight / k).astype(np.float32)
        weights = np.broadcast_to(weights, slates.shape).copy()
        weights[slates == positives] = 0.0  # the clicked item itself (and a random draw of a shown item)
        live = weights > 0
        rows = np.broadcast_to(users[:, None], slates.shape)[live]
        for _ in range(self.online_steps):
            self._sgd(rows, positives[live], slates[live], weights[live])
        self.seen.add(users, clicks)
        self.counters[1] += 1

    def _sgd(self, users: np.ndarray, positives: np.ndarray, negatives: np.ndarray, weights: np.ndarray) -> None:
        """One SGD step on ``sum_t w_t max(0, margin - s(u_t, i_t) + s(u_t, j_t))`` over the ``(n,)`` triplets;
        repeated ids accumulate."""
        p, qi, qj = self.user_factors[users], self.item_factors[positives], self.item_factors[negatives]
        si, dpi, dqi = self._pair(p, qi)
        sj, dpj, dqj = self._pair(p, qj)
        active = (self.margin - (si + self.item_bias[positives]) + (sj + self.item_bias[negatives])) > 0
        w = (weights * active)[:, None]  # d loss / d s_j = w, d loss / d s_i = -w
        rate = self.online_learning_rate
        np.subtract.at(self.user_factors, users, rate * w * (dpj - dpi))
        np.subtract.at(self.item_factors, positives, rate * -w * dqi)
        np.subtract.at(self.item_factors, negatives, rate * w * dqj)
        np.subtract.at(self.item_bias, positives, rate * -w[:, 0])
        np.subtract.at(self.item_bias, negatives, rate * w[:, 0])

    def _pair(self, p: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``f(p, q)`` ``(n,)`` and its gradients ``df/dp``, ``df/dq`` ``(n, factors)`` for ``(n, factors)`` rows."""
        if self.scorer == "dot":
            return np.einsum("nd,nd->n", p, q), q, p
        z = p @ self.w_user + q @ self.w_item + self.c_1
        upstream = self.w_2 * (z > 0)  # (n, hidden) d f / d z
        return np.maximum(z, 0.0) @ self.w_2, upstream @ self.w_user.T, upstream @ self.w_item.T

    # ------------------------------------------------------------------------------------------ checkpoint

    def save(self, path: Path) -> None:
        """Write the embeddings, biases, MLP weights, online counters and histories as ``.npy`` files."""
        self._check_fitted()
        save_arrays(path, **{name: getattr(self, name) for name in _STATE})
        self.seen.save(path)

    def load(self, path: Path) -> None:
        """Restore exactly what :meth:`save` wrote (a freshly constructed agent needs no ``fit``)."""
        arrays = load_arrays(path, *_STATE)
        seen = SeenItems.load(path)
        if arrays[0].shape[0] != seen.n_users or arrays[1].shape[0] != seen.n_items:
            raise ValueError(f"checkpoint {path} is inconsistent: embeddings for {arrays[0].shape[0]} users and "
                             f"{arrays[1].shape[0]} items, histories for {seen.n_users} and {seen.n_items}")
        if arrays[0].shape[1] != self.factors or arrays[3].shape[1] != (self.hidden if self.scorer == "mlp" else 0):
            raise ValueError(f"checkpoint {path} does not match factors={self.factors}, scorer={self.scorer!r}, "
                             f"hidden={self.hidden}")
        for name, array in zip(_STATE, arrays):
            setattr(self, name, array)
        self.seen = seen

    def _check_fitted(self) -> None:
        if self.seen is None:
            raise RuntimeError("TripletAgent has no state yet: call fit() or load() first")

    def _check_dot(self) -> None:
        self._check_fitted()
        if self.scorer != "dot":
            raise AttributeError("queries and item_keys exist for scorer='dot' only (an MLP is not an inner product)")


def _tensorflow() -> Any:
    """The ``tensorflow`` module with its C++ start-up log silenced (as in :mod:`agents.funk_svd`)."""
    if not verbose():
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with quiet_native_log():
        return optional_import("tensorflow", "triplet")
