"""Domain errors and request-validation failures as JSON ``{error, message}`` responses: a
client error is always a 4xx with a sentence a person can act on, never a 500."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from qa.errors import DocumentNotFoundError, InvalidQueryError
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


class Forbidden(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


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
    if kind == "value_error":
        return name, str(error.get("msg", "")).removeprefix("Value error, ")
    return name, f"{name}: {error.get('msg', 'invalid value')}"


def error_response(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    headers = {"Retry-After": "5"} if status == 503 else None
    return JSONResponse({"error": code, "message": message, **extra}, status_code=status, headers=headers)


async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
    items = [dict(zip(("field", "message"), field_message(e), strict=True)) for e in exc.errors()]
    message = "; ".join(item["message"] for item in items)
    return error_response(422, "invalid_request", message, errors=items)


async def invalid_query(_: Request, exc: InvalidQueryError) -> JSONResponse:
    return error_response(422, "invalid_request", str(exc))


async def no_document(_: Request, exc: DocumentNotFoundError) -> JSONResponse:
    return error_response(404, "not_found", str(exc))


async def forbidden(_: Request, exc: Forbidden) -> JSONResponse:
    return error_response(403, "forbidden", exc.message)


async def unavailable(_: Request, exc: ServiceUnavailable) -> JSONResponse:
    return error_response(503, "not_ready", exc.message)


async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    if exc.status_code == 404:
        return error_response(404, "not_found", f"no route {request.url.path}; see /docs for the API")
    if exc.status_code == 405:
        return error_response(
            405, "method_not_allowed", f"{request.method} is not allowed on {request.url.path}; see /docs"
        )
    return error_response(exc.status_code, "http_error", str(exc.detail))


async def unexpected(_: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error", exc_info=exc)
    return error_response(500, "internal", "internal error; the server log has the details")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(InvalidQueryError, invalid_query)
    app.add_exception_handler(DocumentNotFoundError, no_document)
    app.add_exception_handler(ServiceUnavailable, unavailable)
    app.add_exception_handler(Forbidden, forbidden)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
