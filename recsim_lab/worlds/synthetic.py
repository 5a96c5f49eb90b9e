"""The built-in synthetic world, generated deterministically from a seed (no files needed).

Hidden structure: 12 topics x 4 subtopics (see :mod:`recsim_lab.worlds.vocabulary`). Latent dimension 0 is item
quality (every user likes quality a little); the other dimensions hold topic and subtopic directions.

- Item ``i`` in subtopic ``s``: ``[quality_i, centre_s + noise_i]``; its headline and description are
  written from ``s``'s words (mostly), its topic's other words and a little noise, so text similarity
  carries real signal about the latent vectors, but not all of it (``noise_i`` is invisible in text).
- User ``u`` likes 1 to 3 subtopics with Dirichlet weights: ``[taste_u, sum_s w_us centre_s + noise_u]``.
- One global scale is calibrated so that the median user has ``attractive_items`` items scoring above
  the no-click threshold.
- Initial histories are drawn through the same choice model (:mod:`recsim_lab.worlds.choice`): each round a user
  is shown 5 distinct items, mostly from a subtopic they like (exposure follows interest, as in a real
  log), and clicks at most one, until their history reaches its drawn length.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from recsim_lab.data import Dataset
from recsim_lab.validation import check_fields, check_scalar
from recsim_lab.worlds.logging_rounds import sample_tastes, simulate_logging
from recsim_lab.worlds.scale_rule import calibrated_scale
from recsim_lab.worlds.vocabulary import DESCRIPTION_TEMPLATES, HEADLINE_TEMPLATES, TOPICS
from recsim_lab.worlds.world import Rules, World

_SUBTOPIC_WORDS = [words for subtopics in TOPICS.values() for words in subtopics]
_TOPIC_OF_SUBTOPIC = np.repeat(np.arange(len(TOPICS)), [len(s) for s in TOPICS.values()])


@dataclass(frozen=True)
class SyntheticConfig:
    """Size and shape of a synthetic world."""

    n_users: int = 2000
    """Users in the world (test population)."""
    n_train_users: int = 1000
    """The first users, forming the training population."""
    n_items: int = 3000
    """Catalogue size."""
    dim: int = 42
    """Latent dimension (>= 2: one quality dimension plus topic directions)."""
    attractive_items: int = 60
    """The median user has this many items scoring above the no-click threshold."""
    mean_history: float = 20.0
    """Mean length of an initial click history."""
    min_history: int = 3
    """Shortest initial click history."""
    history_rounds: int = 300
    """Logging rounds simulated for the histories; a user who clicks rarely ends below their drawn length."""
    exposure_focus: float = 0.8
    """Share of a history round's slate drawn from a subtopic the user likes (the rest: any item)."""
    seed: int = 0
    """Root seed; the same seed gives the same world."""
    rules: Rules = field(default_factory=Rules)
    """Choice and patience rules."""

    def __post_init__(self) -> None:
        check_scalar(self.rules, "rules", Rules)
        check_fields(self, ("n_users",), int, min_val=1)
        check_fields(self, ("n_train_users",), int, min_val=0, max_val=self.n_users)
        check_fields(self, ("n_items",), int, min_val=self.rules.slate_size)
        check_fields(self, ("dim",), int, min_val=2)
        check_fields(self, ("attractive_items",), int, min_val=1, max_val=self.n_items)
        check_fields(self, ("min_history", "history_rounds", "seed"), int, min_val=0)
        check_fields(self, ("mean_history",), float, min_val=self.min_history)
        check_fields(self, ("exposure_focus",), float, min_val=0.0, max_val=1.0)


def build_synthetic_world(config: SyntheticConfig, name: str = "synthetic") -> World:
    """Generate a world; the same config (seed included) gives an identical world."""
    geometry, items_rng, users_rng, history_rng, text_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(config.seed).spawn(5)
    )
    n_sub = len(_SUBTOPIC_WORDS)
    centres = _subtopic_centres(geometry, config.dim - 1)
    item_sub = items_rng.integers(n_sub, size=config.n_items)
    item_vectors = np.empty((config.n_items, config.dim))
    item_vectors[:, 0] = items_rng.standard_normal(config.n_items)
    item_vectors[:, 1:] = centres[item_sub] + 0.5 * _unit_rows(items_rng, config.n_items, config.dim - 1)

    liked, weights = sample_tastes(users_rng, config.n_users, n_sub)
    user_vectors = np.empty((config.n_users, config.dim))
    user_vectors[:, 0] = 0.25 + 0.1 * users_rng.standard_normal(config.n_users)
    direction = np.einsum("uk,ukd->ud", weights, centres[liked]) + 0.3 * _unit_rows(
        users_rng, config.n_users, config.dim - 1)
    user_vectors[:, 1:] = direction / np.linalg.norm(direction, axis=1, keepdims=True)
    sample = user_vectors[: min(256, config.n_users)]
    scale, _ = calibrated_scale(sample, item_vectors, [np.empty(0, dtype=np.int64)] * len(sample),
                                config.attractive_items, config.rules.no_click_threshold)
    user_vectors *= scale

    event_user, event_item, _ = simulate_logging(
        history_rng, user_vectors, item_vectors, item_sub, n_sub, liked, weights, config.rules,
        mean_length=config.mean_history, min_length=config.min_history, rounds=config.history_rounds,
        exposure_focus=config.exposure_focus)
    histories = np.split(event_item[np.argsort(event_user, kind="stable")],
                         np.bincount(event_user, minlength=config.n_users).cumsum()[:-1])
    headlines, descriptions = _write_texts(text_rng, item_sub)
    topic_names = list(TOPICS)
    dataset = Dataset(headlines=headlines, descriptions=descriptions,
                      categories=[topic_names[t] for t in _TOPIC_OF_SUBTOPIC[item_sub]],
                      histories=histories, n_train_users=config.n_train_users)
    info = {"generator": "recsim_lab.worlds.synthetic", "seed": config.seed, "scale": float(scale),
            "attractive_items": config.attractive_items}
    return World(dataset, user_vectors, item_vectors, rules=config.rules, name=name, info=info)


def _unit_rows(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    rows = rng.standard_normal((n, d))
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _subtopic_centres(rng: np.random.Generator, d: int) -> np.ndarray:
    """``(n_subtopics, d)`` unit vectors: subtopics of one topic share a topic direction."""
    topics = _unit_rows(rng, len(TOPICS), d)
    centres = topics[_TOPIC_OF_SUBTOPIC] + 0.7 * _unit_rows(rng, _TOPIC_OF_SUBTOPIC.size, d)
    return centres / np.linalg.norm(centres, axis=1, keepdims=True)


def _write_texts(rng: np.random.Generator, item_sub: np.ndarray) -> tuple[list[str], list[str]]:
    """Headline and description per item from its subtopic's words, its topic's words and some noise."""
    n = item_sub.size
    n_sub = len(_SUBTOPIC_WORDS)
    own = rng.integers(6, size=(n, 3))
    sibling = _TOPIC_OF_SUBTOPIC[item_sub] * 4 + rng.integers(4, size=n)
    noise_sub = np.where(rng.random(n) < 0.15, rng.integers(n_sub, size=n), sibling)
    other = rng.integers(6, size=(n, 2))
    heads = rng.integers(len(HEADLINE_TEMPLATES), size=n)
    descs = rng.integers(len(DESCRIPTION_TEMPLATES), size=n)
    headlines, descriptions = [], []
    for i in range(n):
        words = _SUBTOPIC_WORDS[item_sub[i]]
        a, b = words[own[i, 0]], words[(own[i, 0] + 1 + own[i, 1] % 5) % 6]
        c = _SUBTOPIC_WORDS[sibling[i]][other[i, 0]]
        d = _SUBTOPIC_WORDS[noise_sub[i]][other[i, 1]]
        headline = HEADLINE_TEMPLATES[heads[i]].format(a=a, b=b)
        headlines.append(headline[0].upper() + headline[1:])
        description = DESCRIPTION_TEMPLATES[descs[i]].format(a=b, b=c, c=d)
        descriptions.append(description[0].upper() + description[1:])
    return headlines, descriptions
