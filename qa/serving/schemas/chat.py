"""``POST /chat``: a conversation in, a quoted answer with citations out."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from qa.serving.chat import MAX_MESSAGES, ChatReply, Citation
from qa.serving.schemas.common import EntityOut, Source, WholeNumber, entities_out, source_of
from qa.serving.service import MAX_QUESTION_CHARS


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    role: Literal["user", "assistant"] = Field(description="Who wrote the message.")
    content: str = Field(
        min_length=1,
        max_length=MAX_QUESTION_CHARS,
        pattern=r"\S",
        description="The message text (1 to 2,000 characters, not only spaces).",
    )


class ChatRequest(BaseModel):
    """A conversation, oldest message first; the last message is the user's question."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {
                    "messages": [
                        {"role": "user", "content": "What is the dose of pomalidomide?"},
                        {"role": "assistant", "content": "For multiple myeloma, ... [1]"},
                        {"role": "user", "content": "What about during pregnancy?"},
                    ],
                    "k": 5,
                }
            ]
        },
    )

    messages: list[ChatMessage] = Field(
        min_length=1,
        max_length=MAX_MESSAGES,
        description=f"1 to {MAX_MESSAGES} messages, at least one from the user. The question is the last user "
        "message; assistant messages after it are ignored.",
        json_schema_extra={"contains": {"type": "object", "properties": {"role": {"const": "user"}}}},
    )
    k: WholeNumber = Field(5, ge=1, le=20, description="Passages to search (1 to 20); up to 3 are quoted.")


class ChatSentence(BaseModel):
    text: str = Field(description="A sentence quoted from a passage (list markers and bold markup removed).")
    citation: int = Field(description="Number of the citation it is quoted from.")


class ChatCitation(BaseModel):
    number: int = Field(description="1-based; the answer's [n] markers refer to it.")
    type: Literal["passage", "faq"] = Field(description="A document section, or an FAQ answer.")
    chunk_id: str = Field(description="Id of the passage quoted.")
    doc_id: str = Field(description="Document id.")
    title: str = Field(description="Document title.")
    heading_path: list[str] = Field(description="Title, then the headings above the passage.")
    source: Source = Field(description="Where the passage is in the source file.")
    link: str = Field(description="Page showing the document with the passage highlighted (relative to the service).")


class ChatContext(BaseModel):
    carried_over: list[str] = Field(description="Drugs taken from an earlier question, because this one names none.")
    from_message: int = Field(description="Index of the message they were taken from.")


class ChatResponse(BaseModel):
    question: str = Field(description="The last user message.")
    answer: str = Field(
        description="Sentences quoted from the sources, each followed by its citation number; when match is "
        "'none', a plain statement that the documents do not cover the question."
    )
    sentences: list[ChatSentence] = Field(description="The answer, sentence by sentence.")
    citations: list[ChatCitation] = Field(description="The passages quoted; empty when match is 'none'.")
    match: Literal["strong", "weak", "none"] = Field(description="As for /query: how well the corpus covers it.")
    note: str | None = Field(description="A caution to show with a weak match.")
    disclaimer: str = Field(description="Reference information, not medical advice.")
    context: ChatContext | None = Field(description="Context carried over from earlier turns, if any.")
    entities: list[EntityOut] = Field(description="Drugs recognised in what was searched.")
    answer_id: str | None = Field(
        description="Names this answer (question, cited passages, index) for POST /feedback; signed by the service. "
        "null when the service cannot take feedback (its data directory is not writable)."
    )
    took_ms: float = Field(description="Time to retrieve and compose, in milliseconds.")


def chat_citation(citation: Citation) -> ChatCitation:
    c = citation.chunk
    return ChatCitation(
        number=citation.number,
        type=citation.kind,  # type: ignore[arg-type]
        chunk_id=c.id,
        doc_id=c.doc_id,
        title=c.title,
        heading_path=list(c.heading_path),
        source=source_of(c),
        link=citation.link,
    )


def chat_context(reply: ChatReply) -> ChatContext | None:
    if not reply.carried_over or reply.carried_from is None:
        return None
    return ChatContext(carried_over=reply.carried_over, from_message=reply.carried_from)


def chat_response(reply: ChatReply, answer_id: str | None) -> ChatResponse:
    return ChatResponse(
        answer_id=answer_id,
        question=reply.question,
        answer=reply.answer,
        sentences=[ChatSentence(text=s.text, citation=s.citation) for s in reply.sentences],
        citations=[chat_citation(c) for c in reply.citations],
        match=reply.match,  # type: ignore[arg-type]
        note=reply.note,
        disclaimer=reply.disclaimer,
        context=chat_context(reply),
        entities=entities_out(reply.mentions),
        took_ms=round(reply.took_ms, 3),
    )
