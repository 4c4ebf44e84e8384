"""Build the FastAPI application: lifespan (the index loads in a background thread, so
``/health`` answers at once and ``/ready`` says when questions can be answered), middleware,
error handlers, and the routers."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from qa import __version__
from qa.api.errors import install_error_handlers
from qa.api.middleware import BodyLimit
from qa.api.routes import chat, documents, query, status, widget
from qa.indexing.embedding import Embedder
from qa.serving.holder import ServiceHolder
from qa.settings import Settings

MAX_BODY_BYTES = 64 * 1024


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start loading the index in the background, so the server accepts requests at once."""
    if app.state.load_on_startup:
        loader = threading.Thread(
            target=app.state.holder.load,
            args=(app.state.settings, app.state.embedder),
            name="qa-index-loader",
            daemon=True,
        )
        loader.start()
    yield


def create_app(settings: Settings, *, embedder: Embedder | None = None, load_on_startup: bool = True) -> FastAPI:
    """The app. With ``load_on_startup`` the index at ``settings.index_dir`` loads in the
    background when the server starts; ``embedder`` replaces the configured model."""
    app = FastAPI(
        title="Drug reference QA",
        version=__version__,
        summary="Passages from drug monographs and guideline pages, with exact source attribution.",
        lifespan=lifespan,
    )
    app.state.holder = ServiceHolder()
    app.state.settings = settings
    app.state.embedder = embedder
    app.state.load_on_startup = load_on_startup
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)
    # Added last, so outermost: even a 413 or 422 carries CORS headers for an allowed origin.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.allowed_origins(),
        allow_methods=["GET", "POST"],
        allow_headers=["Content-Type", "Accept"],
        max_age=600,
    )
    install_error_handlers(app)
    for module in (status, query, documents, chat, widget):
        app.include_router(module.router)
    return app
