"""``GET /documents`` and ``GET /documents/{doc_id}``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from qa.indexing.records import DocumentRecord


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
