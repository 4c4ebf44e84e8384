"""HTTP adapter: parse requests, call the service, map domain errors to statuses.

The index and model load in a background thread at startup, so ``/health`` answers at
once and ``/ready`` says when questions can be answered.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from qa import __version__
from qa.embedding import Embedder
from qa.errors import DocumentNotFoundError, InvalidQueryError, QAError
from qa.schemas import (
    DocumentDetail,
    DocumentList,
    ErrorResponse,
    QueryRequest,
    QueryResponse,
    document_detail,
    document_summary,
    query_response,
)
from qa.search import Filters
from qa.service import MAX_K, MODES, QAService, stale_reasons
from qa.settings import Settings

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
_ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorResponse, "description": "The request is malformed; `message` says how."},
    503: {"model": ErrorResponse, "description": "The index is not loaded (yet); `message` says why."},
}


class ServiceUnavailable(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class ServiceHolder:
    """The loaded service, or why there is none yet."""

    service: QAService | None = None
    error: str | None = None
    stale: tuple[str, ...] = ()


class Health(BaseModel):
    status: str = Field(description="Always 'ok' while the process serves requests.")
    version: str = Field(description="Package version.")


class Ready(BaseModel):
    ready: bool = Field(description="True: questions can be answered.")
    documents: int = Field(description="Documents in the loaded index.")
    chunks: int = Field(description="Passages in the loaded index.")
    model: str = Field(description="Embedding model of the loaded index.")
    fingerprint: str = Field(description="sha256 over the corpus files the index was built from.")
    stale: list[str] = Field(description="Why the index may be out of date with the corpus; empty when current.")
    calibrated: bool = Field(description="Whether the match signal has thresholds for this model (else never strong).")
    calibration_note: str = Field(description="Where the thresholds come from, or why there are none.")


def get_service(request: Request) -> QAService:
    """Dependency: the loaded service. Tests override it to inject a fake embedder."""
    holder: ServiceHolder = request.app.state.holder
    if holder.service is None:
        raise ServiceUnavailable(holder.error or "the index is still loading; retry in a few seconds")
    return holder.service


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes before they are read into memory."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            length = dict(scope["headers"]).get(b"content-length")
            if length is not None and (not length.isdigit() or int(length) > self.limit):
                response = JSONResponse(
                    {"error": "too_large", "message": f"request body over {self.limit} bytes; send a shorter question"},
                    status_code=413,
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _field_message(error: dict[str, Any]) -> tuple[str, str]:
    loc = [str(part) for part in error.get("loc", ()) if part != "body"]
    name = ".".join(loc) or "body"
    kind = error.get("type", "")
    given = error.get("input")
    if kind == "missing":
        return name, f"{name} is required"
    if kind == "extra_forbidden":
        if name.startswith("filters."):
            return name, f"unknown field {name!r}; filters take 'doc_ids' and 'sections'"
        return name, f"unknown field {name!r}; send 'question' and optionally 'k', 'mode', 'filters'"
    if kind == "literal_error" and name == "mode":
        return name, f"mode must be one of {', '.join(MODES)}, got {given!r}"
    if kind == "list_type":
        return name, f"{name} must be a JSON list of strings, got {type(given).__name__}"
    if kind == "too_long" and name.startswith("filters."):
        return name, f"{name} has too many entries (limit {error.get('ctx', {}).get('max_length')})"
    if kind == "json_invalid":
        return "body", f"the body is not valid JSON ({error.get('ctx', {}).get('error', 'parse error')})"
    if kind in {"model_type", "model_attributes_type", "dict_type"} and name == "filters":
        return name, 'filters must be an object such as {"doc_ids": ["pomalidomide-monograph"], "sections": ["Dosage"]}'
    if kind in {"model_type", "model_attributes_type", "dict_type"}:
        return "body", (
            "the body must be a JSON object sent as Content-Type: application/json, "
            'such as {"question": "What is pomalidomide?", "k": 5}'
        )
    if kind == "string_type":
        return name, f"{name} must be a JSON string, got {type(given).__name__}"
    if kind in {"int_type", "int_parsing", "int_from_float"}:
        return name, f"{name} must be a whole number from 1 to {MAX_K}, got {given!r}"
    if kind in {"greater_than_equal", "less_than_equal"} and name == "k":
        return name, f"k must be from 1 to {MAX_K}, got {given!r}"
    if kind == "string_too_long":
        limit = error.get("ctx", {}).get("max_length")
        return name, f"{name} is {len(given)} characters; the limit is {limit}"
    if kind == "value_error":
        return name, str(error.get("msg", "")).removeprefix("Value error, ")
    return name, f"{name}: {error.get('msg', 'invalid value')}"


def _error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    headers = {"Retry-After": "5"} if status == 503 else None
    return JSONResponse({"error": code, "message": message, **extra}, status_code=status, headers=headers)


def create_app(settings: Settings, *, embedder: Embedder | None = None, load_on_startup: bool = True) -> FastAPI:
    """Build the app. The index at ``settings.index_dir`` loads in the background on startup."""
    holder = ServiceHolder()

    def load() -> None:
        try:
            service = QAService.open(settings, embedder)
            service.warm_up()
            holder.stale = tuple(stale_reasons(service.index, settings, service.embedder))
            for reason in holder.stale:
                logger.warning("index %s may be stale: %s; run `qa index`", settings.index_dir, reason)
            holder.service = service
            logger.info(
                "index loaded: %d chunks from %d documents", len(service.index.chunks), len(service.index.documents)
            )
        except QAError as exc:
            holder.error = f"cannot serve: {exc}"
            logger.error("%s", holder.error)
        except Exception:
            holder.error = "cannot serve: loading the index failed unexpectedly; see the server log"
            logger.exception("loading the index failed")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if load_on_startup:
            threading.Thread(target=load, name="qa-index-loader", daemon=True).start()
        yield

    app = FastAPI(
        title="Drug reference QA",
        version=__version__,
        summary="Passages from drug monographs and guideline pages, with exact source attribution.",
        lifespan=lifespan,
    )
    app.state.holder = holder
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        items = [dict(zip(("field", "message"), _field_message(e), strict=True)) for e in exc.errors()]
        message = "; ".join(item["message"] for item in items)
        return _error(422, "invalid_request", message, errors=items)

    @app.exception_handler(InvalidQueryError)
    async def _invalid_query(_: Request, exc: InvalidQueryError) -> JSONResponse:
        return _error(422, "invalid_request", str(exc))

    @app.exception_handler(DocumentNotFoundError)
    async def _no_document(_: Request, exc: DocumentNotFoundError) -> JSONResponse:
        return _error(404, "not_found", str(exc))

    @app.exception_handler(ServiceUnavailable)
    async def _unavailable(_: Request, exc: ServiceUnavailable) -> JSONResponse:
        return _error(503, "not_ready", exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return _error(404, "not_found", f"no route {request.url.path}; see /docs for the API")
        if exc.status_code == 405:
            return _error(
                405, "method_not_allowed", f"{request.method} is not allowed on {request.url.path}; see /docs"
            )
        return _error(exc.status_code, "http_error", str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error", exc_info=exc)
        return _error(500, "internal", "internal error; the server log has the details")

    @app.get("/health", response_model=Health, tags=["status"], summary="Liveness: the process is up")
    def health() -> Health:
        return Health(status="ok", version=__version__)

    @app.get(
        "/ready", response_model=Ready, responses=_ERRORS, tags=["status"], summary="Readiness: an index is loaded"
    )
    def ready(service: QAService = Depends(get_service)) -> Ready:
        return Ready(
            ready=True,
            documents=len(service.index.documents),
            chunks=len(service.index.chunks),
            model=service.index.model_id,
            fingerprint=service.index.fingerprint,
            stale=list(holder.stale),
            calibrated=service.index.calibration is not None,
            calibration_note=service.index.calibration_note,
        )

    @app.post(
        "/query", response_model=QueryResponse, responses=_ERRORS, tags=["query"], summary="Best-matching passages"
    )
    def query(body: QueryRequest, service: QAService = Depends(get_service)) -> QueryResponse:
        filters = None
        if body.filters is not None:
            filters = Filters(tuple(body.filters.doc_ids), tuple(body.filters.sections))
        return query_response(service.ask(body.question, body.k, body.mode, filters))

    @app.get(
        "/documents",
        response_model=DocumentList,
        responses=_ERRORS,
        tags=["documents"],
        summary="All indexed documents",
    )
    def documents(service: QAService = Depends(get_service)) -> DocumentList:
        records = service.documents()
        return DocumentList(total=len(records), documents=[document_summary(r) for r in records])

    @app.get(
        "/documents/{doc_id:path}",
        response_model=DocumentDetail,
        responses={**_ERRORS, 404: {"model": ErrorResponse, "description": "No document with that id."}},
        tags=["documents"],
        summary="One document: metadata, FAQ pairs and section outline",
    )
    def document(doc_id: str, service: QAService = Depends(get_service)) -> DocumentDetail:
        return document_detail(service.document(doc_id))

    return app
