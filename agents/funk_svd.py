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

Online (``update``): ``online_steps`` plain SGD steps (no optimizer state to checkpoint) on the weighted
logistic loss ``w * BCE(y, sigmoid(s)) + w * online_regularisation / 2 * (|p_u|^2 + |q_i|^2)``, summed over:

- a click on item c: (u, c) with y = 1 and weight 1, and ``online_negatives`` other items drawn uniformly
  with y = 0 and weight ``1 / online_negatives`` (together as much as the click, so that the shift they
  give the user's bias does not outweigh the click: with an untrained model, equal weights left the
  clicked item's score unchanged);
- a slate with no click: every shown item with y = 0 and weight ``ignored_weight`` (the user preferred
  leaving to all of them); the unclicked items of a clicked slate carry no weight (they may be liked too).

The online loss is logistic rather than BPR because an ignored slate has no positive to rank against: it
needs the absolute target that the user bias calibrates. User and item rows both move, so items that many
users ignore sink for everyone.

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
_STATE = ("user_factors", "user_bias", "item_keys", "counters")  # the arrays a checkpoint holds


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
    online_learning_rate: float = 0.05
    """SGD step size of ``update``."""
    online_steps: int = 1
    """SGD steps per ``update`` call, on the same responses and negatives."""
    online_negatives: int = 2
    """Uniformly drawn negatives (other than the clicked item) per click in ``update``."""
    ignored_weight: float = 1.5
    """Weight of each shown item as a negative after a slate with no click (0 ignores such slates)."""
    online_regularisation: float = 1e-3
    """L2 weight on the factors of every weighted score in the online loss."""

    user_factors: np.ndarray | None = field(default=None, init=False, repr=False)
    """``(n_users, factors)`` float32 ``p_u``."""
    user_bias: np.ndarray | None = field(default=None, init=False, repr=False)
    """``(n_users,)`` float32 ``b_u``."""
    item_keys: np.ndarray | None = field(default=None, init=False, repr=False)
    """``(n_items, factors + 1)`` float32: item factors ``q_i`` and, in the last column, item biases ``b_i``."""
    counters: np.ndarray = field(default_factory=lambda: np.zeros(2, np.int64), init=False, repr=False)
    """``[seed, updates so far]``: the online negatives of each update are drawn from a generator seeded
    with these, so a restored agent learns exactly as the original would."""
    seen: SeenItems | None = field(default=None, init=False, repr=False)
    """Each user's known history: initial clicks and every click seen by ``update``."""

    def __post_init__(self) -> None:
        check_fields(self, ("factors", "negatives", "batch_size"), int, min_val=1)
        check_fields(self, ("epochs", "online_steps", "online_negatives"), int, min_val=0)
        check_fields(self, ("learning_rate",), float, min_val=0.0, include_boundaries="neither")
        check_fields(self, ("regularisation", "init_scale", "online_learning_rate", "ignored_weight",
                            "online_regularisation"), float, min_val=0.0)
        if self.epochs:
            require("funk_svd", "tensorflow")

    def fit(self, data: Dataset, *, seed: int) -> None:
        """Warm-start on ``data.histories``; every random draw (online ones included) follows ``seed``."""
        init_rng, train_rng, online_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3))
        self.user_factors = (self.init_scale * init_rng.standard_normal((data.n_users, self.factors))
                             ).astype(np.float32)
        self.user_bias = np.zeros(data.n_users, dtype=np.float32)
        self.item_keys = np.zeros((data.n_items, self.factors + 1), dtype=np.float32)
        self.item_keys[:, :-1] = self.init_scale * init_rng.standard_normal((data.n_items, self.factors))
        self.counters = np.array([online_rng.integers(2**62), 0], dtype=np.int64)
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
        rng = np.random.default_rng(self.counters.tolist())
        clicked = clicks >= 0
        n_click, n_items = 1 + self.online_negatives, self.item_keys.shape[0]
        positives = np.where(clicked, clicks, slates[:, 0])  # slates[:, 0] only fills rows of weight 0
        negatives = (positives[:, None] + rng.integers(1, n_items, size=(users.size, self.online_negatives))
                     ) % n_items  # uniform over the items other than the positive
        # (B, 1 + online_negatives + k) columns: the click, its negatives, the shown items
        items = np.concatenate([positives[:, None], negatives, slates], axis=1)
        weights = np.zeros(items.shape, dtype=np.float32)
        weights[clicked, 0] = 1.0
        weights[clicked, 1:n_click] = 1.0 / max(self.online_negatives, 1)
        weights[~clicked, n_click:] = self.ignored_weight
        labels = np.zeros(items.shape, dtype=np.float32)
        labels[:, 0] = 1.0
        live = weights > 0
        rows = np.broadcast_to(users[:, None], items.shape)[live]
        for _ in range(self.online_steps):
            self._sgd(rows, items[live], labels[live], weights[live])
        self.seen.add(users, clicks)
        self.counters[1] += 1

    def _sgd(self, users: np.ndarray, items: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> None:
        """One SGD step on ``sum_j w_j * (BCE(y_j, sigmoid(s_j)) + online_regularisation / 2 * (|p|^2 + |q|^2))``.

        Args:
            users, items: ``(n,)`` the (user, item) pair of each score; repeated ids accumulate.
            labels, weights: ``(n,)`` float32 targets ``y`` and weights ``w``.
        """
        queries, keys = self.queries(users), self.item_keys[items]
        error = weights * (_sigmoid(np.einsum("nd,nd->n", queries, keys) + self.user_bias[users]) - labels)
        decay = self.online_regularisation * weights[:, None]  # ``error`` is d loss / d score
        rate = self.online_learning_rate
        np.subtract.at(self.user_factors, users, rate * (error[:, None] * keys[:, :-1] + decay * queries[:, :-1]))
        np.subtract.at(self.user_bias, users, rate * error)
        keys[:, :-1] *= decay  # d loss / d [q_i, b_i] = error * [p_u, 1] + decay * [q_i, 0]
        keys[:, -1] = 0.0
        np.subtract.at(self.item_keys, items, rate * (error[:, None] * queries + keys))

    def save(self, path: Path) -> None:
        """Write the factors, biases, online counters and histories as ``.npy`` files into ``path``."""
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


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function without overflow, in the dtype of ``x``."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


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
