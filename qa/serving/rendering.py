"""A document as a readable page body, with one cited passage marked (``<mark>``).

Markdown is rendered by markdown-it-py with raw HTML off, after the YAML frontmatter. The cited
passage's character span gives its source lines; markdown-it's line maps give the rendered
blocks on those lines; inside them the passage's own text (rendered the same way) is found
and exactly that text is marked, one ``<mark>`` per stretch of text, so that a passage that
starts or ends inside a paragraph is marked from and to the right word. Where the text cannot
be found (markup that renders differently cut in two), the blocks on the passage's lines are
marked whole.

Plain-text pages show their detected headings as headings and their paragraphs as
paragraphs, without the site chrome and the numbered citation markers the parser left out;
their offsets map one to one, so the mark is exact by construction.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass

from markdown_it import MarkdownIt
from markdown_it.token import Token

from qa.indexing.chunking import Chunk
from qa.indexing.records import DocumentRecord
from qa.ingest.markdown import frontmatter_end
from qa.ingest.plaintext import remove_citations

_SPACE = re.compile(r"\s+")
_TEXT = ("text", "code_inline")
_BREAK = ("softbreak", "hardbreak")


def markdown() -> MarkdownIt:
    """CommonMark with tables and strikethrough; raw HTML is shown as text, never rendered."""
    return MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


def normalise(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


@dataclass
class _Stream:
    """The rendered text of a token list: each character's child token and offset (None for
    the spaces put between blocks and at line breaks), and each child's source lines."""

    text: list[str]
    where: list[tuple[Token, int] | None]
    lines: dict[int, tuple[int, int]]  # id(child) -> its block's first and last line (1-based)


def _stream(tokens: list[Token], first_line: int = 1) -> _Stream:
    stream = _Stream([], [], {})
    for block in tokens:
        if block.type != "inline" or not block.children:
            continue
        lines = (block.map[0] + first_line, block.map[1] + first_line - 1) if block.map else (0, 0)
        stream.text.append(" ")
        stream.where.append(None)
        for child in block.children:
            if child.type in _TEXT:
                stream.lines[id(child)] = lines
                for offset, char in enumerate(child.content):
                    stream.text.append(char)
                    stream.where.append((child, offset))
            elif child.type in _BREAK:
                stream.text.append(" ")
                stream.where.append(None)
    return stream


def rendered_text(source: str) -> str:
    """What a Markdown fragment reads as once rendered, whitespace normalised."""
    return normalise("".join(_stream(markdown().parse(source)).text))


def _normalised(stream: _Stream, positions: list[int], drop: str = "") -> str:
    """The stream with whitespace runs collapsed (and the ``drop`` characters left out);
    ``positions`` gets each kept character's index."""
    out: list[str] = []
    for index, char in enumerate(stream.text):
        if char in drop:
            continue
        if char.isspace():
            if not out or out[-1] == " ":
                continue
            char = " "
        out.append(char)
        positions.append(index)
    return "".join(out)


def _find(stream: _Stream, passage: str, first: int, last: int) -> tuple[int, int] | None:
    """Stream indexes [start, end) of the passage's rendered text on lines first..last. Failing
    that, the same without emphasis characters: a passage cut from the middle of a line can pair
    its ``*`` differently when rendered alone than the whole line does."""
    return _find_text(stream, rendered_text(passage), first, last) or _find_text(
        stream, _SPACE.sub(" ", re.sub(r"[*_]", "", rendered_text(passage))).strip(), first, last, drop="*_"
    )


def _find_text(stream: _Stream, target: str, first: int, last: int, drop: str = "") -> tuple[int, int] | None:
    positions: list[int] = []
    text = _normalised(stream, positions, drop)
    if not target:
        return None
    start = 0
    while (found := text.find(target, start)) >= 0:
        a, b = positions[found], positions[found + len(target) - 1] + 1
        owner = stream.where[a]
        if owner is not None and first <= stream.lines[id(owner[0])][1] and stream.lines[id(owner[0])][0] <= last:
            return a, b
        start = found + 1
    return None


def _marked_ranges(stream: _Stream, span: tuple[int, int] | None, first: int, last: int) -> dict[int, tuple[int, int]]:
    """Per child token (by id), the [start, end) of its content to mark."""
    ranges: dict[int, tuple[int, int]] = {}
    if span is not None:
        for index in range(*span):
            owner = stream.where[index]
            if owner is not None:
                child, offset = owner
                a, b = ranges.get(id(child), (offset, offset + 1))
                ranges[id(child)] = (min(a, offset), max(b, offset + 1))
        return ranges
    for owner in stream.where:  # fallback: whole blocks on the passage's lines
        if owner is not None:
            a, b = stream.lines[id(owner[0])]
            if first <= a and b <= last:
                ranges[id(owner[0])] = (0, len(owner[0].content))
    return ranges


def _split(child: Token, a: int, b: int) -> list[Token]:
    def text(content: str) -> Token:
        token = Token(child.type, child.tag, 0)
        token.content, token.markup = content, child.markup
        return token

    if child.type == "code_inline":
        a, b = 0, len(child.content)  # a code span is marked whole
    mark_open, mark_close = Token("mark_open", "mark", 1), Token("mark_close", "mark", -1)
    pieces = [text(child.content[:a]), mark_open, text(child.content[a:b]), mark_close, text(child.content[b:])]
    return [p for p in pieces if p.type != child.type or p.content]


def render_markdown(record: DocumentRecord, chunk: Chunk | None) -> tuple[str, bool]:
    """The body as HTML, the chunk's text marked; and whether the mark is exact."""
    source = record.source_text
    start = frontmatter_end(source)
    first_line = source.count("\n", 0, start) + 1
    md = markdown()
    tokens = md.parse(source[start:])
    exact = True
    if chunk is not None:
        stream = _stream(tokens, first_line)
        span = _find(stream, chunk.text, chunk.line_start, chunk.line_end)
        exact = span is not None
        ranges = _marked_ranges(stream, span, chunk.line_start, chunk.line_end)
        for block in tokens:
            if block.type == "inline" and block.children:
                block.children = [
                    piece
                    for child in block.children
                    for piece in (_split(child, *ranges[id(child)]) if id(child) in ranges else [child])
                ]
        _name_first_mark(tokens)
    return md.renderer.render(tokens, md.options, {}), exact


def _name_first_mark(tokens: list[Token]) -> None:
    for block in tokens:
        for child in block.children or []:
            if child.type == "mark_open":
                child.attrs = {"id": "cited", "tabindex": "-1"}
                return


def _lines(text: str) -> Iterator[tuple[int, int, str]]:
    """(line number, offset, line without its newline)."""
    offset = 0
    for number, line in enumerate(text.split("\n"), start=1):
        yield number, offset, line
        offset += len(line) + 1


def _marked(text: str, offset: int, span: tuple[int, int] | None, first: list[bool]) -> str:
    """``text`` (starting at ``offset`` in the source) escaped, the part inside ``span`` marked."""
    if span is None or span[1] <= offset or offset + len(text) <= span[0]:
        return html.escape(text)
    a, b = max(0, span[0] - offset), min(len(text), span[1] - offset)
    attrs = ' id="cited" tabindex="-1"' if first[0] else ""
    first[0] = False
    return f"{html.escape(text[:a])}<mark{attrs}>{html.escape(text[a:b])}</mark>{html.escape(text[b:])}"


def render_plaintext(record: DocumentRecord, chunk: Chunk | None) -> tuple[str, bool]:
    """Headings as headings, paragraphs as paragraphs (line breaks kept), chrome and citation
    markers left out, the chunk's span marked."""
    headings = {e.line_start: e.level for e in record.outline if e.line_start is not None}
    dropped = {n for d in record.dropped for n in range(d.line_start, d.line_end + 1)}
    span = (chunk.start, chunk.end) if chunk is not None else None
    first, out, paragraph = [True], [], []
    title_seen = False

    def close() -> None:
        if paragraph:
            out.append("<p>" + "\n".join(paragraph) + "</p>")
            paragraph.clear()

    for number, offset, line in _lines(record.source_text):
        if number in dropped or not line.strip():
            close()
            continue
        if not title_seen and normalise(line) == normalise(record.title):
            title_seen = True  # the title is the page's header
            continue
        pieces = "".join(_marked(line[a:b], offset + a, span, first) for a, b in remove_citations(line))
        if number in headings:
            close()
            level = min(6, headings[number] + 1)
            out.append(f"<h{level}>{pieces.strip()}</h{level}>")
        else:
            paragraph.append(pieces)
    close()
    return "\n".join(out), True
