"""``POST /query``: the best-matching passages for a question."""

from __future__ import annotations

from fastapi import APIRouter

from qa.api.deps import MetricsDep, QueryCaller, ServiceDep, SettingsDep
from qa.api.errors import ACCESS_ERRORS, BODY_ERRORS, ERRORS, FILTER_NOT_FOUND
from qa.api.responses import ModelResponse
from qa.retrieval.query import Filters
from qa.serving.logs import log_question
from qa.serving.schemas.query import QueryRequest, QueryResponse, query_response

router = APIRouter(tags=["query"])


@router.post(
    "/query",
    response_model=QueryResponse,
    responses={**ERRORS, **BODY_ERRORS, **ACCESS_ERRORS, **FILTER_NOT_FOUND},
    summary="Best-matching passages",
)
def query(
    body: QueryRequest, service: ServiceDep, _: QueryCaller, metrics: MetricsDep, settings: SettingsDep
) -> ModelResponse:
    filters = None
    if body.filters is not None:
        filters = Filters(tuple(body.filters.doc_ids), tuple(body.filters.sections))
    answer = service.ask(body.question, body.k, body.mode, filters)
    metrics.answered("query", answer.match)
    if settings.log_questions:
        log_question("query", body.question, answer.match)
    return ModelResponse(query_response(answer))
