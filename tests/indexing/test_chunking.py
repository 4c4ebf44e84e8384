from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_text_splitters import MarkdownHeaderTextSplitter

from qa.indexing.chunking import ChunkSettings, chunk_document, chunk_embedding_text, split_spans
from qa.ingest.corpus import load_corpus, parse_document
from qa.ingest.plaintext import remove_citations
from qa.ingest.spans import PiecesBuilder
from qa.text import clean_heading
from tests.conftest import SEED_CORPUS
from tests.fakes import FakeEmbedder

FAKE = FakeEmbedder()
SMALL = ChunkSettings(max_tokens=48, overlap_tokens=8)


@pytest.fixture(scope="module")
def seed_docs():
    return load_corpus(SEED_CORPUS).documents


@pytest.fixture(scope="module")
def seed_chunks(seed_docs):
    return {doc.doc_id: (doc, chunk_document(doc, SMALL, FAKE.count_tokens)) for doc in seed_docs}


# ------------------------------------------------------------------ spans
@given(
    source=st.text(alphabet="ab \n\t.", min_size=1, max_size=60),
    cuts=st.lists(st.integers(0, 60), max_size=8),
)
def test_pieces_map_every_character_back_to_itself(source: str, cuts: list[int]) -> None:
    points = sorted({min(c, len(source)) for c in cuts} | {0, len(source)})
    builder = PiecesBuilder(source)
    for a, b in list(itertools.pairwise(points))[::2]:  # every other range: gaps between
        builder.add(a, b)
    pieces = builder.build()
    assert pieces.text == pieces.text.strip()
    for i, char in enumerate(pieces.text):
        start, end = pieces.source_span(i, i + 1)
        assert end == start + 1 and source[start] == char


# ------------------------------------------------------------------ offsets round-trip
def test_markdown_chunk_offsets_round_trip_exactly(seed_chunks) -> None:
    doc, chunks = seed_chunks["pomalidomide-monograph"]
    assert len(chunks) > 20
    for chunk in chunks:
        assert doc.source_text[chunk.start : chunk.end] == chunk.text


def test_plaintext_chunk_offsets_round_trip_modulo_citation_markers(seed_chunks) -> None:
    doc, chunks = seed_chunks["pomalidomide-infection-article"]
    for chunk in chunks:
        span = doc.source_text[chunk.start : chunk.end]
        cleaned = "\n".join("".join(line[a:b] for a, b in remove_citations(line)) for line in span.split("\n"))
        assert cleaned == chunk.text
        assert span.startswith(chunk.text[:10]) and span.rstrip().endswith(chunk.text[-5:])


def test_line_numbers_match_offsets(seed_chunks) -> None:
    for doc, chunks in seed_chunks.values():
        for chunk in chunks:
            assert doc.source_text.count("\n", 0, chunk.start) + 1 == chunk.line_start
            assert doc.source_text.count("\n", 0, chunk.end - 1) + 1 == chunk.line_end


def test_chunks_carry_heading_path_and_metadata(seed_chunks) -> None:
    doc, chunks = seed_chunks["pomalidomide-monograph"]
    adults = [c for c in chunks if c.heading_path == ("Pomalidomide", "Dosage", "Standard Dosage", "Adults")]
    assert adults and "4 mg orally once daily" in adults[0].text
    for chunk in chunks:
        assert chunk.doc_id == doc.doc_id and chunk.title == "Pomalidomide"
        assert chunk.last_modified == doc.last_modified and chunk.is_banned is False
        assert chunk.path == "pomalidomide-monograph.md"
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))


def test_chunk_ids_are_stable_and_unique(seed_docs) -> None:
    first = [c.id for d in seed_docs for c in chunk_document(d, SMALL, FAKE.count_tokens)]
    second = [c.id for d in seed_docs for c in chunk_document(d, SMALL, FAKE.count_tokens)]
    assert first == second
    assert len(set(first)) == len(first)


# ------------------------------------------------------------------ token cap
def test_no_chunk_exceeds_the_token_cap(seed_chunks) -> None:
    split_sections = 0
    for _, chunks in seed_chunks.values():
        for chunk in chunks:
            assert FAKE.count_tokens(chunk_embedding_text(chunk)) <= SMALL.max_tokens
            split_sections += chunk.parts > 1
    assert split_sections > 0  # the cap really was exercised


def test_long_section_is_split_with_overlap() -> None:
    sentences = " ".join(f"Sentence number {i} mentions pomalidomide." for i in range(40))
    doc = parse_document(f"---\ntitle: T\n---\n## Long\n\n{sentences}\n", doc_id="t", path="t.md")
    chunks = chunk_document(doc, SMALL, FAKE.count_tokens)
    assert len(chunks) > 3
    assert all(c.parts == len(chunks) for c in chunks)
    overlapping = sum(1 for a, b in itertools.pairwise(chunks) if b.start < a.end)
    assert overlapping >= 1
    for chunk in chunks:
        assert not re.match(r"^\S*\.\s", chunk.text), "pieces start at sentence or word boundaries"


def test_overlong_heading_path_is_shortened_for_the_embedder() -> None:
    heading = " ".join(["word"] * 60)
    doc = parse_document(f"---\ntitle: T\n---\n## {heading}\n\nShort body.\n", doc_id="t", path="t.md")
    (chunk,) = chunk_document(doc, SMALL, FAKE.count_tokens)
    assert chunk.heading_path[-1] == heading  # attribution keeps the full path
    assert FAKE.count_tokens(chunk_embedding_text(chunk)) <= SMALL.max_tokens


# ------------------------------------------------------------------ no text lost (property)
words = st.text(alphabet="abcdefghij", min_size=1, max_size=12)
separators = st.sampled_from([" ", " ", " ", "\n", "\n\n", ". ", ", ", "\t"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    parts=st.lists(st.tuples(words, separators), min_size=1, max_size=120),
    budget=st.integers(4, 40),
    overlap=st.integers(0, 10),
)
def test_split_spans_cover_all_text_within_budget(parts, budget: int, overlap: int) -> None:
    text = "".join(w + s for w, s in parts).strip()
    spans = split_spans(text, budget, overlap, FAKE.count_tokens)
    covered = [False] * len(text)
    for a, b in spans:
        assert 0 <= a < b <= len(text)
        assert text[a:b] == text[a:b].strip()
        assert FAKE.count_tokens(text[a:b]) <= budget
        for i in range(a, b):
            covered[i] = True
    assert all(covered[i] for i, char in enumerate(text) if not char.isspace())
    assert [a for a, _ in spans] == sorted(a for a, _ in spans)


heading_text = st.text(alphabet="ABCdef ", min_size=1, max_size=15).filter(lambda s: s.strip())
paragraph = (
    st.lists(st.text(alphabet="xyz .,", min_size=1, max_size=30), min_size=1, max_size=6)
    .map(" ".join)
    .filter(lambda s: any(c.isalpha() for c in s))
)


@settings(max_examples=60, deadline=None)
@given(sections=st.lists(st.tuples(st.integers(1, 4), heading_text, paragraph), min_size=1, max_size=8))
def test_markdown_chunks_round_trip_and_lose_nothing(sections) -> None:
    body = "".join(f"{'#' * level} **{head}:**\n\n{para}\n\n" for level, head, para in sections)
    source = f"---\ntitle: Generated\n---\n{body}"
    doc = parse_document(source, doc_id="g", path="g.md")
    chunks = chunk_document(doc, SMALL, FAKE.count_tokens)
    covered = [False] * len(source)
    for chunk in chunks:
        assert source[chunk.start : chunk.end] == chunk.text
        for i in range(chunk.start, chunk.end):
            covered[i] = True
    for section in doc.sections:
        if section.body.text:
            start, end = section.body.source_span(0, len(section.body.text))
            assert all(covered[i] for i in range(start, end) if not source[i].isspace())


# ------------------------------------------------------------------ agreement with LangChain
def test_markdown_sections_agree_with_langchain_header_splitter(seed_docs) -> None:
    doc = next(d for d in seed_docs if d.format == "markdown")
    body = doc.source_text.split("\n---\n", 1)[1]
    splitter = MarkdownHeaderTextSplitter(
        [("#", "h1"), ("##", "h2"), ("###", "h3"), ("####", "h4")], strip_headers=True
    )
    theirs = [
        tuple(clean_heading(d.metadata[k]) for k in ("h1", "h2", "h3", "h4") if k in d.metadata)
        for d in splitter.split_text(body)
    ]
    ours = [s.headings for s in doc.sections if s.body.text]
    assert ours == theirs
