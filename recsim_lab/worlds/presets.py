"""Environment presets: builders that turn a generator (or a world directory) into a :class:`World`.

``make_world("default")`` builds the built-in synthetic world; ``make_world("path/to/dir")`` loads a world
directory (DataLab-format dataset files plus ``world.npz``). ``recsim-lab envs`` lists the presets.

A preset is generated from a world seed: :data:`PUBLIC_WORLD_SEED` unless another is given
(``make_world("small", seed=...)``). The public seed is what ``run``, the environments and the tests use, so
anyone can rebuild those worlds; ``evaluate`` draws a secret seed instead (see
:mod:`recsim_lab.evaluation.receipts`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from recsim_lab.names import unknown_name_error
from recsim_lab.validation import check_scalar
from recsim_lab.worlds.synthetic import SyntheticConfig, build_synthetic_world
from recsim_lab.worlds.world import Rules, World

PUBLIC_WORLD_SEED = 0
"""The world seed of every preset unless another is given: public, so a world built with it is no secret."""

SPARSE = SyntheticConfig(n_items=20_000, dim=8, mean_history=6.0, min_history=2, attractive_items=100,
                         rules=Rules(no_click_threshold=1.0, temperature=0.2))
"""The ``sparse`` preset's shape (its ``seed`` is replaced by the world seed): a catalogue ~7 times the default's,
short histories (mean 6 clicks, at least 2), a low-dimensional taste (7 topic dimensions for 48 subtopics, so
subtopics overlap), 100 attractive items for the median user, and choices less sharp than the default
(no-click threshold 1.0, temperature 0.2 against 1.7 and 0.1), so a random slate is clicked more often and
a click says less."""


@dataclass(frozen=True)
class Preset:
    """A named world: how to build it from a world seed, and one line saying what it is."""

    generate: Callable[[int], World]
    summary: str

    def build(self, seed: int = PUBLIC_WORLD_SEED) -> World:
        """The preset's world for ``seed`` (default: the public seed)."""
        return self.generate(check_scalar(seed, "world_seed", int, min_val=0))


PRESETS: dict[str, Preset] = {
    "default": Preset(
        lambda seed: build_synthetic_world(SyntheticConfig(seed=seed), name="default"),
        "synthetic, 2,000 users (1,000 train), 3,000 items, 42 dims; builds in about a second",
    ),
    "datalab": Preset(
        lambda seed: build_synthetic_world(SyntheticConfig(n_items=209_527, seed=seed), name="datalab"),
        "synthetic at the DataLab Cup scale: 2,000 users (1,000 train), 209,527 items, 42 dims",
    ),
    "small": Preset(
        lambda seed: build_synthetic_world(SyntheticConfig(n_users=200, n_train_users=100, n_items=500, seed=seed),
                                           name="small"),
        "synthetic, 200 users (100 train), 500 items, 42 dims; for quick tries",
    ),
    "sparse": Preset(
        lambda seed: build_synthetic_world(replace(SPARSE, seed=seed), name="sparse"),
        "synthetic, another shape: 2,000 users (1,000 train), 20,000 items, 8 dims, ~6 clicks a user, softer choices",
    ),
}


def make_world(spec: str | Path, *, seed: int | None = None) -> World:
    """Build a preset by name (from world ``seed``; ``None``: :data:`PUBLIC_WORLD_SEED`), or load a world
    directory.

    Raises:
        ValueError: ``spec`` is neither a preset nor a directory (with "did you mean" suggestions), or a
            ``seed`` for a world directory (its world is in its files).
    """
    spec = str(spec)
    if spec in PRESETS:
        return PRESETS[spec].build(PUBLIC_WORLD_SEED if seed is None else seed)
    if Path(spec).is_dir():
        if seed is not None:
            raise ValueError(f"a world seed applies to presets ({', '.join(PRESETS)}), not to the world "
                             f"directory {spec!r}, whose world is in its files")
        return World.load(spec)
    raise unknown_name_error("env", spec, PRESETS, hint=" An env can also be a world directory.")
