"""Split documents into chunks: one per heading section, long sections split by the
embedding model's own tokenizer so that no text falls past the model's window.

Sections come from the document parsers (which keep exact character offsets; LangChain's
``MarkdownHeaderTextSplitter`` rewrites whitespace and returns no offsets). Inside a section,
LangChain's ``RecursiveCharacterTextSplitter`` splits on paragraph, line, sentence and word
boundaries with the tokenizer as its length function and a small overlap. Every chunk's
text is an exact slice of its section's clean text, so it maps back to a source span.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from typing import Any

from langchain_text_splitters import RecursiveCharacterTextSplitter

from qa.ingest.documents import Document
from qa.ingest.spans import LineIndex
from qa.text import join_path

TokenCounter = Callable[[str], int]

# Paragraph, line, sentence, word, character.
_SEPARATORS = [r"\n[ \t]*\n", r"\n", r"(?<=[.!?;])[ \t]+", r"[ \t]+", ""]


@dataclass(frozen=True)
class ChunkSettings:
    """``max_tokens``: word pieces the embedder reads per chunk, context line included and
    special tokens excluded. ``overlap_tokens``: shared by consecutive pieces of a section."""

    max_tokens: int
    overlap_tokens: int
    include_faq: bool = True  # False for held-out evaluation: FAQ sections are not indexed
    drug_dictionary: bool = True  # take drug names from the drug dictionary into the lexicon
    sentence_view: bool = False  # embed every sentence too (only the ablations and chat's quotes read it)

    def as_dict(self) -> dict[str, int | bool]:
        return {
            "max_tokens": self.max_tokens,
            "overlap_tokens": self.overlap_tokens,
            "include_faq": self.include_faq,
            "drug_dictionary": self.drug_dictionary,
            "sentence_view": self.sentence_view,
        }


@dataclass(frozen=True)
class Chunk:
    id: str
    doc_id: str
    ordinal: int  # position of the chunk within its document
    title: str
    heading_path: tuple[str, ...]  # title first
    text: str
    start: int  # [start, end) character span in the source file
    end: int
    line_start: int  # 1-based, inclusive
    line_end: int
    path: str  # source file, relative to the corpus directory
    part: int  # 1-based piece number within its section
    parts: int
    context: str  # the title › heading path line embedded with the text (shortened if overlong)
    last_modified: str | None = None
    source_url: str | None = None
    is_banned: bool | None = None
    faq: bool = False  # from an FAQ section of the document


_CHUNK_FIELDS = tuple(f.name for f in fields(Chunk))


def chunk_to_json(chunk: Chunk) -> dict[str, Any]:
    """``asdict`` without its deep copy (every field is a plain value or a tuple of strings)."""
    data = {name: getattr(chunk, name) for name in _CHUNK_FIELDS}
    data["heading_path"] = list(chunk.heading_path)
    return data


def chunk_from_json(data: dict[str, Any]) -> Chunk:
    return Chunk(**{**data, "heading_path": tuple(data["heading_path"])})


def embedding_text(context: str, text: str) -> str:
    """What the embedder reads for a chunk: its title › heading path, then its text.
    Markdown bold markers are dropped: they cost word pieces and carry no meaning."""
    body = text.replace("**", "").replace("__", "")
    return f"{context}\n{body}" if context else body


def chunk_embedding_text(chunk: Chunk) -> str:
    return embedding_text(chunk.context, chunk.text)


def chunk_id(doc_id: str, start: int, end: int, text: str) -> str:
    digest = hashlib.sha256(f"{doc_id}\x00{start}\x00{end}\x00{text}".encode()).hexdigest()
    return digest[:16]


def _fit_context(context: str, budget: int, count: TokenCounter) -> str:
    """Shorten an overlong heading path so that it takes at most a quarter of the window."""
    limit = max(budget // 4, 8)
    if count(context) <= limit:
        return context
    parts = context.split(" › ")
    short = join_path([parts[0], parts[-1]]) if len(parts) > 1 else parts[0]
    while short and count(short) > limit:
        short = short[: int(len(short) * 0.8)].rstrip()
    return short


def _locate(text: str, pieces: list[str]) -> list[tuple[int, int]] | None:
    """Positions of the splitter's pieces in ``text``. Each piece starts after the previous
    one starts and ends after it ends; None if the pieces do not cover all non-space text
    (possible only for highly repetitive text, where a piece can match in several places)."""
    spans: list[tuple[int, int]] = []
    prev_start, prev_end = -1, 0
    for piece in pieces:
        at = text.find(piece, prev_start + 1)
        while at >= 0 and at + len(piece) <= prev_end:
            at = text.find(piece, at + 1)
        if at < 0:
            return None
        spans.append((at, at + len(piece)))
        prev_start, prev_end = at, at + len(piece)
    covered = 0
    for a, b in spans:
        if text[covered:a].strip():
            return None
        covered = max(covered, b)
    return spans if not text[covered:].strip() else None


def _word_windows(text: str, budget: int, count: TokenCounter) -> list[tuple[int, int]]:
    """Fallback: consecutive runs of whole words, each within ``budget`` tokens, no overlap."""
    spans: list[tuple[int, int]] = []
    start = end = None
    for match in re.finditer(r"\S+", text):
        a, b = match.span()
        if start is not None and count(text[start:b]) <= budget:
            end = b
            continue
        if start is not None:
            spans.append((start, end))
        start, end = a, b
        while count(text[start:end]) > budget:  # one word longer than the budget
            cut = end - 1
            while cut > start + 1 and count(text[start:cut]) > budget:
                cut = start + (cut - start) // 2
            spans.append((start, cut))
            start = cut
    if start is not None:
        spans.append((start, end))
    return spans


def split_spans(text: str, budget: int, overlap: int, count: TokenCounter) -> list[tuple[int, int]]:
    """``[start, end)`` ranges of ``text``, each at most ``budget`` tokens, covering all of it
    except whitespace at the cuts. Consecutive ranges share up to ``overlap`` tokens."""
    if budget < 1:
        raise ValueError(f"token budget must be positive, got {budget}")
    if not text.strip():
        return []
    if count(text) <= budget:
        return [(0, len(text))]
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=budget,
        chunk_overlap=min(overlap, budget // 4),
        length_function=count,
        separators=_SEPARATORS,
        is_separator_regex=True,
        keep_separator="end",
        strip_whitespace=True,
    )
    spans = _locate(text, splitter.split_text(text))
    if spans is None:
        return _word_windows(text, budget, count)
    fitted: list[tuple[int, int]] = []
    for a, b in spans:
        # Word pieces at a cut can differ from the sum of the parts; re-split the rare overflow.
        if count(text[a:b]) > budget:
            inner = split_spans(text[a:b], max(1, budget * 9 // 10), overlap, count)
            fitted.extend((a + x, a + y) for x, y in inner)
        else:
            fitted.append((a, b))
    return fitted


def chunk_document(doc: Document, settings: ChunkSettings, count: TokenCounter) -> list[Chunk]:
    lines = LineIndex(doc.source_text)
    chunks: list[Chunk] = []
    for section in doc.sections:
        body = section.body
        if not body.text or (section.is_faq and not settings.include_faq):
            continue
        heading_path = (doc.title, *section.headings)
        context = _fit_context(join_path(heading_path), settings.max_tokens, count)
        budget = settings.max_tokens - count(context)

        def body_tokens(piece: str) -> int:
            return count(embedding_text("", piece))

        spans = split_spans(body.text, budget, settings.overlap_tokens, body_tokens)
        for part, (a, b) in enumerate(spans, start=1):
            text = body.text[a:b]
            start, end = body.source_span(a, b)
            line_start, line_end = lines.lines_of(start, end)
            chunks.append(
                Chunk(
                    id=chunk_id(doc.doc_id, start, end, text),
                    doc_id=doc.doc_id,
                    ordinal=len(chunks),
                    title=doc.title,
                    heading_path=heading_path,
                    text=text,
                    start=start,
                    end=end,
                    line_start=line_start,
                    line_end=line_end,
                    path=doc.path,
                    part=part,
                    parts=len(spans),
                    context=context,
                    last_modified=doc.last_modified,
                    source_url=doc.source_url,
                    is_banned=doc.is_banned,
                    faq=section.is_faq,
                )
            )
    return chunks


def chunk_documents(
    docs: Iterable[Document], settings: ChunkSettings, count: TokenCounter, *, progress: bool = False
) -> list[Chunk]:
    docs = list(docs)
    iterator: Iterable[Document] = docs
    if progress:
        from tqdm import tqdm

        iterator = tqdm(docs, desc="Chunking", unit="doc")
    # The splitter measures many small, repeated pieces (words, lines): memoise the counts.
    cached = functools.lru_cache(maxsize=500_000)(count)
    chunks: list[Chunk] = []
    for doc in iterator:
        chunks.extend(chunk_document(doc, settings, cached))
    return chunks
