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

from recsim_lab.validation import check_fields
from recsim_lab.worlds.logging_rounds import sample_tastes, simulate_logging
from recsim_lab.worlds.scale_rule import calibrated_scale
from recsim_lab.worlds.sparse import CSRMatrix
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
        check_fields(self, ("n_users", "text_dims", "attractive_items", "rounds", "min_clicks"), int,
                     prefix="CatalogueUsersConfig.", min_val=1)
        check_fields(self, ("mean_clicks",), float, prefix="CatalogueUsersConfig.", min_val=self.min_clicks)
        check_fields(self, ("exposure_focus",), float, prefix="CatalogueUsersConfig.", min_val=0.0, max_val=1.0)
        check_fields(self, ("seed",), int, prefix="CatalogueUsersConfig.", min_val=0)


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
    rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
    df = np.bincount(cols, minlength=len(vocabulary))
    keep = np.flatnonzero((df >= 2) & (df <= max(2, n // 2)))
    if keep.size == 0:
        return np.zeros((n, 1))
    column = np.full(len(vocabulary), -1, dtype=np.int64)  # a word's column among the kept ones, else -1
    column[keep] = np.arange(keep.size)
    kept = column[cols] >= 0
    rows, cols = rows[kept], column[cols[kept]]
    tfidf = CSRMatrix.from_pairs(rows, cols, np.log(n / df[keep])[cols], (n, keep.size))
    words = tfidf.transposed()
    rank = int(min(dims, keep.size, n))
    rng = np.random.default_rng(seed)
    basis = tfidf @ rng.standard_normal((keep.size, rank + 10))
    for _ in range(2):  # power iterations sharpen the spectrum
        basis, _ = np.linalg.qr(basis)
        basis = tfidf @ (words @ basis)
    basis, _ = np.linalg.qr(basis)
    small_u, singular, _ = np.linalg.svd((words @ basis).T, full_matrices=False)
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
    liked, weights = sample_tastes(users_rng, config.n_users, n_cat, p=sizes / sizes.sum(), counts_first=True)
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
    sample = users[: min(512, config.n_users)]
    scale, median_kth = calibrated_scale(sample, items, [np.empty(0, dtype=np.int64)] * len(sample), k,
                                         rules.no_click_threshold)
    users *= scale
    event_user, event_item, event_time = simulate_logging(
        log_rng, users, items, item_category, n_cat, liked, weights, rules, mean_length=config.mean_clicks,
        min_length=config.min_clicks, rounds=config.rounds, exposure_focus=config.exposure_focus,
        within_first=True)
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
