"""Parse Markdown documents, with or without YAML frontmatter, into sections with exact spans.

Frontmatter is read with ``yaml.safe_load``. Headings are ATX headings (``## **Usage**``);
their emphasis markers and trailing colons are stripped. A top-level heading that repeats
the title is not repeated in heading paths. Headings inside fenced code are ignored.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass

import yaml

from qa.ingest.documents import Document, Section, UnreadableDocument
from qa.ingest.faqs import clean_faqs
from qa.ingest.spans import LineIndex, PiecesBuilder
from qa.text import clean_heading, collapse_space, heading_key

# libyaml's safe loader where PyYAML was built with it (about 10x faster), else the Python one.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_FRONTMATTER_START = re.compile(r"\A---[ \t]*\r?\n")
_ANY_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+\S", re.M)
_FRONTMATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)^(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.S | re.M)
_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")

_KNOWN_KEYS = {
    "title",
    "description",
    "is_banned",
    "lastModified",
    "last_modified",
    "source_url",
    "url",
    "faqs",
}


@dataclass(frozen=True)
class _Heading:
    start: int  # offset of the heading line
    end: int  # offset just past the heading line (newline included)
    level: int
    text: str
    line: int


def looks_like_markdown(text: str) -> bool:
    """YAML frontmatter or at least one ATX heading."""
    return bool(_FRONTMATTER_START.match(text) or _ANY_HEADING.search(text))


def _faq_spans(text: str, match: re.Match[str]) -> list[tuple[int, int]]:
    """Source spans of the ``faqs`` entries, from the YAML node marks."""
    try:
        root = yaml.compose(match.group(1), Loader=_LOADER)
    except yaml.YAMLError:
        return []
    if not isinstance(root, yaml.MappingNode):
        return []
    offset = match.start(1)
    for key, value in root.value:
        if getattr(key, "value", None) == "faqs" and isinstance(value, yaml.SequenceNode):
            spans = []
            for item in value.value:
                start, end = offset + item.start_mark.index, offset + item.end_mark.index
                while end > start and text[end - 1].isspace():
                    end -= 1
                spans.append((start, end))
            return spans
    return []


def _split_frontmatter(text: str) -> tuple[dict[str, object], int, list[tuple[int, int]]]:
    """Return (frontmatter mapping, offset where the body starts, spans of the FAQ entries)."""
    if not _FRONTMATTER_START.match(text):
        return {}, 0, []
    match = _FRONTMATTER.match(text)
    if match is None:
        raise UnreadableDocument("frontmatter opens with '---' on line 1 but has no closing '---' line")
    try:
        data = yaml.load(match.group(1), Loader=_LOADER)
    except yaml.YAMLError as exc:
        # The context mark points at where the broken construct starts, which is where to look.
        mark = getattr(exc, "context_mark", None) or getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark is not None else ""  # +1: 1-based, +1: the '---' line
        what = "; ".join(str(p) for p in (getattr(exc, "context", None), getattr(exc, "problem", None)) if p)
        raise UnreadableDocument(f"invalid YAML frontmatter{where}: {what or exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise UnreadableDocument(f"frontmatter must be a YAML mapping of fields, got {type(data).__name__}")
    return data, match.end(), _faq_spans(text, match) if "faqs" in data else []


def frontmatter_end(text: str) -> int:
    """Where the Markdown body starts: after the YAML frontmatter, if there is one."""
    match = _FRONTMATTER.match(text) if _FRONTMATTER_START.match(text) else None
    return match.end() if match else 0


def _headings(text: str, body_start: int) -> list[_Heading]:
    lines = LineIndex(text)
    found: list[_Heading] = []
    fence: str | None = None
    offset = body_start
    for line in text[body_start:].splitlines(keepends=True):
        bare = line.rstrip("\r\n")
        fence_match = _FENCE.match(bare)
        if fence_match:
            marker = fence_match.group(1)
            if fence is None:
                fence = marker
            elif marker[0] == fence[0] and len(marker) >= len(fence):
                fence = None
        elif fence is None:
            match = _HEADING.match(bare)
            if match and clean_heading(match.group(2)):
                found.append(
                    _Heading(
                        offset,
                        offset + len(line),
                        len(match.group(1)),
                        clean_heading(match.group(2)),
                        lines.line_of(offset),
                    )
                )
        offset += len(line)
    return found


def _text_field(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return collapse_space(str(value)) or None


def _banned(value: object, warnings: list[str]) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    lowered = str(value).strip().lower()
    if lowered in {"true", "yes", "1"}:
        return True
    if lowered in {"false", "no", "0"}:
        return False
    warnings.append(f"is_banned: expected true or false, got {value!r}; treated as unknown")
    return None


def _json_safe(data: dict[str, object]) -> dict[str, object]:
    return json.loads(json.dumps(data, default=str))


def parse_markdown(text: str, *, doc_id: str, path: str) -> Document:
    meta, body_start, faq_spans = _split_frontmatter(text)
    warnings: list[str] = []
    headings = _headings(text, body_start)

    title = _text_field(meta.get("title"))
    if meta.get("title") is not None and not isinstance(meta.get("title"), str):
        warnings.append(f"title: expected text, got {type(meta.get('title')).__name__}")
    first_h1 = next((h for h in headings if h.level == 1), None)
    if not title:
        if first_h1 is not None:
            title = first_h1.text
        else:
            title = doc_id.rsplit("/", 1)[-1]
            warnings.append("no title in frontmatter or a top-level heading; the file name is used")
    title_h1 = first_h1 if first_h1 is not None and heading_key(first_h1.text) == heading_key(title) else None

    sections: list[Section] = []
    stack: list[tuple[int, str]] = []

    def close(start: int, end: int, heading: _Heading | None) -> None:
        builder = PiecesBuilder(text)
        builder.add(start, end)
        sections.append(
            Section(
                headings=tuple(name for _, name in stack),
                level=heading.level if heading else 0,
                heading_line=heading.line if heading else None,
                body=builder.build(),
            )
        )

    content_start, current = body_start, None
    for heading in headings:
        close(content_start, heading.start, current)
        if heading is title_h1:
            stack = []
            current = None
        else:
            while stack and stack[-1][0] >= heading.level:
                stack.pop()
            stack.append((heading.level, heading.text))
            current = heading
        content_start = heading.end
    close(content_start, len(text), current)
    # The empty preamble (nothing before the first heading) is not a section worth keeping.
    sections = [s for s in sections if s.body.text or s.heading_line is not None]

    faqs, faq_warnings = clean_faqs(meta.get("faqs"), faq_spans)
    extra = _json_safe({k: v for k, v in meta.items() if k not in _KNOWN_KEYS})
    return Document(
        doc_id=doc_id,
        path=path,
        format="markdown",
        title=title,
        source_text=text,
        sections=sections,
        description=_text_field(meta.get("description")),
        is_banned=_banned(meta.get("is_banned"), warnings),
        last_modified=_text_field(meta.get("lastModified", meta.get("last_modified"))),
        source_url=_text_field(meta.get("source_url", meta.get("url"))),
        faqs=faqs,
        warnings=warnings + faq_warnings,
        extra=extra,
    )
