"""Agent checkpoints: a directory of ``.npy`` arrays (and JSON), byte-identical for identical state."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from recsim_lab.atomic import atomic_save_npy, atomic_write_text


def save_arrays(directory: Path, **arrays: np.ndarray) -> None:
    """Write each array as ``directory/<name>.npy`` (the directory is created if missing)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        atomic_save_npy(directory / f"{name}.npy", array)


def load_arrays(directory: Path, *names: str) -> list[np.ndarray]:
    """Read ``directory/<name>.npy`` for each name (``allow_pickle=False``)."""
    arrays = []
    for name in names:
        path = Path(directory) / f"{name}.npy"
        if not path.is_file():
            raise FileNotFoundError(f"checkpoint {directory} has no {name}.npy; was it written by this agent?")
        arrays.append(np.load(path, allow_pickle=False))
    return arrays


def save_json(path: Path, value: Any) -> None:
    atomic_write_text(path, json.dumps(value, indent=2, sort_keys=True) + "\n")


def load_json(path: Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def rng_state(rng: np.random.Generator) -> dict[str, Any]:
    """A JSON-able snapshot of a generator's state."""
    return rng.bit_generator.state


def restore_rng(state: dict[str, Any]) -> np.random.Generator:
    """A generator in exactly the snapshotted state."""
    bit_generator = getattr(np.random, state["bit_generator"])()
    bit_generator.state = state
    return np.random.Generator(bit_generator)
