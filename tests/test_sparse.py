"""The NumPy CSR matrix of the worlds: products add each row's terms one by one in stored order (what keeps
imported worlds bit-identical to the SciPy version), through both the per-position and the per-row phase."""

from __future__ import annotations

import numpy as np

from recsim_lab.worlds.sparse import CSRMatrix


def sequential_product(matrix: CSRMatrix, dense: np.ndarray) -> np.ndarray:
    """The reference: for each row, 0 + t_0 + t_1 + ... in stored order, one addition at a time."""
    out = np.zeros((matrix.shape[0], dense.shape[1]), dtype=np.result_type(matrix.data, dense))
    for row in range(matrix.shape[0]):
        for pair in range(matrix.indptr[row], matrix.indptr[row + 1]):
            out[row] += matrix.data[pair] * dense[matrix.indices[pair]]
    return out


def test_products_add_terms_in_stored_order_bit_for_bit():
    rng = np.random.default_rng(0)
    lengths = np.minimum(rng.zipf(1.6, size=300), 150)  # skewed: many short rows, a few long ones
    rows = np.repeat(np.arange(300), lengths)
    columns = np.concatenate([rng.choice(200, size=n, replace=False) for n in lengths])
    matrix = CSRMatrix.from_pairs(rows, columns, rng.standard_normal(rows.size).astype(np.float32), (300, 200))
    dense = (rng.standard_normal((200, 7)) * 10.0 ** rng.integers(-4, 5, size=(200, 7))).astype(np.float32)
    expected = sequential_product(matrix, dense)
    np.testing.assert_array_equal(matrix @ dense, expected)
    full = np.zeros(matrix.shape, dtype=np.float32)
    full[matrix.row_of_each, matrix.indices] = matrix.data
    assert not np.array_equal(expected, full @ dense)  # another order of additions rounds differently here
    assert matrix._plan[4].size and matrix._plan[3].size  # rows finished per position and one by one
    back = rng.standard_normal((300, 3))
    np.testing.assert_array_equal(matrix.transposed() @ back, sequential_product(matrix.transposed(), back))


def test_from_pairs_sorts_columns_within_rows_and_transposes():
    matrix = CSRMatrix.from_pairs(np.array([1, 0, 1, 1]), np.array([2, 1, 0, 1]), np.array([1.0, 2.0, 3.0, 4.0]),
                                  (3, 3))
    assert matrix.indptr.tolist() == [0, 1, 4, 4] and matrix.indices.tolist() == [1, 0, 1, 2]
    assert matrix.data.tolist() == [2.0, 3.0, 4.0, 1.0] and matrix.nnz == 4
    dense = np.zeros(matrix.shape)
    dense[matrix.row_of_each, matrix.indices] = matrix.data
    transposed = matrix.transposed()
    assert transposed.shape == (3, 3)
    np.testing.assert_array_equal(transposed @ np.eye(3), dense.T)
    np.testing.assert_array_equal(matrix @ np.eye(3), dense)
