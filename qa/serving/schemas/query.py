"""``POST /query`` (and ``qa ask --json``): the request and the ranked passages."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from qa.retrieval.query import Hit
from qa.serving.schemas.common import EntityOut, IndexInfo, Place, Source, WholeNumber, entities_out, source_of
from qa.serving.service import MAX_K, MAX_QUESTION_CHARS, Answer


class QueryFilters(BaseModel):
    """Restrict the search before ranking; k results still come back whenever that many match."""

    model_config = ConfigDict(extra="forbid", strict=True)

    doc_ids: list[Annotated[str, Field(min_length=1, max_length=500)]] = Field(
        default_factory=list, max_length=200, description="Only these documents (404 for an id the index lacks)."
    )
    sections: list[Annotated[str, Field(min_length=1, max_length=500)]] = Field(
        default_factory=list,
        max_length=50,
        description="Only passages with one of these headings in their heading path (case and emphasis ignored; "
        "404 when no passage has any of them).",
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
        min_length=1,
        max_length=MAX_QUESTION_CHARS,
        pattern=r"\S",
        description=f"The question, in the asker's own words (1 to {MAX_QUESTION_CHARS} characters).",
    )
    k: WholeNumber = Field(5, ge=1, le=MAX_K, description=f"How many results to return, 1 to {MAX_K}.")
    mode: Literal["multiview", "hybrid", "dense", "bm25"] = Field(
        "multiview",
        description="multiview (default): each passage's text and its heading line matched against the question "
        "as written, the heading counting by how much it beats the best text match; hybrid: dense "
        "and BM25 fused, drugs named in the question boosted; dense: embedding similarity of passage texts only; "
        "bm25: keyword ranking only.",
    )
    filters: QueryFilters | None = Field(None, description="Optional restrictions by document and section.")

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("question is empty; ask something like 'What is the dose of pomalidomide?'")
        return value.strip()


class Passage(BaseModel):
    rank: int = Field(description="1 for the best match.")
    type: Literal["passage", "faq"] = Field(
        description="passage: a section of a document; faq: the answer of an FAQ whose question closely "
        "paraphrases yours (its text is the cleaned answer; its source spans the question and answer)."
    )
    score: float = Field(
        description="The ranking score of the mode (reciprocal-rank fusion score for multiview and hybrid, "
        "cosine for dense, BM25 for bm25)."
    )
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
        source=source_of(c),
        sources=[
            Place(doc_id=p.doc_id, title=p.title, heading_path=list(p.heading_path), source=source_of(p))
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
