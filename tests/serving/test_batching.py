"""Micro-batching: concurrent embed calls share encoder calls, and each caller gets its own rows."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import numpy as np
import pytest

from qa.serving.batching import BatchingEmbedder
from tests.fakes import FakeEmbedder


class SlowFake(FakeEmbedder):
    """The fake embedder with an encoder call that takes a while, as a real one does."""

    def __init__(self, seconds: float = 0.02) -> None:
        super().__init__()
        self.seconds = seconds
        self.batch_sizes: list[int] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.batch_sizes.append(len(texts))
        time.sleep(self.seconds)
        return super().embed(texts)


def test_a_single_caller_is_never_held_back() -> None:
    inner = SlowFake(seconds=0)
    batcher = BatchingEmbedder(inner, max_batch=32, max_wait_ms=50)
    started = time.perf_counter()
    for question in ("dose of pomalidomide", "side effects", "storage"):
        assert np.array_equal(batcher.embed([question]), FakeEmbedder().embed([question]))
    # One encoder call per question; no 50 ms waits for company that never comes.
    assert inner.batch_sizes == [1, 1, 1]
    assert time.perf_counter() - started < 0.1


def test_concurrent_callers_share_encoder_calls_and_get_their_own_rows() -> None:
    inner = SlowFake(seconds=0.05)
    batcher = BatchingEmbedder(inner, max_batch=32, max_wait_ms=5)
    questions = [f"question number {i} about dosage" for i in range(24)]
    results: dict[int, np.ndarray] = {}
    barrier = threading.Barrier(len(questions))

    def ask(i: int) -> None:
        barrier.wait()
        results[i] = batcher.embed([questions[i]])

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(questions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    expected = FakeEmbedder().embed(questions)
    for i in range(len(questions)):
        assert np.array_equal(results[i][0], expected[i])
    assert sum(inner.batch_sizes) == len(questions)
    assert len(inner.batch_sizes) < len(questions) / 2  # most calls were batched with others
    assert max(inner.batch_sizes) <= 32
    assert batcher.stats.calls == len(questions) and batcher.stats.texts == len(questions)


def test_a_batch_never_exceeds_max_batch() -> None:
    inner = SlowFake(seconds=0.02)
    batcher = BatchingEmbedder(inner, max_batch=4, max_wait_ms=1)
    threads = [threading.Thread(target=batcher.embed, args=(["a", "b"],)) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(inner.batch_sizes) == 20 and max(inner.batch_sizes) <= 4


def test_large_inputs_go_straight_through() -> None:
    inner = SlowFake(seconds=0)
    batcher = BatchingEmbedder(inner, max_batch=4)
    batcher.embed([f"text {i}" for i in range(10)])
    assert inner.batch_sizes == [10] and batcher.stats.batches == 0


def test_an_encoder_error_reaches_every_caller_of_the_batch() -> None:
    class Broken(SlowFake):
        def embed(self, texts: Sequence[str]) -> np.ndarray:
            time.sleep(0.02)
            raise RuntimeError("encoder failed")

    batcher = BatchingEmbedder(Broken(), max_batch=8, max_wait_ms=5)
    errors: list[BaseException] = []

    def ask() -> None:
        try:
            batcher.embed(["question"])
        except RuntimeError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)
    assert len(errors) == 6 and all(str(e) == "encoder failed" for e in errors)
    # The batcher is not left busy: the next call runs.
    with pytest.raises(RuntimeError, match="encoder failed"):
        batcher.embed(["again"])
