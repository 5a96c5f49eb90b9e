"""Which items each user has already clicked, as one bitset per user.

A ``(n_users, ceil(n_items / 8))`` uint8 matrix: bit ``i % 8`` of byte ``i // 8`` in row ``u`` is set when
item ``i`` is in user ``u``'s history. At the DataLab scale (2,000 users x 209,527 items) that is 52 MB,
and membership for a whole batch of slates is one fancy-indexing operation. The environment keeps the
true histories this way; agents use the same class for their own view of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from recsim_lab.checkpoint import load_arrays, save_arrays

_BIT = np.left_shift(np.uint8(1), np.arange(8, dtype=np.uint8))  # _BIT[j] == 1 << j
_POPCOUNT = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1).sum(axis=1).astype(np.uint8)


class SeenItems:
    """Per-user sets of item ids over a fixed catalogue.

    Args:
        n_users: number of users (rows).
        n_items: catalogue size; item ids are ``0..n_items-1``.
        bits: an existing ``(n_users, ceil(n_items / 8))`` uint8 bitset to adopt (not copied).
    """

    def __init__(self, n_users: int, n_items: int, bits: np.ndarray | None = None) -> None:
        shape = (n_users, (n_items + 7) // 8)
        if bits is None:
            bits = np.zeros(shape, dtype=np.uint8)
        elif bits.shape != shape or bits.dtype != np.uint8:
            raise ValueError(f"bits must be uint8 of shape {shape}, got {bits.dtype} {bits.shape}")
        self.n_users = n_users
        self.n_items = n_items
        self.bits = bits
        # (n_users,) number of items in each set, kept up to date by add()
        self.sizes = np.zeros(n_users, dtype=np.int64)
        if bits.any():
            self.sizes += _POPCOUNT[bits].sum(axis=1, dtype=np.int64)

    @classmethod
    def from_histories(cls, histories: Sequence[np.ndarray], n_items: int) -> SeenItems:
        """Build from one array of item ids per user (ids must already be in range)."""
        seen = cls(len(histories), n_items)
        lengths = np.fromiter((len(h) for h in histories), dtype=np.int64, count=len(histories))
        if lengths.sum():
            users = np.repeat(np.arange(len(histories)), lengths)
            items = np.concatenate([np.asarray(h, dtype=np.int64) for h in histories])
            seen.add(users, items)
        return seen

    def copy(self) -> SeenItems:
        twin = SeenItems(self.n_users, self.n_items)
        twin.assign(self)
        return twin

    def assign(self, other: SeenItems) -> None:
        """Make this set equal to ``other`` (same shape) without reallocating."""
        np.copyto(self.bits, other.bits)
        np.copyto(self.sizes, other.sizes)

    def assign_rows(self, other: SeenItems, users: np.ndarray) -> None:
        """Make the sets of ``users`` (``(n,)`` ids) equal to theirs in ``other`` (same shape); others stay."""
        self.bits[users] = other.bits[users]
        self.sizes[users] = other.sizes[users]

    def contains(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Membership of ``items[b, j]`` in user ``users[b]``'s set.

        Args:
            users: ``(B,)`` user ids.
            items: ``(B, k)`` item ids in range.

        Returns:
            ``(B, k)`` bool.
        """
        rows = np.asarray(users, dtype=np.intp)[:, None] * self.bits.shape[1]
        cells = rows + (np.asarray(items, dtype=np.intp) >> 3)  # indices into the flat bitset (take: fast)
        return (self.bits.reshape(-1).take(cells) & _BIT[items & 7]) != 0

    def add(self, users: np.ndarray, items: np.ndarray) -> None:
        """Add ``items[b]`` to user ``users[b]``'s set; entries with ``items[b] == -1`` are skipped.

        Args:
            users: ``(B,)`` user ids (repeats allowed).
            items: ``(B,)`` item ids or -1.
        """
        keep = items >= 0
        users, items = users[keep], items[keep]
        new = ~self.contains(users, items[:, None])[:, 0]
        users, items = users[new], items[new]
        if users.size > 1:  # a pair repeated within one call is added (and counted) once
            users, items = np.divmod(np.unique(users * np.int64(self.n_items) + items), self.n_items)
        np.bitwise_or.at(self.bits, (users, items >> 3), _BIT[items & 7])
        np.add.at(self.sizes, users, 1)

    def add_new(self, users: np.ndarray, items: np.ndarray) -> None:
        """:meth:`add` for pairs known to be new: ``users`` distinct, ``items[b]`` (not -1) not yet in
        ``users[b]``'s set. Skips the checks :meth:`add` makes, so it is cheaper; the result is the same.

        Args:
            users: ``(B,)`` distinct user ids.
            items: ``(B,)`` item ids, none already in its user's set.
        """
        self.bits[users, items >> 3] |= _BIT[items & 7]  # distinct users: no (row, byte) cell twice
        self.sizes[users] += 1

    def contains_one(self, user: int, items: list[int]) -> list[bool]:
        """Membership of each of ``items`` in ``user``'s set (scalar fast path of :meth:`contains`)."""
        row = memoryview(self.bits[user])  # indexing a memoryview gives Python ints, faster than NumPy scalars
        return [row[i >> 3] >> (i & 7) & 1 == 1 for i in items]

    def add_one(self, user: int, item: int) -> None:
        """Add one ``item`` (not -1) to ``user``'s set (scalar fast path of :meth:`add`)."""
        byte = self.bits[user, item >> 3]
        if not byte >> (item & 7) & 1:
            self.bits[user, item >> 3] = byte | (1 << (item & 7))
            self.sizes[user] += 1

    def dense(self, users: np.ndarray) -> np.ndarray:
        """``(len(users), n_items)`` bool matrix of membership, for masking full score rows."""
        return np.unpackbits(self.bits[users], axis=1, count=self.n_items, bitorder="little").view(bool)


    def save(self, directory: Path, name: str = "seen") -> None:
        """Write ``<name>.npy`` (the bitset) and ``<name>_n_items.npy`` into a checkpoint directory."""
        save_arrays(directory, **{name: self.bits, f"{name}_n_items": np.array(self.n_items, dtype=np.int64)})

    @classmethod
    def load(cls, directory: Path, name: str = "seen") -> SeenItems:
        """Read what :meth:`save` wrote."""
        bits, n_items = load_arrays(directory, name, f"{name}_n_items")
        return cls(bits.shape[0], int(n_items), bits)
