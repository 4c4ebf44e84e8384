"""The service's Prometheus metrics, with prometheus-client.

One ``Metrics`` object per app, on its own registry (so that several apps in one process, as
in tests, never collide). Index figures are read from the serving index when scraped, so a
hot swap shows at once.

With several worker processes (``qa serve --workers N``) prometheus-client's multiprocess
mode is used: ``PROMETHEUS_MULTIPROC_DIR`` must name an empty directory before any worker
starts (``qa serve`` makes one), counters and histograms are summed over the workers, and the
index figures come from the worker that answers the scrape.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
ENCODER_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
logger = logging.getLogger(__name__)


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROCESS_ENV) or None


class IndexCollector(Collector):
    """``qa_index_*``: read from whatever index serves when the metrics are scraped; and the
    stored feedback counts."""

    def __init__(self, current: Callable[[], Any], feedback_counts: Callable[[], dict[str, int] | None]) -> None:
        self._current = current  # returns the serving QAService, or None
        self._feedback_counts = feedback_counts

    def collect(self) -> Iterator[Any]:
        try:
            counts = self._feedback_counts()
        except Exception:  # an unreadable feedback database must not take every other metric down
            logger.exception("feedback counts unavailable for /metrics")
            counts = None
        if counts is not None:
            stored = GaugeMetricFamily("qa_feedback_records", "Feedback records stored, by verdict", labels=["verdict"])
            for verdict, n in sorted(counts.items()):
                stored.add_metric([verdict], float(n))
            yield stored
        service = self._current()
        ready = GaugeMetricFamily("qa_index_ready", "1 when an index is loaded and serving")
        ready.add_metric([], 0.0 if service is None else 1.0)
        yield ready
        if service is None:
            return
        index = service.index
        manifest = index.manifest
        documents = GaugeMetricFamily("qa_index_documents", "Documents in the serving index")
        documents.add_metric([], float(len(index.documents)))
        chunks = GaugeMetricFamily("qa_index_chunks", "Passages (chunks) in the serving index")
        chunks.add_metric([], float(len(index.chunks)))
        yield documents
        yield chunks
        seconds = (manifest.get("build") or {}).get("seconds")
        if seconds is not None:
            build = GaugeMetricFamily("qa_index_build_seconds", "How long building the serving index took")
            build.add_metric([], float(seconds))
            yield build
        info = InfoMetricFamily("qa_index", "The serving index: corpus fingerprint, model, encoder, build time")
        info.add_metric(
            [],
            {
                "fingerprint": index.fingerprint,
                "model": str(index.model_id),
                "encoder": str(manifest.get("model", {}).get("encoder", "torch")),
                "created_at": str(manifest.get("created_at", "")),
            },
        )
        yield info


class Metrics:
    """Counters and histograms the HTTP layer and the service update."""

    def __init__(
        self,
        current_service: Callable[[], Any] = lambda: None,
        feedback_counts: Callable[[], dict[str, int] | None] = lambda: None,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._index = IndexCollector(current_service, feedback_counts)
        self.multiprocess = multiprocess_dir() is not None
        r = self.registry
        self.requests = Counter(
            "qa_http_requests",
            "HTTP requests by route template, method and status",
            ["route", "method", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "qa_http_request_duration_seconds",
            "Time from request to the end of the response (a whole event stream for SSE)",
            ["route", "method", "status"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_texts = Histogram(
            "qa_encoder_batch_texts", "Texts per encoder call of the micro-batcher", buckets=BATCH_BUCKETS, registry=r
        )
        self.batch_requests = Histogram(
            "qa_encoder_batch_requests", "Requests sharing one encoder call", buckets=BATCH_BUCKETS, registry=r
        )
        self.batch_seconds = Histogram(
            "qa_encoder_batch_seconds",
            "Time of one encoder call of the micro-batcher",
            buckets=ENCODER_BUCKETS,
            registry=r,
        )
        self.answers = Counter(
            "qa_answers", "Answers by endpoint and match level (strong, weak, none)", ["endpoint", "match"], registry=r
        )
        self.reloads = Counter("qa_index_reloads", "Index reloads by outcome (ok, refused)", ["outcome"], registry=r)
        self.rate_limited = Counter(
            "qa_rate_limited", "Requests refused with 429, by client kind (key, ip)", ["client"], registry=r
        )
        self.auth_refused = Counter("qa_auth_refused", "Requests refused with 401 or 403", ["status"], registry=r)
        self.feedback = Counter("qa_feedback", "Feedback received, by verdict", ["helpful"], registry=r)
        if not self.multiprocess:
            r.register(self._index)
            ProcessCollector(registry=r)  # process_resident_memory_bytes and friends, this process

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        labels = (route, method, str(status))
        self.requests.labels(*labels).inc()
        self.latency.labels(*labels).observe(seconds)

    def observe_batch(self, requests: int, texts: int, seconds: float) -> None:
        self.batch_requests.observe(requests)
        self.batch_texts.observe(texts)
        self.batch_seconds.observe(seconds)

    def answered(self, endpoint: str, match: str) -> None:
        self.answers.labels(endpoint, match).inc()

    def reloaded(self, ok: bool) -> None:
        self.reloads.labels("ok" if ok else "refused").inc()

    def exposition(self) -> tuple[bytes, str]:
        """The text format, and its content type."""
        if not self.multiprocess:
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        registry.register(self._index)
        return generate_latest(registry), CONTENT_TYPE_LATEST
