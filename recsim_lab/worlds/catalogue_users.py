"""Users for a catalogue without a click log (the News Category Dataset): real texts, generated tastes.

Hidden truth, in three blocks of dimensions, for item ``i`` of category ``c_i`` and user ``u``:

- **quality**: ``q_i ~ N(0, 1)``; every user likes it a little (``0.25 + 0.1 N(0, 1)``);
- **categories**: a one-hot of ``c_i``; the user likes 1 to 3 categories, drawn in proportion to their size,
  with Dirichlet weights;
- **text**: ``t_i``, the item's text embedding (TF-IDF of headline and description reduced by a randomised
  SVD to ``text_dims`` dimensions, rows normalised; a latent-semantic embedding that needs no model
  download); the user's direction is a weighted mix, over their liked categories, of the category's text
  centroid and one of its articles (a personal sub-interest), plus noise.

So a user's true score is ``quality + weight of the item's category + text similarity`` (times a global
scale), and both the category labels and the texts carry real signal. The scale is set as in the synthetic
world: the median user's ``attractive_items``-th best item scores exactly the no-click threshold. Click logs
are then drawn through the same choice model, logging round by logging round (each slate mostly from a
liked category, the rest from the whole catalogue), so that the usual time-ordered split gives visible
histories and held-out futures.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse

from recsim_lab.data.seen import SeenItems
from recsim_lab.distinct import distinct_rows
from recsim_lab.worlds.choice import click_probabilities, sample_choices
from recsim_lab.worlds.world import Rules

_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


@dataclass(frozen=True)
class CatalogueUsersConfig:
    """How users are generated over an item catalogue."""

    n_users: int = 2000
    """Users generated (before the split's ``min_history`` filter)."""
    text_dims: int = 32
    """Dimensions of the text embedding (capped by the vocabulary and the catalogue size)."""
    attractive_items: int = 60
    """Scale rule: the median user has this many items scoring above the no-click threshold."""
    mean_clicks: float = 40.0
    """Mean length of a generated log (history and future together)."""
    min_clicks: int = 6
    """Shortest generated log."""
    rounds: int = 1000
    """Logging rounds simulated; a user who rarely clicks ends below their drawn length."""
    exposure_focus: float = 0.8
    """Share of a logging slate drawn from a category the user likes (the rest: any item)."""
    seed: int = 0
    """Root seed; the same seed and catalogue give the same users and logs."""

    def __post_init__(self) -> None:
        for name in ("n_users", "text_dims", "attractive_items", "rounds", "min_clicks"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"CatalogueUsersConfig.{name} must be a positive integer, got {value!r}")
        if not self.mean_clicks >= self.min_clicks:
            raise ValueError("CatalogueUsersConfig.mean_clicks must be >= min_clicks")
        if not 0.0 <= self.exposure_focus <= 1.0:
            raise ValueError(f"CatalogueUsersConfig.exposure_focus must be in [0, 1], got {self.exposure_focus}")


def text_embedding(texts: Sequence[str], dims: int, seed: int = 0) -> np.ndarray:
    """``(n, <= dims)`` float64 unit rows: TF-IDF (words in at least 2 texts and at most half of them) reduced
    by a randomised SVD (Halko et al. 2011); a text without such words gets a zero row."""
    vocabulary: dict[str, int] = {}
    rows, cols = [], []
    for row, text in enumerate(texts):
        for token in sorted(set(_TOKEN.findall(text.lower()))):  # sorted: set order varies with the hash seed
            rows.append(row)
            cols.append(vocabulary.setdefault(token, len(vocabulary)))
    n = len(texts)
    counts = scipy.sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, len(vocabulary)))
    df = np.asarray((counts > 0).sum(axis=0)).ravel()
    keep = np.flatnonzero((df >= 2) & (df <= max(2, n // 2)))
    if keep.size == 0:
        return np.zeros((n, 1))
    tfidf = counts[:, keep].multiply(np.log(n / df[keep])[None, :]).tocsr()
    rank = int(min(dims, keep.size, n))
    rng = np.random.default_rng(seed)
    basis = tfidf @ rng.standard_normal((keep.size, rank + 10))
    for _ in range(2):  # power iterations sharpen the spectrum
        basis, _ = np.linalg.qr(basis)
        basis = tfidf @ (tfidf.T @ basis)
    basis, _ = np.linalg.qr(basis)
    small_u, singular, _ = np.linalg.svd(np.asarray((tfidf.T @ basis).T), full_matrices=False)
    vectors = (basis @ small_u[:, :rank]) * singular[:rank]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


def generate_users(texts: Sequence[str], categories: Sequence[str], rules: Rules, config: CatalogueUsersConfig
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
    """Generate users and their click logs over a catalogue (see the module docstring).

    Returns:
        ``(user_vectors, item_vectors, event_user, event_item, event_time, figures)``: float32 vectors
        (users already scaled), the generated clicks (time = logging round) and the figures for
        ``world.json``.
    """
    geometry, users_rng, log_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(config.seed).spawn(3))
    names, item_category = np.unique(np.asarray(categories, dtype=str), return_inverse=True)
    n_items, n_cat = len(categories), len(names)
    text = text_embedding(texts, config.text_dims, seed=int(geometry.integers(2**31)))
    items = np.hstack([geometry.standard_normal((n_items, 1)), np.eye(n_cat)[item_category], text])

    sizes = np.bincount(item_category, minlength=n_cat).astype(float)
    n_liked = users_rng.integers(1, min(3, n_cat) + 1, size=config.n_users)
    liked = np.stack([users_rng.choice(n_cat, size=min(3, n_cat), replace=False, p=sizes / sizes.sum())
                      for _ in range(config.n_users)])
    weights = users_rng.dirichlet(np.ones(liked.shape[1]), size=config.n_users)
    weights[np.arange(liked.shape[1])[None, :] >= n_liked[:, None]] = 0.0
    weights /= weights.sum(axis=1, keepdims=True)
    centroids = np.zeros((n_cat, text.shape[1]))
    np.add.at(centroids, item_category, text)
    centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)
    by_category = [np.flatnonzero(item_category == c) for c in range(n_cat)]
    personal = np.stack([text[[users_rng.choice(by_category[c]) for c in row]] for row in liked])
    direction = np.einsum("uk,ukd->ud", weights, centroids[liked] + personal)
    direction += 0.3 * users_rng.standard_normal(direction.shape) / np.sqrt(max(text.shape[1], 1))
    direction /= np.maximum(np.linalg.norm(direction, axis=1, keepdims=True), 1e-12)
    users = np.zeros((config.n_users, items.shape[1]))
    users[:, 0] = 0.25 + 0.1 * users_rng.standard_normal(config.n_users)
    np.put_along_axis(users[:, 1:1 + n_cat], liked, weights, axis=1)
    users[:, 1 + n_cat:] = direction

    k = min(config.attractive_items, n_items)
    sample = users[: min(512, config.n_users)] @ items.T
    median_kth = float(np.median(-np.partition(-sample, k - 1, axis=1)[:, k - 1]))
    if not (rules.no_click_threshold > 0 and median_kth > 0):
        raise ValueError(f"cannot scale: the median user's {k}-th best item scores {median_kth:.3g} and the "
                         f"no-click threshold is {rules.no_click_threshold}; both must be positive")
    scale = rules.no_click_threshold / median_kth
    users *= scale
    event_user, event_item, event_time = _draw_logs(log_rng, users, items, item_category, liked, weights,
                                                    by_category, rules, config)
    figures = {
        "method": "generated users over the catalogue's categories and TF-IDF/SVD text embedding "
                  "(recsim_lab.worlds.catalogue_users)",
        "n_users": config.n_users, "text_dims": int(text.shape[1]), "categories": n_cat,
        "mean_clicks": config.mean_clicks, "min_clicks": config.min_clicks, "rounds": config.rounds,
        "exposure_focus": config.exposure_focus, "seed": config.seed,
        "scale_rule": f"the median user's k-th best item scores exactly the no-click threshold "
                      f"({rules.no_click_threshold}); k = attractive_items",
        "attractive_items_k": k, "median_kth_score_unscaled": median_kth, "scale": float(scale),
    }
    return users.astype(np.float32), items.astype(np.float32), event_user, event_item, event_time, figures


def _draw_logs(rng: np.random.Generator, users: np.ndarray, items: np.ndarray, item_category: np.ndarray,
               liked: np.ndarray, weights: np.ndarray, by_category: list[np.ndarray], rules: Rules,
               config: CatalogueUsersConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Simulate logging rounds until each user reached their drawn number of clicks (or rounds ran out)."""
    n_users, n_items, k = users.shape[0], items.shape[0], rules.slate_size
    extra = config.mean_clicks - config.min_clicks
    lengths = config.min_clicks + (rng.geometric(1.0 / (1.0 + extra), size=n_users) - 1 if extra else 0)
    lengths = np.minimum(lengths, n_items - k)
    sizes = np.array([len(members) for members in by_category])
    starts = np.concatenate([[0], np.cumsum(sizes)])
    members = np.concatenate(by_category)
    seen = SeenItems(n_users, n_items)
    have = np.zeros(n_users, dtype=np.int64)
    out_user, out_item, out_time = [], [], []
    for round_ in range(config.rounds):
        need = np.flatnonzero(have < lengths)
        if need.size == 0:
            break
        pick = np.minimum((weights[need].cumsum(axis=1) <= rng.random(need.size)[:, None]).sum(axis=1),
                          liked.shape[1] - 1)
        category = liked[need, pick]
        within = members[starts[category][:, None]
                         + (rng.random((need.size, k)) * sizes[category][:, None]).astype(np.int64)]
        focused = rng.random((need.size, k)) < config.exposure_focus
        slates = np.where(focused, within, rng.integers(n_items, size=(need.size, k)))
        slates = distinct_rows(rng, slates, n_items)
        scores = np.einsum("bd,bkd->bk", users[need], items[slates])
        scores[seen.contains(need, slates)] = -np.inf
        choice = sample_choices(click_probabilities(scores, rules.no_click_threshold, rules.temperature),
                                rng.random(need.size))
        rows = np.flatnonzero(choice < k)
        clicked = slates[rows, choice[rows]]
        seen.add(need[rows], clicked)
        have[need[rows]] += 1
        out_user.append(need[rows])
        out_item.append(clicked)
        out_time.append(np.full(rows.size, float(round_)))
    if not out_user:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), np.empty(0)
    return np.concatenate(out_user), np.concatenate(out_item), np.concatenate(out_time)


