"""``POST /query``: the best-matching passages for a question."""

from __future__ import annotations

from fastapi import APIRouter

from qa.api.deps import ServiceDep
from qa.api.errors import ERRORS
from qa.retrieval.query import Filters
from qa.serving.schemas.query import QueryRequest, QueryResponse, query_response

router = APIRouter(tags=["query"])


@router.post("/query", response_model=QueryResponse, responses=ERRORS, summary="Best-matching passages")
def query(body: QueryRequest, service: ServiceDep) -> QueryResponse:
    filters = None
    if body.filters is not None:
        filters = Filters(tuple(body.filters.doc_ids), tuple(body.filters.sections))
    return query_response(service.ask(body.question, body.k, body.mode, filters))
