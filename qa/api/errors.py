"""Domain errors and request-validation failures as JSON ``{error, message}`` responses: a
client error is always a 4xx with a sentence a person can act on, never a 500."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from qa.errors import DocumentNotFoundError, InvalidQueryError, UnknownFilterError
from qa.serving.feedback import FeedbackLimit, FeedbackUnavailable
from qa.serving.schemas.common import ErrorResponse
from qa.serving.service import MODES

logger = logging.getLogger(__name__)

ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorResponse, "description": "The request is malformed; `message` says how."},
    503: {"model": ErrorResponse, "description": "The index is not loaded (yet); `message` says why."},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No document with that id."},
}
FILTER_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "A filter names a document or section the index does not have."},
}


def as_json(responses: dict[int | str, dict[str, Any]]) -> dict[int | str, dict[str, Any]]:
    """The same error responses, declared as JSON for a route whose own responses are not
    (an HTML page): FastAPI would otherwise document them in the route's media type."""
    schema = {"$ref": "#/components/schemas/ErrorResponse"}
    return {
        code: {**{k: v for k, v in spec.items() if k != "model"}, "content": {"application/json": {"schema": schema}}}
        for code, spec in responses.items()
    }


BODY_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "The body could not be read (not JSON, or not UTF-8)."},
    413: {"model": ErrorResponse, "description": "The body is over 64 KiB."},
}
ACCESS_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "API keys are configured and none, or an unknown one, was sent."},
    403: {"model": ErrorResponse, "description": "The key's role does not allow this route."},
    429: {
        "model": ErrorResponse,
        "description": "Over the rate limit; `Retry-After` says when to retry.",
        "headers": {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}},
    },
}


class ApiError(Exception):
    """A client error with its status, code, message and headers (401, 403, 429 ...)."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


class Forbidden(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__(403, "forbidden", message)


class ServiceUnavailable(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def field_message(error: dict[str, Any]) -> tuple[str, str]:
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
    if kind in {"string_too_short", "string_pattern_mismatch"}:
        example = "ask something like 'What is the dose of pomalidomide?'" if name == "question" else "write some text"
        return name, f"{name} is empty; {example}"
    if kind == "value_error":
        return name, str(error.get("msg", "")).removeprefix("Value error, ")
    return name, f"{name}: {error.get('msg', 'invalid value')}"


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    if status == 503:
        headers = {"Retry-After": "5", **(headers or {})}
    return JSONResponse({"error": code, "message": message, **extra}, status_code=status, headers=headers)


async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
    items = [dict(zip(("field", "message"), field_message(e), strict=True)) for e in exc.errors()]
    message = "; ".join(item["message"] for item in items)
    return error_response(422, "invalid_request", message, errors=items)


async def invalid_query(_: Request, exc: InvalidQueryError) -> JSONResponse:
    return error_response(422, "invalid_request", str(exc))


async def no_document(_: Request, exc: DocumentNotFoundError | UnknownFilterError) -> JSONResponse:
    return error_response(404, "not_found", str(exc))


async def api_error(_: Request, exc: ApiError) -> JSONResponse:
    return error_response(exc.status, exc.code, exc.message, exc.headers)


async def feedback_limit(_: Request, exc: FeedbackLimit) -> JSONResponse:
    return error_response(409, "feedback_limit", str(exc))


async def feedback_unavailable(_: Request, exc: FeedbackUnavailable) -> JSONResponse:
    return error_response(503, "not_ready", str(exc))


async def unavailable(_: Request, exc: ServiceUnavailable) -> JSONResponse:
    return error_response(503, "not_ready", exc.message)


async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    if exc.status_code == 404:
        return error_response(404, "not_found", f"no route {request.url.path}; see /docs for the API")
    headers = dict(exc.headers or {})  # a 405 carries Allow (RFC 9110)
    if exc.status_code == 405:
        allowed = headers.get("Allow", "")
        return error_response(
            405,
            "method_not_allowed",
            f"{request.method} is not allowed on {request.url.path}; use {allowed or 'another method'} (see /docs)",
            headers,
        )
    if exc.status_code == 413:
        return error_response(413, "too_large", str(exc.detail), headers)
    if exc.status_code == 400:
        return error_response(400, "bad_request", f"{exc.detail}: send a UTF-8 JSON object", headers)
    return error_response(exc.status_code, "http_error", str(exc.detail), headers)


async def unexpected(_: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error", exc_info=exc)
    return error_response(500, "internal", "internal error; the server log has the details")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(InvalidQueryError, invalid_query)
    app.add_exception_handler(DocumentNotFoundError, no_document)
    app.add_exception_handler(UnknownFilterError, no_document)
    app.add_exception_handler(ServiceUnavailable, unavailable)
    app.add_exception_handler(FeedbackLimit, feedback_limit)
    app.add_exception_handler(FeedbackUnavailable, feedback_unavailable)
    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
