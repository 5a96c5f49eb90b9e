"""Agent checkpoints: a directory of ``.npy`` arrays (and JSON), byte-identical for identical state; and a
checkpoint's files as bytes, to carry it to another process or machine."""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
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


def checkpoint_files(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory``, ``{relative POSIX path: bytes}``, in name order.

    Raises:
        ValueError: an entry that is neither a folder nor a regular file (a link, a pipe).
    """
    directory = Path(directory)
    files = {}
    for path in sorted(directory.rglob("*")):
        name = path.relative_to(directory).as_posix()
        if path.is_symlink() or not (path.is_dir() or path.is_file()):
            raise ValueError(f"checkpoint {directory} holds {name!r}, which is not a regular file or folder")
        if path.is_file():
            files[name] = path.read_bytes()
    return files


def write_checkpoint_files(directory: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` (as :func:`checkpoint_files` gives them) under ``directory``, folders created.

    Raises:
        ValueError: a name that is not a plain relative path (absolute, empty, ``.`` or ``..`` parts): nothing
            is written then.
    """
    for name in files:
        parts = PurePosixPath(name).parts if isinstance(name, str) else ()
        if not parts or name.startswith("/") or any(part in ("", ".", "..") for part in parts) or "\0" in name:
            raise ValueError(f"checkpoint file name {name!r} is not a relative path inside the checkpoint")
    for name, data in files.items():
        path = Path(directory, *PurePosixPath(name).parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
