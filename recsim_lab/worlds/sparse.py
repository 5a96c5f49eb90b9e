"""Compressed sparse rows in plain NumPy: what the calibration and the text embedding need of a sparse matrix.

A product adds each row's terms one at a time, in stored order, starting from zero, as SciPy's CSR and CSC
kernels do; the sums are therefore bit-identical to ``scipy.sparse`` (which worlds used before, and which
the core install no longer needs). A pairwise or blocked sum (``np.add.reduceat``, a BLAS product) would
round differently and change every imported world.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np


@dataclass(frozen=True)
class CSRMatrix:
    """A ``shape`` matrix whose row ``r`` holds ``data[indptr[r]:indptr[r + 1]]`` in the columns
    ``indices[indptr[r]:indptr[r + 1]]``, increasing within a row."""

    indptr: np.ndarray
    """``(n_rows + 1,)`` int64 offsets of the rows in ``indices`` and ``data``."""
    indices: np.ndarray
    """``(nnz,)`` int64 column of each stored value."""
    data: np.ndarray
    """``(nnz,)`` the stored values."""
    shape: tuple[int, int]
    """``(n_rows, n_columns)``."""

    @classmethod
    def from_pairs(cls, rows: np.ndarray, columns: np.ndarray, data: np.ndarray, shape: tuple[int, int]
                   ) -> CSRMatrix:
        """The matrix with ``data[j]`` at ``(rows[j], columns[j])``; pairs must not repeat."""
        order = np.lexsort((columns, rows))
        indptr = np.zeros(shape[0] + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=shape[0]), out=indptr[1:])
        return cls(indptr, np.asarray(columns, dtype=np.int64)[order], np.asarray(data)[order], shape)

    @property
    def nnz(self) -> int:
        """Number of stored values."""
        return int(self.indices.size)

    @property
    def row_of_each(self) -> np.ndarray:
        """``(nnz,)`` int64 row of each stored value."""
        return np.repeat(np.arange(self.shape[0], dtype=np.int64), np.diff(self.indptr))

    def transposed(self) -> CSRMatrix:
        """The ``(n_columns, n_rows)`` transpose, its rows in increasing column order."""
        return CSRMatrix.from_pairs(self.indices, self.row_of_each, self.data, (self.shape[1], self.shape[0]))

    @cached_property
    def _plan(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """How :meth:`__matmul__` walks the stored values: ``(order, pairs, columns, heads, tails)``.

        The rows, longest first (``order``), add their p-th terms together for p = 0, 1, ... while that
        covers many rows (``heads[p]`` rows, a prefix of ``order``); the few long rows left then finish one
        by one (``tails[r]`` terms each; a cumulative sum along a row is sequential too). The switch
        minimises the number of NumPy calls, which is what costs on a skewed click log. ``pairs`` lists
        the stored values in that order (``columns`` their columns), so that every step reads a slice.
        """
        counts = np.diff(self.indptr)
        order = np.argsort(-counts, kind="stable")
        with_term = np.searchsorted(-counts[order], -np.arange(counts.max(initial=0) + 1), side="left")
        switch = int(np.argmin(np.arange(with_term.size) + with_term))
        lengths = counts[order]
        rank = np.repeat(np.arange(order.size), lengths)  # of each value, its row's place in ``order``
        within = np.arange(rank.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        step = np.where(within < switch, within, switch + rank)
        pairs = (np.repeat(self.indptr[order], lengths) + within)[np.lexsort((within, rank, step))]
        return order, pairs, self.indices[pairs], with_term[:switch], lengths[:with_term[switch]] - switch

    def __matmul__(self, dense: np.ndarray) -> np.ndarray:
        """``(n_rows, k)``: this matrix times the ``(n_columns, k)`` array ``dense`` (see the module docstring)."""
        order, pairs, columns, heads, tails = self._plan
        dtype = np.result_type(self.data, dense)
        terms = np.take(dense, columns, axis=0).astype(dtype, copy=False)  # take: several times faster than []
        terms *= self.data[pairs, None]
        out = np.zeros((self.shape[0], dense.shape[1]), dtype=dtype)
        start = 0
        for rows in heads.tolist():
            out[:rows] += terms[start:start + rows]
            start += rows
        for row, count in enumerate(tails.tolist()):
            out[row] = np.cumsum(np.concatenate([out[row:row + 1], terms[start:start + count]]), axis=0)[-1]
            start += count
        result = np.empty_like(out)
        result[order] = out
        return result
