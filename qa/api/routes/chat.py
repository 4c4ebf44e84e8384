"""``POST /chat``: one chat turn for the widget, as JSON or as Server-Sent Events."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from qa.api.deps import MetricsDep, QueryCaller, ServiceDep, SettingsDep
from qa.api.errors import ACCESS_ERRORS, BODY_ERRORS, ERRORS
from qa.api.responses import ModelResponse
from qa.serving.chat import NOT_COVERED, Message, Turn, compose, retrieve
from qa.serving.feedback_desk import FeedbackDesk
from qa.serving.logs import log_question
from qa.serving.schemas.chat import ChatRequest, ChatResponse, chat_citation, chat_context, chat_response
from qa.serving.schemas.common import entities_out
from qa.serving.service import QAService

router = APIRouter(tags=["chat"])
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def sse_event(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def chat_events(
    service: QAService, desk: FeedbackDesk, turn: Turn, is_disconnected: Callable[[], Awaitable[bool]]
) -> AsyncIterator[str]:
    """The SSE stream of a chat turn: ``meta``, then one ``answer`` event per quoted sentence,
    then ``citations`` (with the ``answer_id`` for feedback), then ``done``. Composing the
    answer only happens if the client is still connected after ``meta``; a client that leaves
    stops the stream at the next event."""
    reply = turn.reply
    context = chat_context(reply)
    yield sse_event(
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
    answer_id = desk.answer_id(service, reply.question, [c.chunk.id for c in reply.citations])
    sentences = [(f"{s.text} [{s.citation}]", s.citation) for s in reply.sentences] or [(NOT_COVERED, None)]
    for text, citation in sentences:
        if await is_disconnected():
            return
        yield sse_event("answer", {"text": text, "citation": citation})
    yield sse_event(
        "citations",
        {
            "citations": [chat_citation(c).model_dump() for c in reply.citations],
            "note": reply.note,
            "disclaimer": reply.disclaimer,
            "answer_id": answer_id,
        },
    )
    yield sse_event("done", {"took_ms": round(reply.took_ms, 3)})


@router.post(
    "/chat",
    response_model=ChatResponse,
    responses={
        **ERRORS,
        **BODY_ERRORS,
        **ACCESS_ERRORS,
        200: {
            "description": "JSON, or with `Accept: text/event-stream` a stream of events: `meta` "
            "(match, entities, carried-over context), `answer` (one per quoted sentence), `citations`, `done`.",
            "content": {"text/event-stream": {}},
        },
    },
    summary="One chat turn: an answer quoted from the documents, with citations",
)
def chat(
    body: ChatRequest,
    request: Request,
    service: ServiceDep,
    _: QueryCaller,
    metrics: MetricsDep,
    settings: SettingsDep,
) -> Any:
    messages = [Message(m.role, m.content) for m in body.messages]
    turn = retrieve(service, messages, body.k)
    metrics.answered("chat", turn.reply.match)
    if settings.log_questions:
        log_question("chat", turn.reply.question, turn.reply.match)
    desk: FeedbackDesk = request.app.state.feedback
    if "text/event-stream" in request.headers.get("accept", ""):
        stream = chat_events(service, desk, turn, request.is_disconnected)
        return StreamingResponse(stream, media_type="text/event-stream", headers=SSE_HEADERS)
    reply = compose(service, turn)
    return ModelResponse(
        chat_response(reply, desk.answer_id(service, reply.question, [c.chunk.id for c in reply.citations]))
    )
