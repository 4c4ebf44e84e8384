"""The exact scan gives the same cosines split over two threads as in one product."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from qa.retrieval.scan import ExactScan, usable_cores


def _matrix(rows: int = 1001, dimension: int = 16) -> np.ndarray:
    matrix = np.random.default_rng(0).normal(size=(rows, dimension)).astype(np.float32)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def test_a_split_scan_equals_the_plain_product() -> None:
    matrix = _matrix()
    split, plain = ExactScan(matrix, split=True), ExactScan(matrix, split=False)
    assert split.split and not plain.split
    for vector in matrix[:20]:
        assert np.allclose(split(vector), matrix @ vector, rtol=0, atol=1e-6)
        assert np.allclose(plain(vector), matrix @ vector, rtol=0, atol=1e-6)


def test_the_split_is_for_large_matrices_while_blas_runs_one_thread() -> None:
    from threadpoolctl import threadpool_limits

    assert not ExactScan(_matrix(rows=100), split_rows=8192).split
    with threadpool_limits(limits=1, user_api="blas"):
        assert ExactScan(_matrix(rows=200), split_rows=1).split == (usable_cores() > 1)
    with threadpool_limits(limits=2, user_api="blas"):
        assert not ExactScan(_matrix(rows=200), split_rows=1).split


def test_concurrent_scans_each_get_their_own_answer() -> None:
    matrix = _matrix()
    scan = ExactScan(matrix, split=True)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(scan, matrix[:200]))
    assert all(
        np.allclose(result, matrix @ vector, rtol=0, atol=1e-6)
        for result, vector in zip(results, matrix[:200], strict=True)
    )
    assert scan._running == 0


def test_a_column_vector_or_a_fortran_matrix_gives_the_plain_product() -> None:
    matrix = np.asfortranarray(_matrix())
    scan = ExactScan(matrix, split=True)
    assert np.allclose(scan(matrix[0]), matrix @ matrix[0], rtol=0, atol=1e-6)
    column = matrix[1][:, None]
    assert np.allclose(scan(column), matrix @ column, rtol=0, atol=1e-6)


def test_on_medquads_size_the_split_gives_exactly_the_plain_product() -> None:
    from threadpoolctl import threadpool_limits

    matrix = _matrix(rows=29_727, dimension=384)  # an odd size: the halves are cut at 64 rows
    split, plain = ExactScan(matrix, split=True), ExactScan(matrix, split=False)
    with threadpool_limits(limits=1, user_api="blas"):
        for vector in matrix[:5]:
            assert np.array_equal(split(vector), plain(vector))
