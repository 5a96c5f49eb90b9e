"""``funk_svd``: matrix factorisation (FunkSVD), warm-started with BPR in TensorFlow, learning from every response.

Model: ``score(u, i) = <p_u, q_i> + b_i + b_u``. The item side is kept as one key matrix ``item_keys`` with
``[q_i, b_i]`` per row, so that ``<[p_u, 1], [q_i, b_i]>`` (:meth:`FunkSVDAgent.queries`) serves scoring,
retrieval (the hybrid's index) and learning; the user bias ``b_u`` does not change a user's ranking, only
the calibration that the online logistic loss needs.

Warm start (``fit``): BPR on every (user, clicked item) of the visible histories against ``negatives`` items
drawn uniformly per positive, ``sum_j softplus(s_uj - s_ui)``, plus ``regularisation / 2 * (|p_u|^2 +
|q_i|^2)`` for every score ``s_ui`` in the loss; mini-batches, lazy (row-sparse) Adam, one compiled
``tf.function``. BPR was chosen over a logistic and a focal warm-start loss by measurement (the table is in
``benchmarks/README.md``).

Online (``update``): ``online_steps`` plain SGD steps (no optimizer state to checkpoint) on the negative
log-likelihood of each response under the conditional logit of the slate, the form of the simulator's choice
rule: item ``j`` of a slate is clicked with probability ``exp(s_j) / (1 + sum_i exp(s_i))`` and nothing with
``1 / (1 + sum_i exp(s_i))`` (the no-click option scores 0; the user bias ``b_u`` learns where a user's
scores stand against it), plus ``online_regularisation / 2 * (|p_u|^2 + |q_i|^2)`` per shown item. The
gradient with respect to ``s_i`` is ``P_i - [i clicked]``: a click raises the clicked item against the
items passed over beside it, and an ignored slate lowers every item by its share of the click probability,
so the items that looked best lose most. Each user's row steps by ``online_learning_rate``; an item's row
by the sum of its gradients over the users of the batch divided by the square root of their number, since
a batch can show one item to hundreds of users at once (summed, such steps made the model diverge).

This replaced a logistic loss (the click against sampled negatives, every item of an ignored slate as a
negative); on the world suite the choice likelihood learns faster within the session (the tables are in
``benchmarks/README.md``, "Learning within the episode"). User and item rows both move, so items that many
users pass over sink for everyone.

TensorFlow (the ``[mf]`` extra) is imported inside ``fit`` only, so importing this module (and the CLI) stays
fast; everything after ``fit`` is NumPy. Constructing the agent checks that TensorFlow is installed (when
``epochs`` > 0), so a missing extra fails before any work.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agents.helpers.native_log import quiet_native_log, verbose
from agents.helpers.ranking import top_k_unseen_by_chunks
from agents.helpers.retrieval import FULL_ROW_ITEMS
from recsim_lab.checkpoint import load_arrays, save_arrays
from recsim_lab.data import Dataset
from recsim_lab.data.seen import SeenItems
from recsim_lab.extras import optional_import, require
from recsim_lab.validation import check_fields

_ADAM = (0.9, 0.999, 1e-8)  # beta_1, beta_2, epsilon of the warm-start optimiser
_STATE = ("user_factors", "user_bias", "item_keys")  # the arrays a checkpoint holds


@dataclass
class FunkSVDAgent:
    """FunkSVD: BPR warm start, then an SGD step per response; see the module docstring."""

    factors: int = 32
    """Latent dimension of user and item factors."""
    epochs: int = 10
    """Passes over the initial histories in ``fit`` (more overfits short histories)."""
    learning_rate: float = 0.01
    """Adam step size in ``fit``."""
    regularisation: float = 1e-2
    """L2 weight on the factors of every score in the warm-start loss."""
    negatives: int = 8
    """Uniformly drawn negatives per positive in ``fit``."""
    batch_size: int = 1024
    """Positives per mini-batch in ``fit``."""
    init_scale: float = 0.05
    """Standard deviation of the initial factors (biases start at 0)."""
    online_learning_rate: float = 0.15
    """SGD step size of ``update`` (an item's step is further divided by the square root of the number of
    users shown it in the batch)."""
    online_steps: int = 1
    """SGD steps per ``update`` call, on the same responses."""
    online_regularisation: float = 1e-3
    """L2 weight on the factors of every shown item's score in the online loss."""

    user_factors: np.ndarray | None = field(default=None, init=False, repr=False)
    """``(n_users, factors)`` float32 ``p_u``."""
    user_bias: np.ndarray | None = field(default=None, init=False, repr=False)
    """``(n_users,)`` float32 ``b_u``."""
    item_keys: np.ndarray | None = field(default=None, init=False, repr=False)
    """``(n_items, factors + 1)`` float32: item factors ``q_i`` and, in the last column, item biases ``b_i``."""
    seen: SeenItems | None = field(default=None, init=False, repr=False)
    """Each user's known history: initial clicks and every click seen by ``update``."""

    def __post_init__(self) -> None:
        check_fields(self, ("factors", "negatives", "batch_size"), int, min_val=1)
        check_fields(self, ("epochs", "online_steps"), int, min_val=0)
        check_fields(self, ("learning_rate",), float, min_val=0.0, include_boundaries="neither")
        check_fields(self, ("regularisation", "init_scale", "online_learning_rate", "online_regularisation"),
                     float, min_val=0.0)
        if self.epochs:
            require("funk_svd", "tensorflow")

    def fit(self, data: Dataset, *, seed: int) -> None:
        """Warm-start on ``data.histories``; every random draw follows ``seed``."""
        init_rng, train_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
        self.user_factors = (self.init_scale * init_rng.standard_normal((data.n_users, self.factors))
                             ).astype(np.float32)
        self.user_bias = np.zeros(data.n_users, dtype=np.float32)
        self.item_keys = np.zeros((data.n_items, self.factors + 1), dtype=np.float32)
        self.item_keys[:, :-1] = self.init_scale * init_rng.standard_normal((data.n_items, self.factors))
        self.seen = SeenItems.from_histories(data.histories, data.n_items)
        users = np.repeat(np.arange(data.n_users, dtype=np.int64), [h.size for h in data.histories])
        if users.size and self.epochs:
            self._train(users, np.concatenate(data.histories), train_rng)

    def _train(self, users: np.ndarray, items: np.ndarray, rng: np.random.Generator) -> None:
        """BPR epochs over the ``(n,)`` clicks ``(users[j], items[j])``, updating the factors in place."""
        tf = _tensorflow()

        params = [tf.Variable(x) for x in (self.user_factors, self.item_keys[:, :-1], self.item_keys[:, -1])]
        step = _bpr_step(params, self.learning_rate, self.regularisation)
        n_items = self.item_keys.shape[0]
        for _ in range(self.epochs):
            order = rng.permutation(users.size)
            negatives = rng.integers(n_items, size=(users.size, self.negatives))
            for start in range(0, users.size, self.batch_size):
                batch = order[start:start + self.batch_size]
                step(users[batch], items[batch], negatives[batch])
        self.user_factors = params[0].numpy()
        self.item_keys[:, :-1] = params[1].numpy()
        self.item_keys[:, -1] = params[2].numpy()

    def queries(self, users: np.ndarray) -> np.ndarray:
        """``(B, factors + 1)`` float32 ``[p_u, 1]``: ``queries @ item_keys[i]`` is the score less ``b_u``."""
        return np.column_stack([self.user_factors[users], np.ones(len(users), np.float32)])

    def scores(self, users: np.ndarray) -> np.ndarray:
        """``(B, n_items)`` float32 model scores of every item (history included) for ``users`` ``(B,)``."""
        self._check_fitted()
        return self.queries(users) @ self.item_keys.T + self.user_bias[users, None]

    def scores_of(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """``(B, C)`` float32 scores of ``items[b, c]`` for ``users[b]``, or of the shared ``(C,)`` items."""
        self._check_fitted()
        if items.ndim == 1:
            return self.queries(users) @ self.item_keys[items].T + self.user_bias[users, None]
        if self.item_keys.shape[0] <= FULL_ROW_ITEMS:  # a full row by BLAS beats gathering (B, C, d) keys
            return np.take_along_axis(self.scores(users), items, axis=1)
        return np.einsum("bd,bcd->bc", self.queries(users), self.item_keys[items]) + self.user_bias[users, None]

    def recommend(self, users: np.ndarray, k: int) -> np.ndarray:
        """``(B, k)`` int64: each user's ``k`` best-scoring items outside their known history, best first.

        Users are scored in chunks, so memory stays bounded at large catalogues.
        """
        self._check_fitted()
        return top_k_unseen_by_chunks(self.scores, np.asarray(users, dtype=np.int64), self.seen, k)

    def update(self, users: np.ndarray, slates: np.ndarray, clicks: np.ndarray) -> None:
        """Learn from the responses (see the module docstring) and add the clicks to the histories.

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
        for _ in range(self.online_steps):
            self._sgd(users, slates, clicks)
        self.seen.add(users, clicks)

    def _sgd(self, users: np.ndarray, slates: np.ndarray, clicks: np.ndarray) -> None:
        """One SGD step on ``sum_b -log P_b(clicks[b]) + online_regularisation / 2 * sum_i (|p_u|^2 + |q_i|^2)``
        over the slates' conditional logits (see the module docstring), the items' steps divided by the
        square root of how often each item occurs in ``slates``.

        Args:
            users: ``(B,)`` int64 user ids; slates: ``(B, k)`` int64; clicks: ``(B,)`` int64 item or -1.
        """
        queries, keys = self.queries(users), self.item_keys[slates]  # (B, d + 1), (B, k, d + 1)
        scores = np.einsum("bd,bkd->bk", queries, keys) + self.user_bias[users, None]
        top = np.maximum(scores.max(axis=1, keepdims=True), 0.0)  # the no-click option scores 0
        chances = np.exp(scores - top)
        chances /= (chances.sum(axis=1, keepdims=True) + np.exp(-top))
        error = chances - (slates == clicks[:, None])  # (B, k) d loss / d score
        decay = np.float32(self.online_regularisation)
        rate = np.float32(self.online_learning_rate)
        user_step = np.einsum("bk,bkd->bd", error, keys[:, :, :-1]) + decay * slates.shape[1] * queries[:, :-1]
        np.subtract.at(self.user_factors, users, rate * user_step)
        np.subtract.at(self.user_bias, users, rate * error.sum(axis=1))
        # d loss / d [q_i, b_i] = error * [p_u, 1] + decay * [q_i, 0]
        item_step = error[:, :, None] * queries[:, None, :]
        item_step[:, :, :-1] += decay * keys[:, :, :-1]
        _, where, count = np.unique(slates, return_inverse=True, return_counts=True)
        item_step *= (rate / np.sqrt(count[where.reshape(slates.shape)]))[:, :, None].astype(np.float32)
        np.subtract.at(self.item_keys, slates.reshape(-1), item_step.reshape(-1, item_step.shape[-1]))

    def save(self, path: Path) -> None:
        """Write the factors, biases and histories as ``.npy`` files into ``path``."""
        self._check_fitted()
        save_arrays(path, **{name: getattr(self, name) for name in _STATE})
        self.seen.save(path)

    def load(self, path: Path) -> None:
        """Restore exactly what :meth:`save` wrote (a freshly constructed agent needs no ``fit``)."""
        arrays = load_arrays(path, *_STATE)
        seen = SeenItems.load(path)
        if arrays[0].shape[0] != seen.n_users or arrays[2].shape[0] != seen.n_items:
            raise ValueError(f"checkpoint {path} is inconsistent: factors for {arrays[0].shape[0]} users and "
                             f"{arrays[2].shape[0]} items, histories for {seen.n_users} and {seen.n_items}")
        for name, array in zip(_STATE, arrays):
            setattr(self, name, array)
        self.seen = seen

    def _check_fitted(self) -> None:
        if self.seen is None:
            raise RuntimeError("FunkSVDAgent has no state yet: call fit() or load() first")


def _tensorflow() -> Any:
    """The ``tensorflow`` module, imported with its C++ start-up log (CPU features, oneDNN, missing CUDA
    drivers) silenced: this agent runs on the CPU by design. ``TF_CPP_MIN_LOG_LEVEL`` (3 unless set) hides
    the CPU-feature notice; :func:`~agents.helpers.native_log.quiet_native_log` the lines it no longer
    reaches. ``RECSIM_LAB_VERBOSE=1`` (``recsim-lab run --verbose``) shows them all."""
    if not verbose():
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with quiet_native_log():
        return optional_import("tensorflow", "funk_svd")


def _bpr_step(params: list[Any], learning_rate: float, regularisation: float) -> Any:
    """A compiled BPR mini-batch step with lazy Adam over ``params`` = [user factors, item factors, item biases].

    The step takes ``users`` ``(b,)``, ``positives`` ``(b,)`` and ``negatives`` ``(b, n)`` int64 and returns the
    mean loss; one trace serves every batch size. Lazy Adam updates only the rows (and their moments) that the
    batch touches, so a step costs O(batch), not O(catalogue). When every row is in the batch it is Keras'
    ``Adam`` with these betas and epsilon (a test pins it); by design it differs on rows outside the batch,
    which keep their values and moments, where dense Adam decays the moments and moves such rows on their
    momentum. The user bias is not a parameter here: BPR compares items of one user, so its gradient is zero.
    """
    tf = _tensorflow()
    user_factors, item_factors, item_bias = params
    moments = [(tf.Variable(tf.zeros_like(p)), tf.Variable(tf.zeros_like(p))) for p in params]
    steps = tf.Variable(0.0)
    beta_1, beta_2, epsilon = _ADAM
    ids = tf.TensorSpec([None], tf.int64)

    @tf.function(input_signature=[ids, ids, tf.TensorSpec([None, None], tf.int64)])
    def step(users: Any, positives: Any, negatives: Any) -> Any:
        with tf.GradientTape() as tape:
            items = tf.concat([positives[:, None], negatives], axis=1)  # (b, 1 + n)
            p, q = tf.gather(user_factors, users), tf.gather(item_factors, items)
            scores = tf.einsum("bd,bmd->bm", p, q) + tf.gather(item_bias, items)
            ranking = tf.reduce_sum(tf.nn.softplus(scores[:, 1:] - scores[:, :1]), axis=1)
            penalty = (tf.cast(tf.shape(items)[1], tf.float32) * tf.reduce_sum(p * p, axis=1)
                       + tf.reduce_sum(q * q, axis=[1, 2]))
            loss = tf.reduce_mean(ranking + regularisation / 2 * penalty)
        steps.assign_add(1.0)
        rate = learning_rate * tf.sqrt(1.0 - beta_2**steps) / (1.0 - beta_1**steps)
        for param, (mean, square), grad in zip(params, moments, tape.gradient(loss, params)):
            rows, where = tf.unique(grad.indices)
            grad = tf.math.unsorted_segment_sum(grad.values, where, tf.size(rows))
            mean_rows = beta_1 * tf.gather(mean, rows) + (1.0 - beta_1) * grad
            square_rows = beta_2 * tf.gather(square, rows) + (1.0 - beta_2) * grad * grad
            mean.scatter_update(tf.IndexedSlices(mean_rows, rows))
            square.scatter_update(tf.IndexedSlices(square_rows, rows))
            param.scatter_sub(tf.IndexedSlices(rate * mean_rows / (tf.sqrt(square_rows) + epsilon), rows))
        return loss

    return step
