"""The service a server answers with, or why there is none yet, and hot index swaps.

Framework-free: the HTTP adapter keeps one holder on its app state, loads it in a background
thread at startup, and calls ``reload`` from ``POST /admin/reload`` or a watcher thread.

A reload loads and verifies the new index next to the old one (checksums, model, encoder
probe, a warm-up query), then swaps the reference in one assignment. A request takes the
service once, when it starts, so in-flight requests finish on the index they began with.
A new index that fails any check is refused: the old one keeps serving, and the reason is
kept for ``/ready`` and the log.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from qa.errors import QAError
from qa.indexing.embedding import Embedder
from qa.indexing.manifest import MANIFEST
from qa.serving.batching import BatchingEmbedder
from qa.serving.metrics import Metrics
from qa.serving.service import QAService, make_embedder, stale_reasons
from qa.settings import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReloadOutcome:
    reloaded: bool
    fingerprint: str | None  # of the index now serving
    previous_fingerprint: str | None
    error: str | None
    took_ms: float
    at: str


def _signature(index_dir: Path) -> tuple[int, int, int] | None:
    """Changes whenever a build renames a new index into place (a new manifest inode)."""
    try:
        stat = (Path(index_dir) / MANIFEST).stat()
    except OSError:
        return None
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


@dataclass
class ServiceHolder:
    """The loaded service, or why there is none yet; the outcome of the last reload."""

    service: QAService | None = None
    error: str | None = None
    stale: tuple[str, ...] = ()
    embedder: Embedder | None = None
    last_reload: ReloadOutcome | None = None
    reloads: dict[str, int] = field(default_factory=lambda: {"ok": 0, "refused": 0})
    metrics: Metrics | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _signature: tuple[int, int, int] | None = None

    def _embedder(self, settings: Settings, embedder: Embedder | None) -> Embedder:
        if self.embedder is None:
            inner = embedder or make_embedder(settings)
            self.embedder = (
                BatchingEmbedder(
                    inner,
                    max_batch=settings.batch_max,
                    max_wait_ms=settings.batch_wait_ms,
                    observer=self.metrics.observe_batch if self.metrics else None,
                )
                if settings.batch_max > 1
                else inner
            )
        return self.embedder

    def _open(self, settings: Settings, embedder: Embedder | None) -> QAService:
        signature = _signature(settings.index_dir)
        service = QAService.open(settings, self._embedder(settings, embedder))
        service.warm_up()
        self.stale = tuple(stale_reasons(service.index, settings, service.embedder))
        for reason in self.stale:
            logger.warning("index %s may be stale: %s; run `qa index`", settings.index_dir, reason)
        self._signature = signature
        return service

    def load(self, settings: Settings, embedder: Embedder | None = None) -> None:
        """Open the index at ``settings.index_dir`` and warm the model up; on failure keep the
        reason for ``/ready`` and the log. Never raises."""
        with self._lock:
            try:
                self.service = self._open(settings, embedder)
                self.error = None
                index = self.service.index
                logger.info("index loaded: %d chunks from %d documents", len(index.chunks), len(index.documents))
            except QAError as exc:
                self.error = f"cannot serve: {exc}"
                logger.error("%s", self.error)
            except Exception:
                self.error = "cannot serve: loading the index failed unexpectedly; see the server log"
                logger.exception("loading the index failed")
            if self.service is None:
                self._signature = _signature(settings.index_dir)  # the watcher waits for new files

    def reload(self, settings: Settings) -> ReloadOutcome:
        """Load the index at ``settings.index_dir`` beside the serving one and swap to it, or
        refuse it and keep serving. Never raises; one reload runs at a time."""
        with self._lock:
            started = time.perf_counter()
            previous = self.service.index.fingerprint if self.service else None
            error = None
            try:
                service = self._open(settings, None)
            except QAError as exc:
                error = f"the new index was refused: {exc}"
            except Exception:
                logger.exception("reloading the index failed")
                error = "the new index was refused: loading it failed unexpectedly; see the server log"
            if error is None:
                self.service, self.error = service, None
                self.reloads["ok"] += 1
                logger.info("index reloaded: %s -> %s", previous, service.index.fingerprint)
            else:
                self._signature = _signature(settings.index_dir)  # do not retry the same bad files
                self.reloads["refused"] += 1
                if self.service is None:
                    self.error = f"cannot serve: {error}"
                logger.error("%s; still serving %s", error, previous or "nothing")
            if self.metrics is not None:
                self.metrics.reloaded(error is None)
            self.last_reload = ReloadOutcome(
                reloaded=error is None,
                fingerprint=self.service.index.fingerprint if self.service else None,
                previous_fingerprint=previous,
                error=error,
                took_ms=(time.perf_counter() - started) * 1000,
                at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            )
            return self.last_reload

    def changed(self, settings: Settings) -> bool:
        """Whether a different index has been put in place since the last (attempted) load."""
        current = _signature(settings.index_dir)
        return current is not None and current != self._signature

    def load_and_watch(self, settings: Settings, embedder: Embedder | None, stop: threading.Event) -> None:
        """Load, then (with ``settings.watch_seconds`` > 0) watch for new builds until ``stop``."""
        if settings.blas_threads:
            from threadpoolctl import threadpool_limits

            # For the whole serving process: 32 request threads each running a 2-thread BLAS scan
            # of MedQuAD's vectors gave 17.5 req/s and a 8.9 s p99; one thread each, see README.
            threadpool_limits(limits=settings.blas_threads, user_api="blas")
        self.load(settings, embedder)
        if settings.watch_seconds > 0:
            self.watch(settings, settings.watch_seconds, stop)

    def watch(self, settings: Settings, interval: float, stop: threading.Event) -> None:
        """Reload whenever a new index appears at ``settings.index_dir``; until ``stop`` is set."""
        while not stop.wait(interval):
            if self.changed(settings):
                self.reload(settings)
