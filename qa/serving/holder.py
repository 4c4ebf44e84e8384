"""The service a server answers with, or why there is none yet. Framework-free: the HTTP
adapter keeps one on its app state and loads it in a background thread at startup."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from qa.errors import QAError
from qa.indexing.embedding import Embedder
from qa.serving.service import QAService, stale_reasons
from qa.settings import Settings

logger = logging.getLogger(__name__)


@dataclass
class ServiceHolder:
    """The loaded service, or why there is none yet."""

    service: QAService | None = None
    error: str | None = None
    stale: tuple[str, ...] = ()

    def load(self, settings: Settings, embedder: Embedder | None = None) -> None:
        """Open the index at ``settings.index_dir`` and warm the model up; on failure keep the
        reason for ``/ready`` and the log. Never raises."""
        try:
            service = QAService.open(settings, embedder)
            service.warm_up()
            self.stale = tuple(stale_reasons(service.index, settings, service.embedder))
            for reason in self.stale:
                logger.warning("index %s may be stale: %s; run `qa index`", settings.index_dir, reason)
            self.service = service
            logger.info(
                "index loaded: %d chunks from %d documents", len(service.index.chunks), len(service.index.documents)
            )
        except QAError as exc:
            self.error = f"cannot serve: {exc}"
            logger.error("%s", self.error)
        except Exception:
            self.error = "cannot serve: loading the index failed unexpectedly; see the server log"
            logger.exception("loading the index failed")
