"""Logging for ``qa serve``: plain text or one JSON object per line (``QA_LOG_FORMAT``), every
record carrying the id of the request it belongs to.

The request id lives in a context variable that the HTTP layer sets for each request; a
filter copies it onto every record, so a line logged deep inside retrieval still names its
request. Fields passed with ``extra=`` become JSON keys. Questions are health data: the HTTP
layer logs them only with ``QA_LOG_QUESTIONS=true``, and nothing here logs an API key.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from contextvars import ContextVar

request_id: ContextVar[str | None] = ContextVar("qa_request_id", default=None)

# What every LogRecord has; anything else on a record came from ``extra=`` and is logged as a field.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "request_id"}
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, request_id, the
    record's ``extra`` fields, and the traceback as ``exc_info`` when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_id.get(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(level: str = "info", log_format: str = "text") -> None:
    """One handler on the root logger, to stderr; uvicorn's loggers go through it too (run uvicorn
    with ``log_config=None`` so that it keeps this)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(max(logging.WARNING, logging.getLevelName(level.upper())))  # libraries: warnings only
    logging.getLogger("qa").setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        logger.setLevel(level.upper())


def log_question(endpoint: str, question: str, match: str) -> None:
    """The question's text, for services that set ``QA_LOG_QUESTIONS=true``."""
    logging.getLogger("qa.questions").info(
        "%s: %s", endpoint, question, extra={"endpoint": endpoint, "question": question, "match": match}
    )
