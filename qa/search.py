"""Retrieval: prepare a question, rank chunks, collapse near-duplicates.

``Searcher.prepare`` recognises drug names (``qa.lexicon``), appends the canonical name of
any brand name or misspelling to the text that is searched, and turns filters into a mask
of allowed chunks. Retrievers then rank chunks *within* that mask (so a filtered query
still returns up to k results when that many exist):

- ``dense``: cosine similarity of all-MiniLM-L6-v2 vectors (exact FAISS search);
- ``bm25``: BM25 over title › heading path + text;
- ``hybrid`` (the default): reciprocal-rank fusion of the two, plus a boost for chunks of
  the documents of recognised drugs (a boost, not a filter: a question may compare drugs).

A retriever is one small class: subclass ``RankingRetriever``, give it a ``name`` and a
``rank(query, n)``, decorate it with ``@register``; ``qa eval --retriever NAME`` then compares it
with the others.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import faiss
import numpy as np

from qa.bm25 import Bm25Index
from qa.chunking import Chunk
from qa.embedding import Embedder
from qa.errors import ConfigError, InvalidQueryError
from qa.fusion import RetrievalSettings, collapse, ordered, reciprocal_rank_fusion, weighted_fusion
from qa.index import Index
from qa.lexicon import Mention, normalize
from qa.text import heading_key

Ranking = list[tuple[int, float]]  # (chunk row, score), best first


@dataclass(frozen=True)
class Filters:
    doc_ids: tuple[str, ...] = ()
    sections: tuple[str, ...] = ()  # heading text anywhere in the heading path

    def __bool__(self) -> bool:
        return bool(self.doc_ids or self.sections)


@dataclass
class Query:
    text: str  # as asked
    search_text: str  # with canonical names of recognised brand names and misspellings added
    mentions: list[Mention]
    allowed: np.ndarray | None  # chunk rows the filters allow (None: all)
    entity_rows: np.ndarray  # chunk rows of documents of recognised drugs (within the filters)
    vector: np.ndarray | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float  # the retriever's ranking score (fused score for hybrid)
    rank: int  # 1-based
    similarity: float | None = None  # cosine between question and chunk
    kind: str = "passage"  # or "faq"
    also: tuple[Chunk, ...] = ()  # the same text found in other places

    @property
    def places(self) -> tuple[Chunk, ...]:
        return (self.chunk, *self.also)


class Searcher:
    """The index's rankers and query understanding, shared by every retriever."""

    def __init__(self, index: Index, embedder: Embedder, settings: RetrievalSettings | None = None) -> None:
        index.check_model(embedder.model_id)
        self.index = index
        self.embedder = embedder
        self.settings = settings or RetrievalSettings()
        self._doc_rows: dict[str, list[int]] = {}
        self._heading_rows: dict[str, list[int]] = {}
        for row, chunk in enumerate(index.chunks):
            self._doc_rows.setdefault(chunk.doc_id, []).append(row)
            for heading in chunk.heading_path[1:]:
                self._heading_rows.setdefault(heading_key(heading), []).append(row)

    @property
    def size(self) -> int:
        return len(self.index.chunks)

    def known_word(self, word: str) -> bool:
        return self.index.bm25.knows(word)

    # ------------------------------------------------------------------ query
    def _mask(self, filters: Filters | None) -> np.ndarray | None:
        if not filters:
            return None
        mask = np.ones(self.size, dtype=bool)
        if filters.doc_ids:
            unknown = [d for d in filters.doc_ids if d not in self.index.documents]
            if unknown:
                raise InvalidQueryError(f"filters.doc_ids: no document {unknown[0]!r}; GET /documents lists the ids")
            by_doc = np.zeros(self.size, dtype=bool)
            for doc_id in filters.doc_ids:
                by_doc[self._doc_rows.get(doc_id, [])] = True
            mask &= by_doc
        if filters.sections:
            by_section = np.zeros(self.size, dtype=bool)
            for section in filters.sections:
                by_section[self._heading_rows.get(heading_key(section), [])] = True
            if not by_section.any():
                raise InvalidQueryError(
                    f"filters.sections: no section is headed {', '.join(map(repr, filters.sections))}; "
                    "GET /documents/{doc_id} shows a document's outline"
                )
            mask &= by_section
        return mask

    def prepare(self, question: str, filters: Filters | None = None) -> Query:
        mentions = self.index.lexicon.recognise(question)
        present = normalize(question)
        extra = [m.name for m in mentions if normalize(m.name) not in present]
        search_text = " ".join([question, *dict.fromkeys(extra)])
        allowed = self._mask(filters)
        rows = sorted({r for m in mentions for d in m.doc_ids for r in self._doc_rows.get(d, [])})
        entity_rows = np.array(rows, dtype=np.int64)
        if allowed is not None and len(entity_rows):
            entity_rows = entity_rows[allowed[entity_rows]]
        return Query(question, search_text, mentions, allowed, entity_rows)

    def vector(self, query: Query) -> np.ndarray:
        if query.vector is None:
            query.vector = self.embedder.embed([query.search_text])
        return query.vector

    # ------------------------------------------------------------------ rankers
    def dense(self, query: Query, n: int, rows: np.ndarray | None = None) -> Ranking:
        """Top ``n`` chunks by cosine, among ``rows`` (default: those the filters allow)."""
        if rows is None and query.allowed is not None:
            rows = np.flatnonzero(query.allowed)
        if rows is not None and len(rows) == 0:
            return []
        limit = min(n, self.size if rows is None else len(rows))
        params = None if rows is None else faiss.SearchParameters(sel=faiss.IDSelectorBatch(rows.astype(np.int64)))
        scores, found = self.index.faiss.search(self.vector(query), limit, params=params)
        return [(int(r), float(s)) for r, s in zip(found[0], scores[0], strict=True) if r >= 0]

    def bm25(self, query: Query, n: int, index: Bm25Index | None = None) -> Ranking:
        scores = (index or self.index.bm25).scores(query.search_text, query.allowed)
        candidates = np.flatnonzero(scores > 0)
        if len(candidates) > n:
            candidates = candidates[np.argpartition(-scores[candidates], n - 1)[:n]]
        return sorted(((int(r), float(scores[r])) for r in candidates), key=lambda rs: (-rs[1], rs[0]))

    def similarity(self, query: Query, row: int) -> float:
        return float(self.index.faiss.reconstruct(row) @ self.vector(query)[0])

    # ------------------------------------------------------------------ results
    def finish(self, query: Query, ranking: Sequence[tuple[int, float]], k: int) -> list[Hit]:
        """Collapse near-duplicates (same text in several places) and make the top ``k`` hits."""
        chunks = self.index.chunks
        window = list(ranking[: max(3 * k, k + 20)])
        groups = collapse([chunks[row].text for row, _ in window], k, self.settings.duplicate_threshold)
        hits = []
        for rank, group in enumerate(groups, start=1):
            row, score = window[group[0]]
            also = tuple(chunks[window[i][0]] for i in group[1:])
            hits.append(Hit(chunks[row], score, rank, self.similarity(query, row), "passage", also))
        return hits

    def with_faq_answer(self, query: Query, hits: list[Hit], k: int, filters: Filters | None = None) -> list[Hit]:
        """Put the FAQ answer first when the question closely paraphrases an FAQ question; the
        passages that repeat that answer become its further sources."""
        if filters and filters.sections:
            return hits
        allowed_docs = set(filters.doc_ids) if filters and filters.doc_ids else None
        best = self.index.faqs.best(self.vector(query), allowed_docs)
        if best is None or best[1] < self.settings.faq_min_similarity:
            return hits
        entry, similarity = best
        answer = entry.primary.text
        kept, also = [], list(entry.places[1:])
        spans = {(p.path, p.start, p.end) for p in entry.places}

        def inside_a_place(chunk: Chunk) -> bool:
            return any(p.path == chunk.path and p.start <= chunk.start and chunk.end <= p.end for p in entry.places)

        for hit in hits:
            same_text = collapse([answer, hit.chunk.text], 2, self.settings.duplicate_threshold) == [[0, 1]]
            if same_text or inside_a_place(hit.chunk):
                also += [c for c in hit.places if (c.path, c.start, c.end) not in spans]
                spans |= {(c.path, c.start, c.end) for c in hit.places}
            else:
                kept.append(hit)
        faq = Hit(entry.primary, similarity, 1, similarity, "faq", tuple(also))
        return [faq] + [
            Hit(h.chunk, h.score, rank, h.similarity, h.kind, h.also) for rank, h in enumerate(kept[: k - 1], start=2)
        ]


class Retriever(Protocol):
    name: str

    def search(self, query: Query, k: int) -> list[Hit]: ...


RetrieverFactory = Callable[[Searcher], Retriever]
RETRIEVERS: dict[str, RetrieverFactory] = {}
_R = TypeVar("_R")


def register(cls: _R) -> _R:
    """Class decorator: make a retriever available by its ``name`` (``qa eval --retriever``)."""
    RETRIEVERS[cls.name] = cls  # type: ignore[attr-defined,assignment]
    return cls


def make_retrievers(names: list[str], searcher: Searcher) -> dict[str, Retriever]:
    unknown = [name for name in names if name not in RETRIEVERS]
    if unknown:
        raise ConfigError(f"unknown retriever {unknown[0]!r}; choose from {', '.join(sorted(RETRIEVERS))}")
    return {name: RETRIEVERS[name](searcher) for name in names}


class RankingRetriever:
    """Base for retrievers: subclasses give a ``name`` and ``rank()``; near-duplicate collapse
    and hit building are shared."""

    name = ""

    def __init__(self, searcher: Searcher) -> None:
        self.searcher = searcher

    def rank(self, query: Query, n: int) -> Ranking:
        raise NotImplementedError

    def search(self, query: Query, k: int) -> list[Hit]:
        # Rank past k: collapsing near-duplicates can merge several candidates into one hit.
        return self.searcher.finish(query, self.rank(query, max(3 * k, k + 20)), k)


@register
class DenseRetriever(RankingRetriever):
    """Cosine similarity between the question's vector and each chunk's."""

    name = "dense"

    def rank(self, query: Query, n: int) -> Ranking:
        return self.searcher.dense(query, n)


@register
class Bm25Retriever(RankingRetriever):
    """BM25 over the same contextual text the dense side embeds."""

    name = "bm25"

    def rank(self, query: Query, n: int) -> Ranking:
        return self.searcher.bm25(query, n)


@register
class HybridRetriever(RankingRetriever):
    """Dense and BM25 candidates fused (RRF by default), chunks of recognised drugs boosted."""

    name = "hybrid"
    use_entities = True

    def bm25(self, query: Query, n: int) -> Ranking:
        return self.searcher.bm25(query, n)

    def rank(self, query: Query, n: int) -> Ranking:
        s = self.searcher.settings
        n = max(s.candidates, n)
        rankings = {"dense": self.searcher.dense(query, n), "bm25": self.bm25(query, n)}
        weights = {"dense": s.dense_weight, "bm25": s.bm25_weight}
        if s.fusion == "weighted":
            fused = weighted_fusion(rankings, weights)
            unit = 1.0
        else:
            fused = reciprocal_rank_fusion(rankings, k=s.rrf_k, weights=weights)
            unit = 1.0 / (s.rrf_k + 1)
        if self.use_entities and len(query.entity_rows) and s.entity_boost:
            # Make sure the named drugs' best chunks are candidates, then lift all of their chunks.
            for row, _ in self.searcher.dense(query, 20, rows=query.entity_rows):
                fused.setdefault(row, 0.0)
            entity = set(query.entity_rows.tolist())
            for row in fused:
                if row in entity:
                    fused[row] += s.entity_boost * unit
        return ordered(fused)


# ---------------------------------------------------------------- ablations (for qa eval)
@register
class HybridNoEntitiesRetriever(HybridRetriever):
    """Ablation: hybrid without the drug-name boost."""

    name = "hybrid-no-lexicon"
    use_entities = False


@register
class BareBm25Retriever(RankingRetriever):
    """Ablation: BM25 over chunk text alone, headings stripped (how LangChain's header splitter
    leaves chunks). Built in memory when first used; never part of the index."""

    name = "bm25-bare"

    def __init__(self, searcher: Searcher) -> None:
        super().__init__(searcher)
        self.bare = Bm25Index.build([c.text for c in searcher.index.chunks])

    def rank(self, query: Query, n: int) -> Ranking:
        return self.searcher.bm25(query, n, self.bare)


@register
class BareHybridRetriever(HybridRetriever):
    """Ablation: hybrid whose BM25 side is the bare-text BM25."""

    name = "hybrid-bare"
    use_entities = False

    def __init__(self, searcher: Searcher) -> None:
        super().__init__(searcher)
        self.bare = Bm25Index.build([c.text for c in searcher.index.chunks])

    def bm25(self, query: Query, n: int) -> Ranking:
        return self.searcher.bm25(query, n, self.bare)
