"""Parse plain-text answer pages (pages saved from a guideline Q&A site) into sections.

Layout of such a page: the first line is the title; paragraphs are separated by blank
lines; headings are bare, short, single-line paragraphs; numbered citation markers trail
sentences (``... may impair recovery. 1``); and the site's own chrome (review-status
widget, personalisation prompt, disclaimer, "follow-up question" promotion) surrounds
the content. The rules below describe the site template, not any one page, and every
block they drop is recorded in ``Document.dropped``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from qa.ingest.documents import Document, Dropped, Section, UnreadableDocument
from qa.ingest.spans import LineIndex, PiecesBuilder
from qa.text import collapse_space

# A paragraph whose every line matches one of these is site chrome.
LINE_CHROME: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "review-status",
        re.compile(
            r"^(?:Medical Advisory Board.*|Article Review Status|Submitted|Under Review|In Review"
            r"|Approved|Pending Review)$",
            re.I,
        ),
    ),
    ("review-status", re.compile(r"reviewed for accuracy|pending human review|^Educational purpose only", re.I)),
    ("last-updated", re.compile(r"^Last (?:updated|reviewed)\s*:", re.I)),
    (
        "personalisation",
        re.compile(r"^(?:Personali[sz]e|Help us tailor your experience|Which best describes you\?.*)$", re.I),
    ),
)
# A heading matching one of these starts chrome that runs to the next heading.
SECTION_CHROME: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("disclaimer", re.compile(r"^(?:Professional |Medical |Legal )*Disclaimer$", re.I)),
    ("promotion", re.compile(r"^(?:Have a follow-up question|Ask a follow-up question)\??$", re.I)),
)

_LAST_UPDATED = re.compile(r"Last (?:updated|reviewed)\s*:\s*([A-Z][a-z]+\.? \d{1,2}, \d{4})")
# Numbered citation markers: " 1", " 2, 3" after a word or closing punctuation, at the end
# of a line or before ", " / "; ". A number after a counting word ("grade 3", "to 3") stays.
_CITATION = re.compile(
    r"(?<=[^\s\d])(?P<gap>[ \t]+)(?P<refs>\d{1,3}(?:[ \t]*,[ \t]*\d{1,3})*)(?=[ \t]*(?:$|[,;][ \t]))"
)
_NUMBER_WORDS = frozenset(
    (
        "grade stage type phase class category level step cycle cycles day days week weeks visit version part "
        "chapter section table figure appendix no number dose arm group cohort tier "
        "to of from and or than by at between every each about approximately over under up"
    ).split()
)
_BULLET = ("•", "-", "*", "–", "—", "·")
_MAX_HEADING_CHARS = 80
_MAX_HEADING_WORDS = 12


@dataclass(frozen=True)
class _Line:
    start: int
    end: int  # past the line's text, before its newline
    next: int  # past the newline
    text: str


def _lines(text: str) -> list[_Line]:
    out, offset = [], 0
    for raw in text.splitlines(keepends=True):
        bare = raw.rstrip("\r\n")
        out.append(_Line(offset, offset + len(bare), offset + len(raw), bare))
        offset += len(raw)
    return out


def _blocks(lines: list[_Line]) -> list[list[_Line]]:
    blocks: list[list[_Line]] = []
    current: list[_Line] = []
    for line in lines:
        if line.text.strip():
            current.append(line)
        elif current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    return blocks


def looks_like_heading(line: str) -> bool:
    """A bare heading: short, unindented, capitalised, no bullet, no sentence-ending punctuation."""
    stripped = line.strip()
    if not stripped or line[:1].isspace():
        return False
    if len(stripped) > _MAX_HEADING_CHARS or len(stripped.split()) > _MAX_HEADING_WORDS:
        return False
    if stripped.startswith(_BULLET) or re.match(r"^\d+[.)]\s", stripped):
        return False
    if not (stripped[0].isalpha() and stripped[0].isupper()):
        return False
    return not (stripped[-1] in ".,;:!" or re.search(r"\s\d{1,3}$", stripped))


def _line_chrome_rule(line: str) -> str | None:
    for rule, pattern in LINE_CHROME:
        if pattern.search(line.strip()):
            return rule
    return None


def _section_chrome_rule(heading: str) -> str | None:
    for rule, pattern in SECTION_CHROME:
        if pattern.match(heading.strip()):
            return rule
    return None


def _last_updated(line: str) -> str | None:
    match = _LAST_UPDATED.search(line)
    if not match:
        return None
    for fmt in ("%B %d, %Y", "%b %d, %Y", "%b. %d, %Y"):
        try:
            return dt.datetime.strptime(match.group(1), fmt).date().isoformat()
        except ValueError:
            continue
    return None


def remove_citations(line: str) -> list[tuple[int, int]]:
    """Ranges of ``line`` to keep once trailing numbered citation markers are cut out."""
    keep, cursor = [], 0
    for match in _CITATION.finditer(line):
        before = line[: match.start("gap")].split()
        if before and before[-1].lower() in _NUMBER_WORDS:
            continue
        keep.append((cursor, match.start("gap")))
        cursor = match.end("refs")
    keep.append((cursor, len(line)))
    return [(a, b) for a, b in keep if b > a]


def parse_plaintext(text: str, *, doc_id: str, path: str) -> Document:
    lines = _lines(text)
    blocks = _blocks(lines)
    if not blocks:
        raise UnreadableDocument("empty file")
    line_index = LineIndex(text)
    title_line = blocks[0][0]
    title = collapse_space(title_line.text)
    blocks[0] = blocks[0][1:]
    blocks = [block for block in blocks if block]

    dropped: list[Dropped] = []
    last_modified: str | None = None

    def drop(rule: str, block: list[_Line], *, extend: bool = False) -> None:
        """Record a dropped block; ``extend`` adds it to the previous entry (same chrome section)."""
        text = "\n".join(line.text for line in block)
        line_end = line_index.line_of(block[-1].start)
        if extend and dropped and dropped[-1].rule == rule:
            last = dropped[-1]
            dropped[-1] = Dropped(rule, last.line_start, line_end, f"{last.text}\n\n{text}")
        else:
            dropped.append(Dropped(rule, line_index.line_of(block[0].start), line_end, text))

    kept: list[list[_Line]] = []
    for block in blocks:
        rules = [_line_chrome_rule(line.text) for line in block]
        if all(rules):
            drop(rules[0] or "", block)
            for line in block:
                last_modified = last_modified or _last_updated(line.text)
        else:
            kept.append(block)

    is_heading = [
        len(block) == 1 and looks_like_heading(block[0].text) and i + 1 < len(kept) for i, block in enumerate(kept)
    ]

    sections: list[Section] = []
    headings: tuple[str, ...] = ()
    heading_line: int | None = None
    builder = PiecesBuilder(text)
    chrome_rule: str | None = None

    def close() -> None:
        body = builder.build()
        if body.text or heading_line is not None:
            level = 1 + len(headings) if headings else 0
            sections.append(Section(headings, level, heading_line, body))

    previous_was_heading = False
    last_end: int | None = None  # end of the previous content block in this section
    for block, heading in zip(kept, is_heading, strict=True):
        if heading:
            name = collapse_space(block[0].text)
            chrome_rule = _section_chrome_rule(name)
            if chrome_rule:
                drop(chrome_rule, block)
                previous_was_heading = False
                continue
            close()
            builder, last_end = PiecesBuilder(text), None
            # Plain text has no heading levels; a heading directly under another is its child.
            parent = headings[-1:] if previous_was_heading else ()
            headings = (*parent, name)
            heading_line = line_index.line_of(block[0].start)
            previous_was_heading = True
            continue
        previous_was_heading = False
        if chrome_rule:
            drop(chrome_rule, block, extend=True)
            continue
        if last_end is not None and not text[last_end : block[0].start].strip():
            builder.add(last_end, block[0].start)  # keep the blank line between paragraphs
        for line in block:
            for a, b in remove_citations(line.text):
                builder.add(line.start + a, line.start + b)
            builder.add(line.end, line.next)
        last_end = block[-1].next
    close()

    warnings = []
    if not any(section.headings for section in sections):
        warnings.append("no headings recognised; the page is indexed as one section")
    return Document(
        doc_id=doc_id,
        path=path,
        format="plaintext",
        title=title,
        source_text=text,
        sections=sections,
        last_modified=last_modified,
        dropped=dropped,
        warnings=warnings,
    )
