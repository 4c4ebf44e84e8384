"""Pieces shared by several responses: where a text is in its source, recognised drugs, errors."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field

from qa.indexing.chunking import Chunk
from qa.retrieval.recognition import Mention


def _integral(value: Any) -> Any:
    """JSON Schema counts 18.0 as an integer; so do we (18.5 and "18" stay errors)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


WholeNumber = Annotated[int, BeforeValidator(_integral)]


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


class EntityOut(BaseModel):
    name: str = Field(description="The drug (or other named entity) as the corpus names it.")
    matched_text: str = Field(description="The words of the question that named it (brand name, misspelling...).")
    doc_ids: list[str] = Field(description="Documents about it; their passages are boosted in hybrid mode.")


class IndexInfo(BaseModel):
    fingerprint: str = Field(description="sha256 over the corpus files the index was built from.")
    model: str = Field(description="Embedding model the index was built with.")


class ErrorItem(BaseModel):
    field: str = Field(description="The request field at fault ('body' for the body as a whole).")
    message: str = Field(description="What is wrong with it and what to send instead.")


class ErrorResponse(BaseModel):
    error: str = Field(description="Short machine-readable code.")
    message: str = Field(description="What went wrong and what to do, for a person.")
    errors: list[ErrorItem] | None = Field(None, description="One entry per invalid field (422 only).")


def entities_out(mentions: Iterable[Mention]) -> list[EntityOut]:
    return [EntityOut(name=m.name, matched_text=m.matched_text, doc_ids=list(m.doc_ids)) for m in mentions]


def source_of(c: Chunk) -> Source:
    return Source(path=c.path, start=c.start, end=c.end, line_start=c.line_start, line_end=c.line_end)
