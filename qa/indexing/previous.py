"""What a rebuild takes from the index it replaces: the chunks of unchanged documents and the
vectors of unchanged texts.

Both are used only when the old index vouches for them (its manifest's checksums) and was made
the same way: chunks when the package version, chunk settings and model (whose tokenizer measured
them) are the same and the document's source text is byte for byte the same; vectors when the
model is the same and its encoder gives the same vectors (``qa.indexing.probes``). A chunk's
sentence rows and BM25 tokens are reused when the rules that made them are unchanged (digests in
the manifest). Anything that cannot be read or trusted is simply computed again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from qa import __version__
from qa.errors import IndexCorruptError
from qa.indexing.bm25 import BM25_DIR, TOKEN_OFFSETS_FILE, TOKENS_FILE, VOCAB_FILE, TokenReuse
from qa.indexing.bm25 import rules_digest as bm25_rules_digest
from qa.indexing.chunking import Chunk, ChunkSettings, chunk_embedding_text, chunk_from_json
from qa.indexing.manifest import CHUNKS_FILE, DOCUMENTS_FILE, FAISS_FILE, MANIFEST, sha256_file
from qa.indexing.probes import same_vectors
from qa.indexing.storage import read_jsonl
from qa.indexing.views import SentenceReuse, previous_heading_vectors, reusable_sentences

SENTENCE_FILES = ("views/sentence.npy", "views/sentence_offsets.npy")
HEADING_FILES = ("views/heading.json", "views/heading.npy")
TOKEN_FILES = tuple(f"{BM25_DIR}/{name}" for name in (TOKENS_FILE, TOKEN_OFFSETS_FILE, VOCAB_FILE))
# What a damaged or foreign earlier index can raise while being read: it is then not reused.
_READ_ERRORS = (OSError, KeyError, TypeError, ValueError, AttributeError, IndexError, RuntimeError, IndexCorruptError)


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class Previous:
    """The reusable parts of the index being replaced (empty when there is none)."""

    chunks_of: dict[str, tuple[str, list[Chunk]]] = field(default_factory=dict)  # doc id -> (source key, chunks)
    vectors: dict[str, np.ndarray] = field(default_factory=dict)  # embedded text -> vector
    sentences: SentenceReuse | None = None  # sentence rows by chunk, when split by today's rules
    tokens: TokenReuse | None = None  # BM25 tokens by chunk text, when tokenized by today's rules

    def chunks_for(self, doc_id: str, source_text: str) -> list[Chunk] | None:
        """The old chunks of a document whose source is unchanged, else None."""
        found = self.chunks_of.get(doc_id)
        return found[1] if found is not None and found[0] == text_key(source_text) else None


def _checked(index_dir: Path, manifest: dict[str, Any], *names: str) -> bool:
    return all(sha256_file(index_dir / name) == manifest["files"][name]["sha256"] for name in names)


def _checked_quietly(index_dir: Path, manifest: dict[str, Any], *names: str) -> bool:
    try:
        return _checked(index_dir, manifest, *names)
    except _READ_ERRORS:
        return False


def load_previous(
    index_dir: Path, model_id: str, probe: dict[str, Any], chunking: ChunkSettings, *, vectors: bool = True
) -> Previous:
    try:
        manifest = json.loads((index_dir / MANIFEST).read_text(encoding="utf-8"))
        if manifest["model"]["id"] != model_id or not _checked(index_dir, manifest, CHUNKS_FILE):
            return Previous()
        chunks = [chunk_from_json(row) for row in read_jsonl(index_dir / CHUNKS_FILE)]
    except _READ_ERRORS:
        return Previous()
    previous = Previous()

    def chunk_rules(settings: Any) -> Any:  # what decides the chunks (not which views are embedded)
        return {k: v for k, v in settings.items() if k != "sentence_view"} if isinstance(settings, dict) else settings

    same_chunking = (
        chunk_rules(manifest.get("chunking")) == chunk_rules(chunking.as_dict())
        and manifest.get("package_version") == __version__
    )
    if same_chunking:
        previous.chunks_of = _chunks_by_document(index_dir, manifest, chunks)
    texts = [chunk_embedding_text(c) for c in chunks]
    previous.tokens = _tokens_by_text(index_dir, manifest, texts)
    if vectors and _same_vectors(manifest, probe):
        previous.sentences = _sentences_by_chunk(index_dir, manifest, chunks)
        previous.vectors = _vectors_by_text(index_dir, manifest, chunks, texts)
    return previous


def _same_vectors(manifest: dict[str, Any], probe: dict[str, Any]) -> bool:
    try:
        return same_vectors(manifest["model"], probe)
    except _READ_ERRORS:
        return False


def _sentences_by_chunk(index_dir: Path, manifest: dict[str, Any], chunks: list[Chunk]) -> SentenceReuse | None:
    if not _checked_quietly(index_dir, manifest, *SENTENCE_FILES):
        return None
    try:
        dimension = int(manifest["model"]["dimension"])
        return reusable_sentences(index_dir, chunks, dimension, manifest["views"]["sentence"])
    except _READ_ERRORS:
        return None


def _tokens_by_text(index_dir: Path, manifest: dict[str, Any], texts: list[str]) -> TokenReuse | None:
    try:
        if manifest["retrieval"]["bm25_tokens"] != bm25_rules_digest():
            return None
        if not _checked(index_dir, manifest, *TOKEN_FILES):
            return None
        return TokenReuse.load(index_dir / BM25_DIR, texts)
    except _READ_ERRORS:
        return None


def _chunks_by_document(index_dir: Path, manifest: dict[str, Any], chunks: list[Chunk]) -> dict:
    try:
        if not _checked(index_dir, manifest, DOCUMENTS_FILE):
            return {}
        sources = {row["doc_id"]: text_key(row["source_text"]) for row in read_jsonl(index_dir / DOCUMENTS_FILE)}
    except _READ_ERRORS:
        return {}
    by_doc: dict[str, list[Chunk]] = {doc_id: [] for doc_id in sources}
    for chunk in chunks:
        if chunk.doc_id not in by_doc:
            return {}  # chunks of an unknown document: do not trust the pairing
        by_doc[chunk.doc_id].append(chunk)
    return {doc_id: (key, by_doc[doc_id]) for doc_id, key in sources.items()}


def _vectors_by_text(
    index_dir: Path, manifest: dict[str, Any], chunks: list[Chunk], texts: list[str]
) -> dict[str, np.ndarray]:
    """The chunk and heading vectors of the earlier index by the text they embed, each kind only
    if its files match their checksums (sentence rows are reused by chunk: ``_sentences_by_chunk``)."""
    try:
        if not _checked(index_dir, manifest, FAISS_FILE):
            return {}
        old = faiss.read_index(str(index_dir / FAISS_FILE))
    except _READ_ERRORS:
        return {}
    if old.ntotal != len(chunks):
        return {}
    found = dict(zip(texts, old.reconstruct_n(0, old.ntotal), strict=True))
    if _checked_quietly(index_dir, manifest, *HEADING_FILES):
        with contextlib.suppress(*_READ_ERRORS):
            found.update(previous_heading_vectors(index_dir, old.d))
    return found
