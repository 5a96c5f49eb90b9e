"""``funk_svd``: matrix factorisation (FunkSVD) in TensorFlow, trained on the histories, learning per click.

Model: ``score(u, i) = <p_u, q_i> + b_i`` (a user bias would not change a user's ranking, so there is none),
kept as one inner product ``<[p_u, 1], [q_i, b_i]>``: ``item_keys`` holds ``[q_i, b_i]`` per row, so the same
matrix serves scoring, retrieval (:class:`recsim_lab.retrieval.InnerProductIndex`) and learning.

Loss: logistic loss with sampled negatives (implicit feedback): each positive (user, clicked item) is paired
with ``negatives`` items drawn uniformly from the catalogue, and the loss is
``-log sigmoid(score(u, pos)) - sum_neg log sigmoid(-score(u, neg)) + regularisation * (|p_u|^2 + |q_i|^2)``
over the factors touched by the batch. ``fit`` minimises it over the initial histories with Adam in
mini-batches (one compiled ``tf.function``).

Online (``update``): plain SGD steps on the same loss, so there is no optimizer state to restore:

- a click on item i is a positive for (u, i), with ``negatives`` sampled negatives;
- a slate that got no click is negative evidence: each shown item is a negative for u, with weight
  ``ignored_weight`` (users skip good items too, so it counts less than a sampled negative).

``recommend`` scores all items for the batch in one matrix product and takes the top k outside the user's
known history (initial history plus clicks seen) with an O(n_items) partial selection. ``candidates``
retrieves the top n through the index instead (approximate above 50,000 items: the index is built from the
item keys at the episode's start and not refreshed by online learning, so candidates are re-scored exactly
with ``scores_of``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from recsim_lab.checkpoint import load_arrays, save_arrays
from recsim_lab.data import Dataset
from recsim_lab.ranking import top_k_unseen_by_chunks
from recsim_lab.retrieval import FULL_ROW_ITEMS, InnerProductIndex, unseen_candidates
from recsim_lab.seen import SeenItems


@dataclass
class FunkSVDAgent:
    """FunkSVD with sampled-negative logistic loss; see the module docstring."""

    factors: int = 32
    """Latent dimension of user and item factors."""
    epochs: int = 15
    """Passes over the initial histories in ``fit``."""
    learning_rate: float = 0.02
    """Adam step size in ``fit``."""
    regularisation: float = 1e-4
    """L2 weight on the factors touched by a batch."""
    negatives: int = 4
    """Sampled negatives per positive (``fit`` and clicks in ``update``)."""
    batch_size: int = 2048
    """Positives per mini-batch in ``fit``."""
    online_learning_rate: float = 0.1
    """SGD step size of ``update``."""
    ignored_weight: float = 0.2
    """Weight of each shown-but-ignored item as a negative in ``update`` (0 ignores no-click slates)."""
    init_scale: float = 0.1
    """Standard deviation of the initial factors."""
    user_factors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32), init=False, repr=False)
    item_keys: np.ndarray = field(default_factory=lambda: np.zeros((0, 1), np.float32), init=False, repr=False)
    """``(n_items, factors + 1)``: item factors ``q_i`` and, in the last column, item biases ``b_i``."""
    index: InnerProductIndex | None = field(default=None, init=False, repr=False)
    seen: SeenItems | None = field(default=None, init=False, repr=False)
    counters: np.ndarray = field(default_factory=lambda: np.zeros(2, np.int64), init=False, repr=False)
    """``[seed, updates so far]``: online negatives are drawn from a generator seeded with these."""

    def __post_init__(self) -> None:
        for name in ("factors", "epochs", "negatives", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < (0 if name == "epochs" else 1):
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name in ("learning_rate", "online_learning_rate", "regularisation", "ignored_weight", "init_scale"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a non-negative number, got {value!r}")

    def fit(self, data: Dataset, *, seed: int) -> None:
        import tensorflow as tf

        rng = np.random.default_rng(seed)
        tf.random.set_seed(seed)
        self.user_factors = (self.init_scale * rng.standard_normal((data.n_users, self.factors))).astype(np.float32)
        self.item_keys = np.zeros((data.n_items, self.factors + 1), dtype=np.float32)
        self.item_keys[:, :-1] = self.init_scale * rng.standard_normal((data.n_items, self.factors))
        self.index = None
        self.seen = SeenItems.from_histories(data.histories, data.n_items)
        self.counters = np.array([seed, 0], dtype=np.int64)
        users = np.repeat(np.arange(data.n_users), [h.size for h in data.histories])
        items = np.concatenate(data.histories) if users.size else np.zeros(0, np.int64)
        if users.size == 0 or self.epochs == 0:
            return
        p, q, b = (tf.Variable(x) for x in (self.user_factors, self.item_keys[:, :-1], self.item_keys[:, -1]))
        optimizer = tf.keras.optimizers.Adam(self.learning_rate)
        step = self._train_step(tf, p, q, b, optimizer)
        for _ in range(self.epochs):
            order = rng.permutation(users.size)
            for start in range(0, users.size, self.batch_size):
                batch = order[start:start + self.batch_size]
                negatives = rng.integers(data.n_items, size=(batch.size, self.negatives))
                step(users[batch], items[batch], negatives)
        self.user_factors = p.numpy()
        self.item_keys = np.column_stack([q.numpy(), b.numpy()])

    def _train_step(self, tf, p, q, b, optimizer):
        regularisation = self.regularisation

        @tf.function(reduce_retracing=True)
        def step(users, positives, negatives):
            with tf.GradientTape() as tape:
                pu = tf.gather(p, users)
                qp, qn = tf.gather(q, positives), tf.gather(q, negatives)
                positive = tf.reduce_sum(pu * qp, axis=1) + tf.gather(b, positives)
                negative = tf.einsum("bd,bnd->bn", pu, qn) + tf.gather(b, negatives)
                loss = (tf.reduce_mean(tf.nn.softplus(-positive)) + tf.reduce_mean(tf.reduce_sum(
                    tf.nn.softplus(negative), axis=1)) + regularisation * (
                    tf.reduce_mean(tf.reduce_sum(pu * pu, 1)) + tf.reduce_mean(tf.reduce_sum(qp * qp, 1))))
            optimizer.apply_gradients(zip(tape.gradient(loss, [p, q, b]), [p, q, b]))

        return step

    def queries(self, users: np.ndarray) -> np.ndarray:
        """``(B, factors + 1)`` float32 ``[p_u, 1]``: a user's score of item i is ``queries @ item_keys[i]``."""
        return np.column_stack([self.user_factors[users], np.ones(len(users), np.float32)])

    def scores(self, users: np.ndarray) -> np.ndarray:
        """``(B, n_items)`` float32 model scores (history included)."""
        return self.queries(users) @ self.item_keys.T

    def scores_of(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """``(B, C)`` float32 scores of ``items[b, c]`` for ``users[b]``, or of the shared ``(C,)`` items."""
        if items.ndim == 1:
            return self.queries(users) @ self.item_keys[items].T
        if self.item_keys.shape[0] <= FULL_ROW_ITEMS:  # a full row by BLAS beats gathering (B, C, d) keys
            return np.take_along_axis(self.scores(users), items, axis=1)
        return np.einsum("bd,bcd->bc", self.queries(users), self.item_keys[items])

    def candidates(self, users: np.ndarray, n: int) -> np.ndarray:
        """``(B, n)`` the ``n`` best-scoring unseen items per user, via the retrieval index (-1 pads)."""
        if self.index is None:
            self.index = InnerProductIndex(self.item_keys, seed=int(self.counters[0]))
        return unseen_candidates(self.index, self.queries(users), users, self.seen, n)

    def recommend(self, users: np.ndarray, k: int) -> np.ndarray:
        return top_k_unseen_by_chunks(self.scores, np.asarray(users, dtype=np.int64), self.seen, k)

    def update(self, users: np.ndarray, slates: np.ndarray, clicks: np.ndarray) -> None:
        rng = np.random.default_rng(self.counters.tolist())
        clicked = clicks >= 0
        n_items = self.item_keys.shape[0]
        # (user, item, label, weight) rows: clicks with sampled negatives, and ignored slates' items.
        pos_users = users[clicked]
        neg_users = np.repeat(pos_users, self.negatives)
        ign_users = np.repeat(users[~clicked], slates.shape[1]) if self.ignored_weight else users[:0]
        rows_users = np.concatenate([pos_users, neg_users, ign_users])
        rows_items = np.concatenate([clicks[clicked], rng.integers(n_items, size=neg_users.size),
                                     slates[~clicked].reshape(-1) if self.ignored_weight else users[:0]])
        labels = np.concatenate([np.ones(pos_users.size), np.zeros(neg_users.size + ign_users.size)])
        weights = np.concatenate([np.ones(pos_users.size), np.full(neg_users.size, 1.0 / self.negatives),
                                  np.full(ign_users.size, self.ignored_weight)])
        self._sgd(rows_users, rows_items, labels.astype(np.float32), weights.astype(np.float32))
        self.seen.add(users, clicks)
        self.counters[1] += 1

    def _sgd(self, users: np.ndarray, items: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> None:
        """One SGD step of the weighted logistic loss on (user, item, label) rows; repeated ids accumulate."""
        if users.size == 0:
            return
        queries, keys = self.queries(users), self.item_keys[items]
        predicted = 1.0 / (1.0 + np.exp(-np.einsum("bd,bd->b", queries, keys)))
        error = (weights * (predicted - labels))[:, None]  # d loss / d score
        lr, reg = self.online_learning_rate, self.regularisation
        factors = keys[:, :-1]
        np.add.at(self.user_factors, users, -lr * (error * factors + reg * queries[:, :-1]))
        keys[:, :-1] *= reg  # d loss / d [q_i, b_i] = error * [p_u, 1] + reg * [q_i, 0]
        keys[:, -1] = 0.0
        np.add.at(self.item_keys, items, -lr * (error * queries + keys))

    def save(self, path: Path) -> None:
        save_arrays(path, user_factors=self.user_factors, item_keys=self.item_keys, counters=self.counters)
        self.seen.save(path)

    def load(self, path: Path) -> None:
        self.user_factors, self.item_keys, self.counters = load_arrays(path, "user_factors", "item_keys",
                                                                       "counters")
        self.seen = SeenItems.load(path)
        self.index = None
