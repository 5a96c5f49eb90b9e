"""Atomic file output: write a temporary file in the target's folder, then rename it over the target.

A reader (or a crash) never sees a half-written file: the target either keeps its old content or has the
whole new content.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import numpy as np


def atomic_write(path: str | Path, write: Callable[[BinaryIO], None], mode: int | None = None) -> None:
    """Create or replace ``path`` with what ``write(handle)`` writes to a binary handle.

    The file gets ``mode``, by default ``0o666`` less the process's umask, as ``open()`` would give it (the
    temporary file ``mkstemp`` makes is ``0o600``); pass e.g. ``0o600`` for a secret. On any error (a full
    disk, a read-only folder) the temporary file is removed and ``path`` keeps its old content.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), _default_mode() if mode is None else mode)
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def removing_new_folders(*folders: str | Path) -> Iterator[None]:
    """Around writes into ``folders``: on an error, remove those of them, and of their parents, that did not
    exist before and are empty, so that a failed command (a full disk) leaves no empty folders behind."""
    new: set[Path] = set()
    for folder in map(Path, folders):
        for path in (folder, *folder.parents):
            if path.exists():
                break
            new.add(path)
    try:
        yield
    except BaseException:
        for path in sorted(new, key=lambda p: len(p.parts), reverse=True):
            try:
                path.rmdir()
            except OSError:  # not empty (or gone): keep it
                pass
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


def _default_mode() -> int:
    """``0o666`` less the umask: the mode ``open(path, "w")`` gives a new file."""
    umask = os.umask(0o077)  # reading the umask means setting it; restored at once
    os.umask(umask)
    return 0o666 & ~umask
