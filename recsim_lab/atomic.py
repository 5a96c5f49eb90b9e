"""Atomic file output: write a temporary file in the target's folder, then rename it over the target.

A reader (or a crash) never sees a half-written file: the target either keeps its old content or has the
whole new content.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np


def atomic_write(path: str | Path, write: Callable[[BinaryIO], None]) -> None:
    """Create or replace ``path`` with what ``write(handle)`` writes to a binary handle."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """Create or replace ``path`` with UTF-8 ``text`` (newlines written as given)."""
    atomic_write(path, lambda handle: handle.write(text.encode("utf-8")))


def atomic_save_npy(path: str | Path, array: np.ndarray) -> None:
    """Create or replace ``path`` with ``array`` in ``.npy`` format (byte-identical for equal arrays)."""
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    atomic_write(path, lambda handle: handle.write(buffer.getvalue()))


def atomic_save_npz(path: str | Path, **arrays: np.ndarray) -> None:
    """Create or replace ``path`` with ``arrays`` in ``.npz`` format."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write(path, lambda handle: handle.write(buffer.getvalue()))
