"""ASGI middleware of the HTTP adapter: the request-body limit, and the observer that gives
each request an id, times it, counts it in the metrics and writes the access log line."""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qa.serving.logs import request_id
from qa.serving.metrics import Metrics

access_log = logging.getLogger("qa.access")
logger = logging.getLogger(__name__)
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})


def too_large(limit: int) -> str:
    return f"request body over {limit} bytes; send a shorter question"


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes: at once when ``Content-Length`` says so, and,
    for a chunked body (no length), as soon as the bytes received pass the limit."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            response = JSONResponse({"error": "too_large", "message": too_large(self.limit)}, status_code=413)
            await response(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    # An HTTPException passes through FastAPI's body reading unchanged and
                    # becomes the JSON 413 of the error handlers.
                    raise HTTPException(413, detail=too_large(self.limit))
            return message

        await self.app(scope, counted, send)


class RequestObserver:
    """Per request: an id (``X-Request-ID`` if the client sent a sane one, else a new one) that
    the logs carry and the response returns; the latency and status in the metrics, labelled
    by route template (never the raw path); and one access-log line."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        rid = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        token = request_id.set(rid)
        status = 500
        started = time.perf_counter()

        responded = [False]

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status, responded[0] = message["status"], True
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode("latin-1"))]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # Here, not in Starlette's outermost handler, so that the log line and the 500 both
            # carry the request id.
            logger.exception("unhandled error")
            if not responded[0]:
                body = {"error": "internal", "message": "internal error; the server log has the details"}
                await JSONResponse(body, status_code=500)(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or (
                "preflight" if scope.get("method") == "OPTIONS" else "unmatched"
            )
            method = scope.get("method", "") if scope.get("method") in _METHODS else "other"
            self.metrics.observe_request(route, method, status, seconds)
            access_log.info(
                "%s %s %d %.1f ms",
                method,
                route,
                status,
                seconds * 1000,
                extra={"method": method, "route": route, "status": status, "duration_ms": round(seconds * 1000, 3)},
            )
            request_id.reset(token)
