"""Environment presets: builders that turn a generator (or a world directory) into a :class:`World`.

``make_world("default")`` builds the built-in synthetic world; ``make_world("path/to/dir")`` loads a world
directory (DataLab-format dataset files plus ``world.npz``). ``recsim-lab envs`` lists the presets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from recsim_lab.names import unknown_name_error
from recsim_lab.worlds.synthetic import SyntheticConfig, build_synthetic_world
from recsim_lab.worlds.world import World


@dataclass(frozen=True)
class Preset:
    """A named world: how to build it and one line saying what it is."""

    build: Callable[[], World]
    summary: str


PRESETS: dict[str, Preset] = {
    "default": Preset(
        lambda: build_synthetic_world(SyntheticConfig(), name="default"),
        "synthetic, 2,000 users (1,000 train), 3,000 items, 42 dims; builds in about a second",
    ),
    "datalab": Preset(
        lambda: build_synthetic_world(SyntheticConfig(n_items=209_527), name="datalab"),
        "synthetic at the DataLab Cup scale: 2,000 users (1,000 train), 209,527 items, 42 dims",
    ),
    "small": Preset(
        lambda: build_synthetic_world(SyntheticConfig(n_users=200, n_train_users=100, n_items=500),
                                      name="small"),
        "synthetic, 200 users (100 train), 500 items, 42 dims; for quick tries",
    ),
}


def make_world(spec: str | Path) -> World:
    """Build a preset by name, or load a world directory.

    Raises:
        ValueError: ``spec`` is neither a preset nor a directory (with "did you mean" suggestions).
    """
    spec = str(spec)
    if spec in PRESETS:
        return PRESETS[spec].build()
    if Path(spec).is_dir():
        return World.load(spec)
    raise unknown_name_error("env", spec, PRESETS, hint=" An env can also be a world directory.")
