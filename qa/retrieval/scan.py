"""The exact scan (every chunk vector against the question), split over two cores when it runs
alone.

The service keeps BLAS to one thread per call (``QA_BLAS_THREADS``): under load, many requests
scan at once, and multi-threaded BLAS calls from many request threads thrash the cores. A lone
client would leave the second core idle, so a scan that starts while no other scan runs computes
the second half of the rows on a helper thread (NumPy releases the GIL) while the calling thread
computes the first half (``eval/bench_query.py --scan`` times both; the README gives the figures);
below ``SPLIT_ROWS`` rows the hand-off costs more than it saves. Where BLAS may use several threads
(``qa eval``, ``qa ask``, or ``QA_BLAS_THREADS=0``), it already spreads the product, and the scan
is not split.
"""

from __future__ import annotations

import functools
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

SPLIT_ROWS = 8192


@functools.cache
def _helper() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="qa-scan")


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the platform tells it)."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity else os.cpu_count() or 1


def single_threaded_blas() -> bool:
    """Whether NumPy's BLAS is limited to one thread now (FAISS brings a BLAS of its own, which
    the scan does not use; where NumPy's cannot be told apart, every BLAS must be)."""
    from threadpoolctl import threadpool_info

    blas = [lib for lib in threadpool_info() if lib.get("user_api") == "blas"]
    numpy_own = [lib for lib in blas if "/numpy" in lib.get("filepath", "")]
    found = [lib["num_threads"] for lib in numpy_own or blas]
    return bool(found) and max(found) == 1


class ExactScan:
    """``matrix @ vector`` for a fixed matrix of unit rows; thread-safe. ``split`` forces the
    split on or off; by default it is on for a matrix of ``SPLIT_ROWS`` rows or more, on a
    machine of two cores or more, while BLAS runs one thread per call."""

    def __init__(self, matrix: np.ndarray, *, split: bool | None = None, split_rows: int = SPLIT_ROWS) -> None:
        self.matrix = np.ascontiguousarray(matrix)
        if split is None:
            split = len(matrix) >= max(split_rows, 128) and usable_cores() > 1 and single_threaded_blas()
        self.split = split
        self._lock = threading.Lock()
        self._running = 0

    def __call__(self, vector: np.ndarray) -> np.ndarray:
        with self._lock:
            self._running += 1
            alone = self._running == 1
        try:
            if not (alone and self.split and vector.ndim == 1):
                return self.matrix @ vector
            # At a multiple of 64 rows, so that BLAS computes every row with the same kernel as in
            # one product (a cut elsewhere leaves remainder rows that come out 1 ulp apart).
            half = len(self.matrix) // 2 // 64 * 64
            out = np.empty(len(self.matrix), dtype=np.result_type(self.matrix, vector))
            lower = _helper().submit(np.matmul, self.matrix[half:], vector, out=out[half:])
            np.matmul(self.matrix[:half], vector, out=out[:half])
            lower.result()
            return out
        finally:
            with self._lock:
                self._running -= 1
