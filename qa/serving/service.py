"""The service facade the HTTP and CLI adapters call: open an index with its embedder,
answer questions, list documents. Framework-free."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qa.errors import DocumentNotFoundError, InvalidQueryError
from qa.indexing.build import BuildReport, build_index
from qa.indexing.chunking import Chunk, ChunkSettings
from qa.indexing.embedding import Embedder, SentenceTransformerEmbedder
from qa.indexing.onnx_encoder import OnnxEmbedder
from qa.indexing.probes import check_encoder
from qa.indexing.records import DocumentRecord
from qa.indexing.storage import Index, load_index
from qa.ingest.corpus import corpus_fingerprint
from qa.retrieval.catalog import make_retrievers
from qa.retrieval.query import Filters, Hit
from qa.retrieval.recognition import Mention
from qa.retrieval.searcher import Searcher
from qa.retrieval.signal import classify
from qa.settings import RetrievalSettings, Settings

logger = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 2000
MAX_K = 50


DEFAULT_MODE = "multiview"
MODES = (DEFAULT_MODE, "hybrid", "dense", "bm25")


@dataclass(frozen=True)
class Answer:
    question: str
    hits: list[Hit]
    took_ms: float
    fingerprint: str
    model: str
    mode: str = DEFAULT_MODE
    match: str = "weak"
    confidence: float | None = None
    mentions: tuple[Mention, ...] = ()
    unknown_drugs: tuple[str, ...] = ()
    # the question's vector when exactly the question was embedded (no names added), for reuse
    vector: np.ndarray | None = field(default=None, repr=False, compare=False)


def make_embedder(settings: Settings) -> Embedder:
    """The configured encoder: ``QA_ENCODER`` torch, onnx (the default) or onnx-int8."""
    if settings.encoder == "torch":
        return SentenceTransformerEmbedder(
            settings.model, device=settings.device, batch_size=settings.batch_size, adapter=settings.model_adapter
        )
    return OnnxEmbedder(
        settings.model,
        adapter=settings.model_adapter,
        quantize=settings.encoder == "onnx-int8",
        cache_dir=settings.cache_dir,
        batch_size=settings.batch_size,
        threads=settings.encoder_threads,
    )


def chunk_settings(settings: Settings, embedder: Embedder) -> ChunkSettings:
    """Chunks are capped by the setting and by what the model can read, whichever is lower."""
    return ChunkSettings(
        max_tokens=min(settings.max_chunk_tokens, embedder.max_tokens),
        overlap_tokens=settings.chunk_overlap_tokens,
        drug_dictionary=settings.drug_dictionary,
        sentence_view=settings.sentence_view,
    )


def build(settings: Settings, embedder: Embedder, *, progress: bool = False) -> BuildReport:
    return build_index(
        settings.corpus_dir, settings.index_dir, embedder, chunk_settings(settings, embedder), progress=progress
    )


def stale_reasons(index: Index, settings: Settings, embedder: Embedder) -> list[str]:
    """Why the index no longer matches the configured corpus and chunking (empty when it does)."""
    corpus = Path(settings.corpus_dir)
    fingerprint = corpus_fingerprint(corpus) if corpus.is_dir() else index.fingerprint
    return index.differences(fingerprint, chunk_settings(settings, embedder), embedder.model_id)


def validate_question(question: str, k: int, mode: str = DEFAULT_MODE) -> str:
    question = question.strip()
    if not question:
        raise InvalidQueryError("the question is empty; ask something like 'What is the dose of pomalidomide?'")
    if len(question) > MAX_QUESTION_CHARS:
        raise InvalidQueryError(f"the question is {len(question)} characters long; the limit is {MAX_QUESTION_CHARS}")
    if not 1 <= k <= MAX_K:
        raise InvalidQueryError(f"k must be between 1 and {MAX_K}, got {k}")
    if mode not in MODES:
        raise InvalidQueryError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    return question


class VectorCache:
    """A bounded map of vectors computed at query time (sentences of FAQ answers), thread-safe
    enough for its use: a lost insert only means embedding again."""

    def __init__(self, limit: int = 10_000) -> None:
        self.limit = limit
        self._items: dict[str, np.ndarray] = {}

    def get(self, key: str) -> np.ndarray | None:
        return self._items.get(key)

    def put(self, key: str, vectors: np.ndarray) -> None:
        if len(self._items) >= self.limit:
            self._items.clear()
        self._items[key] = vectors


class QAService:
    def __init__(self, index: Index, embedder: Embedder, retrieval: RetrievalSettings | None = None) -> None:
        index.check_model(embedder.model_id, embedder.dimension)
        check_encoder(index.manifest["model"], embedder, index.path)
        self.index = index
        self.embedder = embedder
        self.searcher = Searcher(index, embedder, retrieval)
        self.retrievers = make_retrievers(list(MODES), self.searcher)
        self.sentence_cache = VectorCache()
        self._places: dict[str, tuple[Chunk, str]] | None = None

    @classmethod
    def open(cls, settings: Settings, embedder: Embedder | None = None) -> QAService:
        index = load_index(settings.index_dir)
        embedder = embedder or make_embedder(settings)
        index.check_model(embedder.model_id)  # before loading a model we would not use
        return cls(index, embedder, settings.retrieval())

    def warm_up(self) -> None:
        """Load the model and run one query so the first real question is not slow."""
        self.ask("warm-up", 1)

    def ask(self, question: str, k: int = 5, mode: str = DEFAULT_MODE, filters: Filters | None = None) -> Answer:
        question = validate_question(question, k, mode)
        started = time.perf_counter()
        retriever = self.retrievers[mode]
        query = retriever.prepare(question, filters)
        hits = retriever.search(query, k)
        hits = self.searcher.with_faq_answer(query, hits, k, filters)
        evidence = self.searcher.evidence(query, hits)
        match = classify(evidence, self.index.calibration)
        took_ms = (time.perf_counter() - started) * 1000
        return Answer(
            question, hits, took_ms, self.index.fingerprint, self.index.model_id, mode, match, evidence.confidence,
            tuple(query.mentions), evidence.unknown_drugs,
            query.vector[0] if query.vector is not None and query.search_text == question else None,
        )  # fmt: skip

    def places(self, doc_id: str) -> list[Chunk]:
        """Every passage and FAQ answer of a document, for its view page."""
        self.document(doc_id)
        chunks = [c for c in self.index.chunks if c.doc_id == doc_id]
        return chunks + [p for e in self.index.faqs.entries for p in e.places if p.doc_id == doc_id]

    def place(self, chunk_id: str) -> tuple[Chunk, str] | None:
        """A passage ("passage") or FAQ answer ("faq") of the index by id, or None."""
        if self._places is None:
            places = {p.id: (p, "faq") for e in self.index.faqs.entries for p in e.places}
            self._places = places | {c.id: (c, "passage") for c in self.index.chunks}
        return self._places.get(chunk_id)

    def documents(self) -> list[DocumentRecord]:
        return sorted(self.index.documents.values(), key=lambda d: d.doc_id)

    def document(self, doc_id: str) -> DocumentRecord:
        try:
            return self.index.documents[doc_id]
        except KeyError:
            raise DocumentNotFoundError(doc_id) from None
