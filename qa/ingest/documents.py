"""Documents: the parsed form of one corpus file (metadata, sections with exact spans,
FAQ pairs, and what was left out and why)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from qa.ingest.spans import Pieces
from qa.text import is_faq_heading

Format = Literal["markdown", "plaintext"]


class UnreadableDocument(Exception):
    """Raised by a parser when a file cannot be turned into a document; the message is the reason."""


@dataclass(frozen=True)
class FAQ:
    question: str
    answer: str
    origin: str = "frontmatter"  # or "body"
    start: int | None = None  # [start, end) span of the pair in the source file
    end: int | None = None


@dataclass(frozen=True)
class Section:
    """A run of body text under one heading path (the title is not part of ``headings``)."""

    headings: tuple[str, ...]
    level: int  # Markdown heading level, 0 for text before the first heading
    heading_line: int | None  # 1-based line of the heading itself
    body: Pieces

    @property
    def is_faq(self) -> bool:
        """Under an FAQ heading: question/answer content, left out of held-out evaluation indexes."""
        return any(is_faq_heading(h) for h in self.headings)


@dataclass(frozen=True)
class Dropped:
    """A block of site chrome left out of the document, reported rather than silently lost."""

    rule: str
    line_start: int
    line_end: int
    text: str


@dataclass
class Document:
    doc_id: str
    path: str  # relative to the corpus directory, POSIX separators
    format: Format
    title: str
    source_text: str
    sections: list[Section]
    description: str | None = None
    is_banned: bool | None = None
    last_modified: str | None = None
    source_url: str | None = None
    faqs: list[FAQ] = field(default_factory=list)
    dropped: list[Dropped] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    extra: dict[str, object] = field(default_factory=dict)
    sha256: str = ""

    @property
    def has_text(self) -> bool:
        return any(section.body.text for section in self.sections)


@dataclass(frozen=True)
class SkippedFile:
    path: str
    reason: str
