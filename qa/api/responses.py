"""A response built from a pydantic model the route already made, serialised once by
pydantic-core. Returned as is, it skips FastAPI's own handling of the route's ``response_model``:
for a sync route, FastAPI (0.165) validates the returned model again on a worker thread, then
dumps it; about 0.4 ms for a five-passage ``/query`` answer, against 0.02 ms here
(``eval/bench_query.py --serialise``). The route
still declares ``response_model`` for the OpenAPI schema, and the contract test checks the
responses against it."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import Response
from pydantic import BaseModel


class ModelResponse(Response):
    media_type = "application/json"

    def __init__(self, model: BaseModel, status_code: int = 200, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(content=model.model_dump_json(), status_code=status_code, headers=headers)
