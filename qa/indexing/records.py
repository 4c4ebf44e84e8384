"""What the index keeps of each document: metadata, the section outline (heading path,
lines, chunk ids) and the exact source text that chunk offsets refer to."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields, is_dataclass
from typing import Any

from qa.indexing.chunking import Chunk
from qa.ingest.documents import FAQ, Document, Dropped
from qa.ingest.spans import LineIndex


@dataclass(frozen=True)
class OutlineEntry:
    heading_path: tuple[str, ...]
    level: int
    line_start: int | None  # the heading's line (None for text before the first heading)
    line_end: int | None  # last line of the section's text
    chunk_ids: tuple[str, ...]


@dataclass(frozen=True)
class DocumentRecord:
    """What the index keeps of a document: metadata, outline, and the exact source text
    that chunk offsets refer to."""

    doc_id: str
    path: str
    format: str
    title: str
    description: str | None
    is_banned: bool | None
    last_modified: str | None
    source_url: str | None
    faqs: tuple[FAQ, ...]
    outline: tuple[OutlineEntry, ...]
    dropped: tuple[Dropped, ...]
    warnings: tuple[str, ...]
    extra: dict[str, Any]
    sha256: str
    chunk_count: int
    source_text: str


def record_from_json(data: dict[str, Any]) -> DocumentRecord:
    return DocumentRecord(
        **{
            **data,
            "faqs": tuple(FAQ(**f) for f in data["faqs"]),
            "outline": tuple(
                OutlineEntry(**{**o, "heading_path": tuple(o["heading_path"]), "chunk_ids": tuple(o["chunk_ids"])})
                for o in data["outline"]
            ),
            "dropped": tuple(Dropped(**d) for d in data["dropped"]),
            "warnings": tuple(data["warnings"]),
        }
    )


def document_record(doc: Document, chunks: list[Chunk], *, include_faq: bool = True) -> DocumentRecord:
    """Pair a document with its chunks (in order) to make its stored record and outline."""
    lines = LineIndex(doc.source_text)
    pending: Iterator[Chunk] = iter(chunks)
    outline = []
    for section in doc.sections:
        ids: list[str] = []
        start = end = section.heading_line
        if section.body.text:
            body_start, body_end = section.body.source_span(0, len(section.body.text))
            start = start or lines.line_of(body_start)
            end = lines.line_of(body_end - 1)
            if include_faq or not section.is_faq:
                first = next(pending)
                ids = [first.id] + [next(pending).id for _ in range(first.parts - 1)]
        outline.append(OutlineEntry((doc.title, *section.headings), section.level, start, end, tuple(ids)))
    return DocumentRecord(
        doc_id=doc.doc_id,
        path=doc.path,
        format=doc.format,
        title=doc.title,
        description=doc.description,
        is_banned=doc.is_banned,
        last_modified=doc.last_modified,
        source_url=doc.source_url,
        faqs=tuple(doc.faqs),
        outline=tuple(outline),
        dropped=tuple(doc.dropped),
        warnings=tuple(doc.warnings),
        extra=doc.extra,
        sha256=doc.sha256,
        chunk_count=len(chunks),
        source_text=doc.source_text,
    )


_FIELDS: dict[type, tuple[str, ...]] = {}


def plain(value: Any) -> Any:
    """``dataclasses.asdict`` for records, without its deep copy of every leaf (5x faster on a
    MedQuAD build): dataclasses become dicts, tuples lists; strings, numbers and None stay."""
    if is_dataclass(value) and not isinstance(value, type):
        names = _FIELDS.get(type(value))
        if names is None:
            names = _FIELDS[type(value)] = tuple(f.name for f in fields(value))
        return {name: plain(getattr(value, name)) for name in names}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    return value
