"""``POST /feedback``: store a reader's verdict on a chat answer (feedback becomes gold data
through ``qa feedback export``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from qa.api.deps import MetricsDep, QueryCaller, ServiceDep
from qa.api.errors import ACCESS_ERRORS, BODY_ERRORS, ERRORS
from qa.serving.feedback_desk import FeedbackDesk
from qa.serving.schemas.common import ErrorResponse
from qa.serving.schemas.feedback import FeedbackRequest, FeedbackResponse

router = APIRouter(tags=["feedback"])
LIMIT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorResponse, "description": "The answer already has as much feedback as is kept."}
}


@router.post(
    "/feedback",
    status_code=201,
    response_model=FeedbackResponse,
    responses={**ERRORS, **BODY_ERRORS, **ACCESS_ERRORS, **LIMIT},
    summary="Record whether a chat answer helped",
)
async def feedback(
    body: FeedbackRequest, request: Request, service: ServiceDep, _: QueryCaller, metrics: MetricsDep
) -> FeedbackResponse:
    desk: FeedbackDesk = request.app.state.feedback
    feedback_id = await run_in_threadpool(
        desk.record,
        service,
        question=body.question,
        answer_id=body.answer_id,
        helpful=body.helpful,
        citation=body.citation,
    )
    metrics.feedback.labels("true" if body.helpful else "false").inc()
    return FeedbackResponse(recorded=True, feedback_id=feedback_id)
