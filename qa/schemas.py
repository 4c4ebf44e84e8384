"""Wire format shared by the HTTP API and ``qa ask --json``: pydantic models with every
field described (they are what ``/docs`` shows), and converters from core objects."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from qa.chat import MAX_MESSAGES, ChatReply, Citation
from qa.chunking import Chunk
from qa.index import DocumentRecord
from qa.lexicon import Mention
from qa.search import Hit
from qa.service import MAX_K, MAX_QUESTION_CHARS, Answer


class QueryFilters(BaseModel):
    """Restrict the search before ranking; k results still come back whenever that many match."""

    model_config = ConfigDict(extra="forbid", strict=True)

    doc_ids: list[str] = Field(default_factory=list, max_length=200, description="Only these documents.")
    sections: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="Only passages with one of these headings in their heading path (case and emphasis ignored).",
    )


class QueryRequest(BaseModel):
    """A natural-language question."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"question": "What dose of pomalidomide for myeloma?", "k": 3}]},
    )

    question: str = Field(
        ...,
        max_length=MAX_QUESTION_CHARS,
        description=f"The question, in the asker's own words (1 to {MAX_QUESTION_CHARS} characters).",
    )
    k: int = Field(5, ge=1, le=MAX_K, description=f"How many results to return, 1 to {MAX_K}.")
    mode: Literal["hybrid", "dense", "bm25"] = Field(
        "hybrid",
        description="hybrid: dense and BM25 fused, drugs named in the question boosted (default); "
        "dense: embedding similarity only; bm25: keyword ranking only.",
    )
    filters: QueryFilters | None = Field(None, description="Optional restrictions by document and section.")

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("question is empty; ask something like 'What is the dose of pomalidomide?'")
        return value.strip()


class Source(BaseModel):
    path: str = Field(description="Source file, relative to the corpus directory.")
    start: int = Field(
        description="Start of the passage in the source file: a character offset (Unicode code points), inclusive."
    )
    end: int = Field(description="End of the passage in the source file: a character offset, exclusive.")
    line_start: int = Field(description="First line of the passage in the source file (1-based).")
    line_end: int = Field(description="Last line of the passage in the source file (1-based, inclusive).")


class Place(BaseModel):
    """One place a result's text is written."""

    doc_id: str = Field(description="Document id.")
    title: str = Field(description="Document title.")
    heading_path: list[str] = Field(description="Title, then each heading above the text.")
    source: Source = Field(description="Where the text is in the source file.")


class Passage(BaseModel):
    rank: int = Field(description="1 for the best match.")
    type: Literal["passage", "faq"] = Field(
        description="passage: a section of a document; faq: the answer of an FAQ whose question closely "
        "paraphrases yours (its text is the cleaned answer; its source spans the question and answer)."
    )
    score: float = Field(description="The ranking score of the mode (RRF score for hybrid, cosine for dense, BM25).")
    similarity: float | None = Field(
        description="Cosine similarity between the question and this passage (for faq: the FAQ's question), -1 to 1."
    )
    text: str = Field(
        description="The passage. Exactly the source span, except that plain-text pages lose numbered citation markers."
    )
    chunk_id: str = Field(description="Stable id of the passage, derived from its document, span and text.")
    doc_id: str = Field(description="Document id: the source file's path without its extension.")
    title: str = Field(description="Document title.")
    heading_path: list[str] = Field(description="Title, then each heading above the passage, outermost first.")
    source: Source = Field(description="Where the passage is in the source file.")
    sources: list[Place] = Field(
        description="Every place this text is written (near-duplicates collapsed into one result), this one first."
    )
    source_url: str | None = Field(description="The document's original web address, when it gives one.")
    last_modified: str | None = Field(description="When the document was last updated, as it states (ISO 8601).")
    is_banned: bool | None = Field(description="The document's is_banned flag; null when it does not say.")


class EntityOut(BaseModel):
    name: str = Field(description="The drug (or other named entity) as the corpus names it.")
    matched_text: str = Field(description="The words of the question that named it (brand name, misspelling...).")
    doc_ids: list[str] = Field(description="Documents about it; their passages are boosted in hybrid mode.")


class IndexInfo(BaseModel):
    fingerprint: str = Field(description="sha256 over the corpus files the index was built from.")
    model: str = Field(description="Embedding model the index was built with.")


class QueryResponse(BaseModel):
    question: str = Field(description="The question as searched (surrounding whitespace removed).")
    mode: str = Field(description="The retrieval mode used.")
    match: Literal["strong", "weak", "none"] = Field(
        description="Whether the results answer the question: strong (calibrated to hold a correct passage in the "
        "top 3 about 9 times in 10), weak (related, check before relying on it), none (nothing in the corpus is "
        "close: treat as 'not found'). A question about a drug the corpus never mentions is never strong."
    )
    confidence: float | None = Field(description="The best similarity among the results; what `match` is based on.")
    entities: list[EntityOut] = Field(description="Drugs recognised in the question.")
    unknown_drugs: list[str] = Field(description="Drug-like words of the question that the corpus never mentions.")
    results: list[Passage] = Field(description="Results, best first.")
    took_ms: float = Field(description="Retrieval time in milliseconds, embedding the question included.")
    index: IndexInfo = Field(description="Which index answered.")


class DocumentSummary(BaseModel):
    doc_id: str = Field(description="Document id: the source file's path without its extension.")
    title: str = Field(description="Document title.")
    path: str = Field(description="Source file, relative to the corpus directory.")
    format: Literal["markdown", "plaintext"] = Field(description="How the file was read (recognised by content).")
    chunks: int = Field(description="Number of indexed passages.")
    last_modified: str | None = Field(description="When the document was last updated, as it states.")
    is_banned: bool | None = Field(description="The document's is_banned flag; null when it does not say.")


class DocumentList(BaseModel):
    total: int = Field(description="Number of indexed documents.")
    documents: list[DocumentSummary] = Field(description="Documents, by id.")


class FAQItem(BaseModel):
    question: str = Field(description="The question, cleaned of markup and glued-on answers.")
    answer: str = Field(description="The answer, cleaned of its 'A:' marker and markup.")


class OutlineItem(BaseModel):
    heading_path: list[str] = Field(description="Title, then the section's headings.")
    level: int = Field(description="Heading level (2 for `##`); 0 for text before the first heading.")
    line_start: int | None = Field(description="Line of the heading (or of the first text line).")
    line_end: int | None = Field(description="Last line of the section's text.")
    chunk_ids: list[str] = Field(description="Passages made from this section, in order.")


class DroppedItem(BaseModel):
    rule: str = Field(description="Which site-chrome rule dropped the block.")
    line_start: int = Field(description="First line of the dropped block (1-based).")
    line_end: int = Field(description="Last line of the dropped block (1-based, inclusive).")
    text: str = Field(description="The dropped text.")


class DocumentDetail(DocumentSummary):
    description: str | None = Field(description="The document's own summary, when it gives one.")
    source_url: str | None = Field(description="The document's original web address, when it gives one.")
    faqs: list[FAQItem] = Field(description="Cleaned question/answer pairs from the document's frontmatter.")
    outline: list[OutlineItem] = Field(description="Sections in document order.")
    dropped: list[DroppedItem] = Field(description="Blocks left out as site chrome (plain-text pages).")
    warnings: list[str] = Field(description="Problems found while parsing that did not stop indexing.")
    metadata: dict[str, object] = Field(description="Other frontmatter fields, as given.")


class ErrorItem(BaseModel):
    field: str = Field(description="The request field at fault ('body' for the body as a whole).")
    message: str = Field(description="What is wrong with it and what to send instead.")


class ErrorResponse(BaseModel):
    error: str = Field(description="Short machine-readable code.")
    message: str = Field(description="What went wrong and what to do, for a person.")
    errors: list[ErrorItem] | None = Field(None, description="One entry per invalid field (422 only).")


def entities_out(mentions: Iterable[Mention]) -> list[EntityOut]:
    return [EntityOut(name=m.name, matched_text=m.matched_text, doc_ids=list(m.doc_ids)) for m in mentions]


def _source(c: Chunk) -> Source:
    return Source(path=c.path, start=c.start, end=c.end, line_start=c.line_start, line_end=c.line_end)


def passage(hit: Hit) -> Passage:
    c = hit.chunk
    return Passage(
        rank=hit.rank,
        type=hit.kind,  # type: ignore[arg-type]
        score=round(hit.score, 6),
        similarity=None if hit.similarity is None else round(hit.similarity, 6),
        text=c.text,
        chunk_id=c.id,
        doc_id=c.doc_id,
        title=c.title,
        heading_path=list(c.heading_path),
        source=_source(c),
        sources=[
            Place(doc_id=p.doc_id, title=p.title, heading_path=list(p.heading_path), source=_source(p))
            for p in hit.places
        ],
        source_url=c.source_url,
        last_modified=c.last_modified,
        is_banned=c.is_banned,
    )


def query_response(answer: Answer) -> QueryResponse:
    return QueryResponse(
        question=answer.question,
        mode=answer.mode,
        match=answer.match,  # type: ignore[arg-type]
        confidence=None if answer.confidence is None else round(answer.confidence, 6),
        entities=entities_out(answer.mentions),
        unknown_drugs=list(answer.unknown_drugs),
        results=[passage(hit) for hit in answer.hits],
        took_ms=round(answer.took_ms, 3),
        index=IndexInfo(fingerprint=answer.fingerprint, model=answer.model),
    )


def document_summary(record: DocumentRecord) -> DocumentSummary:
    return DocumentSummary(
        doc_id=record.doc_id,
        title=record.title,
        path=record.path,
        format=record.format,  # type: ignore[arg-type]
        chunks=record.chunk_count,
        last_modified=record.last_modified,
        is_banned=record.is_banned,
    )


def document_detail(record: DocumentRecord) -> DocumentDetail:
    return DocumentDetail(
        **document_summary(record).model_dump(),
        description=record.description,
        source_url=record.source_url,
        faqs=[FAQItem(question=f.question, answer=f.answer) for f in record.faqs],
        outline=[
            OutlineItem(
                heading_path=list(o.heading_path),
                level=o.level,
                line_start=o.line_start,
                line_end=o.line_end,
                chunk_ids=list(o.chunk_ids),
            )
            for o in record.outline
        ],
        dropped=[
            DroppedItem(rule=d.rule, line_start=d.line_start, line_end=d.line_end, text=d.text) for d in record.dropped
        ],
        warnings=list(record.warnings),
        metadata=record.extra,
    )


# ---------------------------------------------------------------- chat
class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    role: Literal["user", "assistant"] = Field(description="Who wrote the message.")
    content: str = Field(max_length=MAX_QUESTION_CHARS, description="The message text (1 to 2,000 characters).")


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
        min_length=1, max_length=MAX_MESSAGES, description=f"1 to {MAX_MESSAGES} messages, the last from the user."
    )
    k: int = Field(5, ge=1, le=20, description="Passages to search (1 to 20); up to 3 are quoted.")


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
        source=_source(c),
        link=citation.link,
    )


def chat_context(reply: ChatReply) -> ChatContext | None:
    if not reply.carried_over or reply.carried_from is None:
        return None
    return ChatContext(carried_over=reply.carried_over, from_message=reply.carried_from)


def chat_response(reply: ChatReply) -> ChatResponse:
    return ChatResponse(
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
