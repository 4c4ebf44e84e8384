"""Micro-batching: concurrent requests' questions go through one encoder call.

``BatchingEmbedder`` wraps an embedder. A caller that finds the encoder idle runs at once
with whatever is queued (leader/follower, no background thread), so a single client never
waits. While the encoder is busy, arriving calls queue; the next leader takes up to
``max_batch`` queued texts in one call. Under load (the previous batch held more than one
call, or calls are already waiting), the leader first waits up to ``max_wait_ms`` for the
batch to fill. Results are the same rows the inner embedder would give for each call.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from qa.indexing.embedding import Embedder


@dataclass
class _Call:
    texts: list[str]
    result: np.ndarray | None = None
    error: BaseException | None = None
    done: bool = False


@dataclass
class BatchStats:
    """What the batcher has done, for benchmarks and metrics."""

    calls: int = 0
    batches: int = 0
    texts: int = 0
    encode_seconds: float = 0.0
    sizes: list[int] = field(default_factory=list)  # texts per batch, the most recent 1,000

    def record(self, calls: int, texts: int, seconds: float) -> None:
        self.calls += calls
        self.batches += 1
        self.texts += texts
        self.encode_seconds += seconds
        self.sizes.append(texts)
        del self.sizes[:-1000]


class BatchingEmbedder:
    """An ``Embedder`` whose concurrent ``embed`` calls share encoder calls."""

    def __init__(
        self,
        inner: Embedder,
        *,
        max_batch: int = 32,
        max_wait_ms: float = 2.0,
        observer: Callable[[int, int, float], None] | None = None,
    ) -> None:
        self.inner = inner
        self.observer = observer  # (calls, texts, seconds) of each batch, e.g. Metrics.observe_batch
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000
        self.stats = BatchStats()
        self._cond = threading.Condition()
        self._queue: list[_Call] = []
        self._busy = False
        self._last_batch_calls = 0

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    @property
    def encoder(self) -> str:
        return self.inner.encoder

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    @property
    def max_tokens(self) -> int:
        return self.inner.max_tokens

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) >= self.max_batch or not texts:
            return self.inner.embed(texts)  # already a batch: no reason to queue it
        call = _Call(list(texts))
        with self._cond:
            self._queue.append(call)
            if self._busy:
                self._cond.notify_all()  # a leader waiting for company may take this call
            while not call.done:
                if self._busy:
                    self._cond.wait()
                    continue
                # The encoder is idle: lead the next batch (the oldest calls first, so this
                # caller may lead more than one before its own call is done).
                self._busy = True
                batch = self._take_batch()
                self._cond.release()
                try:
                    self._run(batch)
                finally:
                    self._cond.acquire()
                    self._busy = False
                    self._cond.notify_all()
        return self._result(call)

    def _take_batch(self) -> list[_Call]:
        """Under the lock: wait briefly for company when under load, then dequeue a batch."""
        if self._last_batch_calls > 1 or len(self._queue) > 1:
            deadline = time.monotonic() + self.max_wait
            while self._size(self._queue) < self.max_batch and (left := deadline - time.monotonic()) > 0:
                self._cond.wait(left)
        batch: list[_Call] = []
        while self._queue and (not batch or self._size(batch) + len(self._queue[0].texts) <= self.max_batch):
            batch.append(self._queue.pop(0))
        self._last_batch_calls = len(batch)
        return batch

    def _run(self, batch: list[_Call]) -> None:
        texts = [t for call in batch for t in call.texts]
        started = time.perf_counter()
        try:
            vectors = self.inner.embed(texts)
        except BaseException as exc:  # handed to every waiting caller, raised in each
            for call in batch:
                call.error, call.done = exc, True
            return
        row = 0
        for call in batch:
            call.result, call.done = vectors[row : row + len(call.texts)], True
            row += len(call.texts)
        seconds = time.perf_counter() - started
        self.stats.record(len(batch), len(texts), seconds)
        if self.observer is not None:
            self.observer(len(batch), len(texts), seconds)

    @staticmethod
    def _size(calls: list[_Call]) -> int:
        return sum(len(c.texts) for c in calls)

    @staticmethod
    def _result(call: _Call) -> np.ndarray:
        if call.error is not None:
            raise call.error
        assert call.result is not None
        return call.result
