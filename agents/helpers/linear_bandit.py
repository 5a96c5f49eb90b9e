"""What the linear bandits (``lin_ucb``, ``lin_ts``) share: one ridge regression per user over item features.

**Features**: every item's text (``headline + " " + short_description``) embedded by
:func:`agents.helpers.text_embeddings.cached_embeddings` (all-MiniLM-L6-v2 by default, cached on disk) and
reduced by :func:`~agents.helpers.text_embeddings.projected` to its ``dim`` leading principal directions,
unit rows: ``x_i`` in R^d.

**Model**: user ``u``'s expected reward for item ``i`` is ``x_i . theta_u``, with the ridge (Bayesian linear
regression) estimate ``theta_u = A_u^-1 b_u``, ``A_u = ridge * I + sum x x^T`` and ``b_u = sum r x`` over the
user's pulls. A pull is one shown item: after a slate, each of its ``k`` items is a pull with reward 1 if it
was clicked and 0 if not. ``A_u^-1`` is kept directly, ``(n_users, d, d)`` float64, and each pull updates it
by the Sherman-Morrison formula ``A^-1 <- A^-1 - (A^-1 x)(A^-1 x)^T / (1 + x^T A^-1 x)``, one slate position
at a time for all users of the batch together (``k`` rank-one updates per user and step, no loop over users).

**Warm start** (``fit``): every item of a user's visible history is a pull with reward 1 (it was clicked).
The history does not say what was shown and passed over, so there are no observed negatives. With only
positives, a user's estimate along the directions of their clicks tends to 1, an overestimate of a click
per show, which the zeros of the first online slates then correct; the prior mean 0 already stands for
"not clicked" elsewhere. ``history_negatives`` adds, per history click, that many items drawn uniformly
from the catalogue as reward-0 pulls (the usual "unclicked = random item" of implicit feedback), which
calibrates the estimates lower and shrinks every direction's uncertainty. Which is better was measured
(``benchmarks/README.md``, "Bandits"); the default follows.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from agents.helpers.sentence_model import EncodeSettings
from agents.helpers.text_embeddings import cached_embeddings, projected, require_encoder
from recsim_lab.checkpoint import load_arrays, save_arrays
from recsim_lab.data import Dataset
from recsim_lab.data.seen import SeenItems
from recsim_lab.validation import check_fields

CELLS = 1 << 22
"""Bound on ``users x items x d`` floats formed at once when scoring (memory of a chunk: 16 MiB)."""


@dataclass
class LinearBandit:
    """Per-user ridge regression over projected text embeddings, updated by Sherman-Morrison per shown item."""

    encoder: Any = None
    """``None`` (the packaged all-MiniLM-L6-v2), the path of a local sentence-transformers model directory,
    or an object with ``encode(texts) -> (n, dim) array`` (a stand-in, e.g. in tests)."""
    backend: str = "auto"
    """Embedding backend (see :mod:`agents.helpers.sentence_model`)."""
    cache_dir: str | None = None
    """Embedding cache directory; ``None``: ``$RECSIM_LAB_CACHE`` or ``~/.cache/recsim-lab/embeddings``."""
    dim: int | None = 16
    """Feature width d: the embeddings projected onto their ``dim`` leading principal directions (``None``:
    unprojected). The cost of a step grows as d^2 (``lin_ucb``) or d (``lin_ts``) per user and item."""
    ridge: float = 1.0
    """``lambda`` of ``A_u = lambda I + sum x x^T``: the prior precision of ``theta_u`` (in pulls)."""
    history_negatives: int = 0
    """Random catalogue items per history click added in ``fit`` as reward-0 pulls (0: positives only)."""
    show_progress: bool = True
    """Show a progress bar while embedding."""

    features: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32), init=False, repr=False)
    """``(n_items, d)`` float32 unit rows ``x_i``."""
    a_inv: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0)), init=False, repr=False)
    """``(n_users, d, d)`` float64 ``A_u^-1``."""
    b: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)), init=False, repr=False)
    """``(n_users, d)`` float64 ``b_u = sum r x``."""
    seen: SeenItems | None = field(default=None, init=False, repr=False)
    seed: int = field(default=0, init=False)
    """The fit seed; sampling draws come from ``rng``, restarted from it by ``fit`` and ``load``."""
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0), init=False, repr=False)
    name: ClassVar[str] = "a linear bandit"
    """The agent's short name, for a missing extra's message."""

    def __post_init__(self) -> None:
        EncodeSettings(backend=self.backend)  # validates the name
        check_fields(self, ("cache_dir",), (str, os.PathLike), allow_none=True)
        check_fields(self, ("dim",), int, min_val=1, allow_none=True)
        check_fields(self, ("ridge",), float, min_val=0.0, include_boundaries="neither")
        check_fields(self, ("history_negatives",), int, min_val=0)
        check_fields(self, ("show_progress",), bool)
        require_encoder(self.encoder, self.name)

    # ------------------------------------------------------------------------------------------ protocol

    def fit(self, data: Dataset, *, seed: int) -> None:
        """Embed and project the items, then warm-start every user's model from their history (module
        docstring). The negatives, if any, are drawn from ``seed``."""
        cached = cached_embeddings(data.item_texts(), encoder=self.encoder,
                                   settings=EncodeSettings(backend=self.backend), cache_dir=self.cache_dir,
                                   show_progress=self.show_progress)
        self.features = projected(cached.embeddings, self.dim)
        self.seed = int(seed)
        users = np.repeat(np.arange(data.n_users), [h.size for h in data.histories])
        items = np.concatenate([np.asarray(h, dtype=np.int64) for h in data.histories] + [np.zeros(0, np.int64)])
        rewards = np.ones(items.size)
        if self.history_negatives:
            rng = np.random.default_rng(self.seed)
            negatives = rng.integers(data.n_items, size=items.size * self.history_negatives)
            users = np.concatenate([users, np.repeat(users, self.history_negatives)])
            items = np.concatenate([items, negatives])
            rewards = np.concatenate([rewards, np.zeros(negatives.size)])
        d = self.features.shape[1]
        x = self.features[items].astype(np.float64)  # (E, d)
        gram = np.zeros((data.n_users, d * d))
        np.add.at(gram, users, (x[:, :, None] * x[:, None, :]).reshape(-1, d * d))
        self.a_inv = np.linalg.inv(gram.reshape(-1, d, d) + self.ridge * np.eye(d))
        self.b = np.zeros((data.n_users, d))
        np.add.at(self.b, users, rewards[:, None] * x)
        self.seen = SeenItems.from_histories(data.histories, data.n_items)
        self.rng = np.random.default_rng(self.seed)

    def update(self, users: np.ndarray, slates: np.ndarray, clicks: np.ndarray) -> None:
        """Each shown item of ``slates`` ``(B, k)`` is a pull for its user, reward 1 if it is the user's
        entry of ``clicks`` ``(B,)`` (-1: none) and 0 if not: ``k`` Sherman-Morrison updates of ``A_u^-1``,
        vectorised over the batch; a user twice in one batch has their responses applied in order."""
        users = np.asarray(users, dtype=np.int64)
        slates = np.asarray(slates, dtype=np.int64)
        clicks = np.asarray(clicks, dtype=np.int64)
        if np.unique(users).size != users.size:
            for row in range(users.size):
                self.update(users[row:row + 1], slates[row:row + 1], clicks[row:row + 1])
            return
        a_inv = self.a_inv[users]  # (B, d, d)
        for position in range(slates.shape[1]):
            x = self.features[slates[:, position]].astype(np.float64)  # (B, d)
            a_inv = sherman_morrison(a_inv, x)
            self.b[users] += (slates[:, position] == clicks)[:, None] * x
        self.a_inv[users] = a_inv
        self.seen.add(users, clicks)

    def save(self, path: Path) -> None:
        save_arrays(path, features=self.features, a_inv=self.a_inv, b=self.b, seed=np.array(self.seed, np.int64))
        self.seen.save(path)

    def load(self, path: Path) -> None:
        """Restore exactly what :meth:`save` wrote (no encoder needed) and restart the generator."""
        self.features, self.a_inv, self.b, seed = load_arrays(path, "features", "a_inv", "b", "seed")
        self.seen = SeenItems.load(path)
        if self.a_inv.shape != (self.b.shape[0], self.features.shape[1], self.features.shape[1]) or \
                self.seen.n_items != self.features.shape[0]:
            raise ValueError(f"checkpoint {path} is inconsistent: features {self.features.shape}, A^-1 "
                             f"{self.a_inv.shape}, b {self.b.shape}, {self.seen.n_items} items in the seen sets")
        self.seed = int(seed)
        self.rng = np.random.default_rng(self.seed)

    # ------------------------------------------------------------------------------------------ helpers

    def theta(self, users: np.ndarray) -> np.ndarray:
        """``(B, d)`` float64 ridge estimates ``theta_u = A_u^-1 b_u``."""
        users = np.asarray(users, dtype=np.int64)
        return np.einsum("bde,be->bd", self.a_inv[users], self.b[users])

    def user_chunks(self, n_users: int) -> list[slice]:
        """Consecutive slices of ``range(n_users)`` whose ``(user, item, d)`` products hold about
        :data:`CELLS` floats each."""
        rows = max(1, CELLS // (self.features.shape[0] * self.features.shape[1]))
        return [slice(start, start + rows) for start in range(0, n_users, rows)]


def sherman_morrison(a_inv: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``(B, d, d)``: ``(A + x x^T)^-1`` for each row, from ``a_inv`` ``(B, d, d)`` = ``A^-1`` (symmetric) and
    ``x`` ``(B, d)``: ``A^-1 - (A^-1 x)(A^-1 x)^T / (1 + x^T A^-1 x)``."""
    ax = np.einsum("bde,be->bd", a_inv, x)  # (B, d) = A^-1 x
    denominator = 1.0 + np.einsum("bd,bd->b", x, ax)
    return a_inv - ax[:, :, None] * ax[:, None, :] / denominator[:, None, None]


__all__ = ["LinearBandit", "sherman_morrison"]
