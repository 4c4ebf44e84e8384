"""The index's rankers and query understanding, shared by every retriever.

``Searcher.prepare`` recognises drug names (``qa.indexing.lexicon``), appends the canonical
name of any brand name or misspelling to the text that is searched, and turns filters into
a mask of allowed chunks. The rankers (``dense``, ``bm25``) rank chunks *within* that mask,
so a filtered query still returns up to k results when that many exist.
"""

from __future__ import annotations

from collections.abc import Sequence

import faiss
import numpy as np

from qa.errors import InvalidQueryError
from qa.indexing.bm25 import Bm25Index
from qa.indexing.chunking import Chunk
from qa.indexing.embedding import Embedder
from qa.indexing.lexicon import normalize
from qa.indexing.storage import Index
from qa.retrieval.fusion import collapse
from qa.retrieval.query import Filters, Hit, Query, Ranking
from qa.settings import RetrievalSettings
from qa.text import heading_key


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
