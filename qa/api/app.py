"""Build the FastAPI application: lifespan (the index loads in a background thread, so
``/health`` answers at once and ``/ready`` says when questions can be answered), middleware,
error handlers, and the routers."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from qa import __version__
from qa.api.access import is_loopback
from qa.api.errors import install_error_handlers
from qa.api.middleware import BodyLimit, RequestObserver
from qa.api.routes import admin, chat, documents, feedback, metrics, query, status, widget
from qa.indexing.embedding import Embedder
from qa.serving.feedback_desk import FeedbackDesk
from qa.serving.holder import ServiceHolder
from qa.serving.logs import configure_logging
from qa.serving.metrics import Metrics
from qa.serving.ratelimit import RateLimiter
from qa.settings import Settings, load_settings

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start loading the index in the background, so the server accepts requests at once, and
    watch the index directory for a new build."""
    settings: Settings = app.state.settings
    holder: ServiceHolder = app.state.holder
    if not app.state.keyring.enabled and not is_loopback(settings.host):
        logger.warning(
            "SERVING ON %s WITH NO API KEYS: anyone who can reach this address may query the API. "
            "Set QA_API_KEYS (query:<key>,admin:<key>), or bind to 127.0.0.1 behind a proxy that authenticates.",
            settings.host,
        )
    stop = threading.Event()
    if app.state.load_on_startup:
        try:  # feedback needs the answer-id secret: say now, not at the first chat, if it cannot be had
            app.state.feedback.ids  # noqa: B018
        except OSError as exc:
            logger.error("feedback is off: %s is not writable (%s); set QA_DATA_DIR", settings.data_dir, exc)
        # Load, then watch for a new build to swap in (QA_WATCH_SECONDS).
        threading.Thread(
            target=holder.load_and_watch, args=(settings, app.state.embedder, stop), name="qa-index", daemon=True
        ).start()
    yield
    stop.set()


def create_app(settings: Settings, *, embedder: Embedder | None = None, load_on_startup: bool = True) -> FastAPI:
    """The app. With ``load_on_startup`` the index at ``settings.index_dir`` loads in the
    background when the server starts; ``embedder`` replaces the configured model."""
    app = FastAPI(
        title="Drug reference QA",
        version=__version__,
        summary="Passages from drug monographs and guideline pages, with exact source attribution.",
        lifespan=lifespan,
    )
    holder = ServiceHolder()
    app.state.feedback = desk = FeedbackDesk(settings)
    app.state.metrics = holder.metrics = Metrics(lambda: holder.service, desk.counts)
    app.state.holder = holder
    app.state.settings = settings
    app.state.keyring = settings.keyring()
    app.state.limiter = RateLimiter(settings.rate_limit, settings.rate_burst) if settings.rate_limit > 0 else None
    app.state.embedder = embedder
    app.state.load_on_startup = load_on_startup
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)
    # Outside the body limit: even a 413 or 422 carries CORS headers for an allowed origin.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.allowed_origins(),
        allow_methods=["GET", "POST"],
        allow_headers=["Content-Type", "Accept", "X-API-Key", "Authorization", "X-Request-ID"],
        expose_headers=["X-Request-ID", "Retry-After"],
        max_age=600,
    )
    # Outermost: every response (CORS preflights and 413s too) is timed, counted and has an id.
    app.add_middleware(RequestObserver, metrics=app.state.metrics)
    install_error_handlers(app)
    for module in (status, query, documents, chat, feedback, widget, admin, metrics):
        app.include_router(module.router)
    return app


def app_from_environment() -> FastAPI:
    """The app with settings read from ``QA_*`` variables: for ``qa serve --workers N`` and
    ``uvicorn --factory qa.api.app:app_from_environment``, where each worker process builds its own."""
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings)
