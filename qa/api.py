"""HTTP adapter: parse requests, call the service, map domain errors to statuses.

The index and model load in a background thread at startup, so ``/health`` answers at
once and ``/ready`` says when questions can be answered.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from qa import __version__
from qa.chat import NOT_COVERED, Message, Turn, compose, retrieve
from qa.embedding import Embedder
from qa.errors import DocumentNotFoundError, InvalidQueryError, QAError
from qa.schemas import (
    ChatRequest,
    ChatResponse,
    DocumentDetail,
    DocumentList,
    ErrorResponse,
    QueryRequest,
    QueryResponse,
    chat_citation,
    chat_context,
    chat_response,
    document_detail,
    document_summary,
    entities_out,
    query_response,
)
from qa.search import Filters
from qa.service import MODES, QAService, stale_reasons
from qa.settings import Settings
from qa.views import SCRIPT as VIEW_SCRIPT
from qa.views import STYLE as VIEW_STYLE
from qa.views import render_document

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
        if name.startswith("messages."):
            return name, f"unknown field {name!r}; a message has 'role' and 'content'"
        if name == "messages" or name.startswith("messages"):
            return name, f"unknown field {name!r}"
        return name, f"unknown field {name!r}; see /docs for the fields this endpoint takes"
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
        return name, f"{name} must be a whole number, got {given!r}"
    if kind == "greater_than_equal":
        return name, f"{name} must be at least {error.get('ctx', {}).get('ge')}, got {given!r}"
    if kind == "less_than_equal":
        return name, f"{name} must be at most {error.get('ctx', {}).get('le')}, got {given!r}"
    if kind == "literal_error" and name.endswith(".role"):
        return name, f"{name} must be 'user' or 'assistant', got {given!r}"
    if kind == "too_short" and name == "messages":
        return name, "messages is empty; send at least one {role: 'user', content: ...}"
    if kind == "too_long" and name == "messages":
        return name, f"messages has {len(given)} entries; send at most {error.get('ctx', {}).get('max_length')}"
    if kind == "string_too_long":
        limit = error.get("ctx", {}).get("max_length")
        return name, f"{name} is {len(given)} characters; the limit is {limit}"
    if kind == "value_error":
        return name, str(error.get("msg", "")).removeprefix("Value error, ")
    return name, f"{name}: {error.get('msg', 'invalid value')}"


def _error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    headers = {"Retry-After": "5"} if status == 503 else None
    return JSONResponse({"error": code, "message": message, **extra}, status_code=status, headers=headers)


_WEB = resources.files("qa") / "web"
_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _csp_hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def chat_events(
    service: QAService, turn: Turn, is_disconnected: Callable[[], Awaitable[bool]]
) -> AsyncIterator[str]:
    """The SSE stream of a chat turn: ``meta``, then one ``answer`` event per quoted sentence,
    then ``citations``, then ``done``. Composing the answer (which embeds candidate sentences)
    only happens if the client is still connected after ``meta``; a client that leaves stops
    the stream at the next event."""
    reply = turn.reply
    context = chat_context(reply)
    yield _sse(
        "meta",
        {
            "question": reply.question,
            "match": reply.match,
            "context": None if context is None else context.model_dump(),
            "entities": [entity.model_dump() for entity in entities_out(reply.mentions)],
        },
    )
    if await is_disconnected():
        return
    reply = await run_in_threadpool(compose, service, turn)
    sentences = [(f"{s.text} [{s.citation}]", s.citation) for s in reply.sentences] or [(NOT_COVERED, None)]
    for text, citation in sentences:
        if await is_disconnected():
            return
        yield _sse("answer", {"text": text, "citation": citation})
    yield _sse(
        "citations",
        {
            "citations": [chat_citation(c).model_dump() for c in reply.citations],
            "note": reply.note,
            "disclaimer": reply.disclaimer,
        },
    )
    yield _sse("done", {"took_ms": round(reply.took_ms, 3)})


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
    # Added last, so outermost: even a 413 or 422 carries CORS headers for an allowed origin.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.allowed_origins(),
        allow_methods=["GET", "POST"],
        allow_headers=["Content-Type", "Accept"],
        max_age=600,
    )
    widget_js = (_WEB / "widget.js").read_text(encoding="utf-8")
    demo_html = (_WEB / "demo.html").read_text(encoding="utf-8")

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

    view_policy = (
        f"default-src 'none'; style-src {_csp_hash(VIEW_STYLE)}; script-src {_csp_hash(VIEW_SCRIPT)}; "
        "base-uri 'none'; form-action 'none'"
    )

    @app.get(
        "/documents/{doc_id:path}/view",
        response_class=HTMLResponse,
        responses={404: {"model": ErrorResponse, "description": "No document with that id."}},
        tags=["documents"],
        summary="The document as a page, the passage named by the URL fragment highlighted",
    )
    def view(doc_id: str, service: QAService = Depends(get_service)) -> HTMLResponse:
        page = render_document(service.document(doc_id), service.places(doc_id))
        return HTMLResponse(page, headers={"Content-Security-Policy": view_policy})

    @app.get(
        "/documents/{doc_id:path}",
        response_model=DocumentDetail,
        responses={**_ERRORS, 404: {"model": ErrorResponse, "description": "No document with that id."}},
        tags=["documents"],
        summary="One document: metadata, FAQ pairs and section outline",
    )
    def document(doc_id: str, service: QAService = Depends(get_service)) -> DocumentDetail:
        return document_detail(service.document(doc_id))

    @app.post(
        "/chat",
        response_model=ChatResponse,
        responses={
            **_ERRORS,
            200: {
                "description": "JSON, or with `Accept: text/event-stream` a stream of events: `meta` "
                "(match, entities, carried-over context), `answer` (one per quoted sentence), `citations`, `done`.",
                "content": {"text/event-stream": {}},
            },
        },
        tags=["chat"],
        summary="One chat turn: an answer quoted from the documents, with citations",
    )
    def chat_route(body: ChatRequest, request: Request, service: QAService = Depends(get_service)) -> Any:
        messages = [Message(m.role, m.content) for m in body.messages]
        turn = retrieve(service, messages, body.k)
        if "text/event-stream" in request.headers.get("accept", ""):
            stream = chat_events(service, turn, request.is_disconnected)
            return StreamingResponse(stream, media_type="text/event-stream", headers=_SSE_HEADERS)
        return chat_response(compose(service, turn))

    @app.get("/widget.js", include_in_schema=False)
    def widget() -> Response:
        return Response(
            widget_js, media_type="application/javascript; charset=utf-8", headers={"Cache-Control": "max-age=300"}
        )

    @app.get("/", include_in_schema=False)
    def demo() -> HTMLResponse:
        policy = "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self'; base-uri 'none'"
        return HTMLResponse(demo_html, headers={"Content-Security-Policy": policy})

    return app
