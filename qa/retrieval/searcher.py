"""The index's rankers and query understanding, shared by every retriever.

``Searcher.prepare`` recognises drug names (``qa.indexing.lexicon``), adds canonical names to the
text that is searched when a retriever asks for it (the default searches the question as written),
and turns filters into a mask of allowed chunks. The rankers (``dense``, ``bm25``) rank chunks *within* that mask,
so a filtered query still returns up to k results when that many exist.
"""

from __future__ import annotations

from collections.abc import Sequence

import faiss
import numpy as np

from qa.errors import ConfigError, UnknownFilterError
from qa.indexing.bm25 import Bm25Index
from qa.indexing.chunking import Chunk
from qa.indexing.embedding import Embedder
from qa.indexing.lexicon import normalize
from qa.indexing.storage import Index
from qa.retrieval.fusion import collapse, collapse_sets, word_set
from qa.retrieval.query import Filters, Hit, Query, Ranking
from qa.retrieval.recognition import Recogniser
from qa.retrieval.scan import ExactScan
from qa.retrieval.signal import Evidence, unknown_drugs
from qa.settings import RetrievalSettings
from qa.text import heading_key


def top_n(scores: np.ndarray, n: int) -> list[tuple[int, float]]:
    """Positions and values of the ``n`` largest finite scores, best first (ties: lower position)."""
    n = min(n, len(scores))
    if n <= 0:
        return []
    top = np.argpartition(-scores, n - 1)[:n] if n < len(scores) else np.arange(len(scores))
    top = top[np.lexsort((top, -scores[top]))]
    return [(int(i), float(scores[i])) for i in top if np.isfinite(scores[i])]


VIEWS = ("heading", "sentence")
ADD_NAMES = ("misspelt", "all", "none")  # which recognised names ``prepare`` adds to the searched text
CONFIDENCE_DEPTH = 3  # the match signal looks at the top 3 results
SIGNAL_VIEWS = ("heading",)  # the views of the default retriever, which the match signal's score is


class Searcher:
    """The index's rankers and query understanding, shared by every retriever."""

    def __init__(self, index: Index, embedder: Embedder, settings: RetrievalSettings | None = None) -> None:
        index.check_model(embedder.model_id)
        self.index = index
        self.embedder = embedder
        self.settings = settings or RetrievalSettings()
        self.recogniser = Recogniser(index.lexicon)
        # The chunk vectors as an array (a view of the FAISS index's own memory, not a copy).
        self.matrix = faiss.rev_swig_ptr(index.faiss.get_xb(), index.faiss.ntotal * index.faiss.d).reshape(
            index.faiss.ntotal, index.faiss.d
        )
        self._scan = ExactScan(self.matrix)
        self._recognisers = {self.recogniser.rules: self.recogniser}
        self.row_of = {chunk.id: row for row, chunk in enumerate(index.chunks)}
        self._word_cache: dict[int, frozenset[str]] = {}
        self._doc_rows: dict[str, list[int]] = {}
        self._heading_rows: dict[str, list[int]] = {}
        for row, chunk in enumerate(index.chunks):
            self._doc_rows.setdefault(chunk.doc_id, []).append(row)
            for heading in chunk.heading_path[1:]:
                self._heading_rows.setdefault(heading_key(heading), []).append(row)
        doc_number = {doc_id: i for i, doc_id in enumerate(self._doc_rows)}
        self.doc_of_row = np.array([doc_number[c.doc_id] for c in index.chunks], dtype=np.int64)
        self._rows_of_doc = [np.array(rows, dtype=np.int64) for rows in self._doc_rows.values()]

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
                raise UnknownFilterError(f"filters.doc_ids: no document {unknown[0]!r}; GET /documents lists the ids")
            by_doc = np.zeros(self.size, dtype=bool)
            for doc_id in filters.doc_ids:
                by_doc[self._doc_rows.get(doc_id, [])] = True
            mask &= by_doc
        if filters.sections:
            by_section = np.zeros(self.size, dtype=bool)
            for section in filters.sections:
                by_section[self._heading_rows.get(heading_key(section), [])] = True
            if not by_section.any():
                raise UnknownFilterError(
                    f"filters.sections: no section is headed {', '.join(map(repr, filters.sections))}; "
                    "GET /documents/{doc_id} shows a document's outline"
                )
            mask &= by_section
        return mask

    def recogniser_for(self, rules: frozenset[str] | None) -> Recogniser:
        if rules is None:
            return self.recogniser
        if rules not in self._recognisers:
            self._recognisers[rules] = Recogniser(self.index.lexicon, rules)
        return self._recognisers[rules]

    def prepare(
        self,
        question: str,
        filters: Filters | None = None,
        *,
        rules: frozenset[str] | None = None,
        add_names: str = "none",
    ) -> Query:
        """Recognise drug names (with the given recognition rules; default all), add canonical names
        to the searched text, and turn filters into a mask. ``add_names``: ``none`` (the default
        retriever's) searches the question as written; ``misspelt`` adds the name of a drug the
        question misspells (the rules edit, sound, joined, split and rare: not as the corpus writes it); ``all``
        also the generic of a brand name and the names an abbreviation folds to (``hybrid``,
        ``dense``, ``bm25``). On real questions a brand name's generic pulled the search towards the
        generic's own page, and misspelt names changed nothing (README, Results)."""
        if add_names not in ADD_NAMES:
            raise ValueError(f"add_names must be one of {', '.join(ADD_NAMES)}, got {add_names!r}")
        mentions = self.recogniser_for(rules).recognise(question)
        present = normalize(question)
        if add_names == "all":
            added = mentions
        else:
            added = [m for m in mentions if not m.exact] if add_names == "misspelt" else []
        extra = [m.name for m in added if normalize(m.name) not in present]
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
    def cosines(self, query: Query) -> np.ndarray:
        """Cosine between the question and every chunk (-inf where the filters exclude it); an
        exact scan, one matrix-vector product, computed once per query."""
        if query.cosines is None:
            scores = self._scan(self.vector(query)[0])
            if query.allowed is not None:
                scores = np.where(query.allowed, scores, -np.inf)
            query.cosines = scores
        return query.cosines

    def dense(self, query: Query, n: int, rows: np.ndarray | None = None) -> Ranking:
        """Top ``n`` chunks by cosine, among ``rows`` (default: those the filters allow)."""
        scores = self.cosines(query)
        if rows is None:
            rows = np.flatnonzero(query.allowed) if query.allowed is not None else None
        if rows is not None:
            if not len(rows):
                return []
            return [(int(rows[i]), float(s)) for i, s in top_n(scores[rows], n)]
        return [(int(i), float(s)) for i, s in top_n(scores, n)]

    def siblings(self, rows: np.ndarray, allowed: np.ndarray | None = None) -> np.ndarray:
        """Every chunk of the documents of ``rows`` (within ``allowed``), in row order."""
        if not len(rows):
            return np.zeros(0, dtype=np.int64)
        docs = np.unique(self.doc_of_row[rows])
        out = np.concatenate([self._rows_of_doc[d] for d in docs])
        return out[allowed[out]] if allowed is not None else out

    def reference(self, query: Query) -> float:
        """The text score other views must beat to count: the k-th best cosine of any allowed
        chunk (k = ``view_margin_rank``)."""
        if query.reference is None:
            ranking = self.dense(query, self.settings.view_margin_rank)
            query.reference = ranking[-1][1] if ranking else 0.0
        return query.reference

    def view_scores(self, query: Query, rows: np.ndarray, views: Sequence[str] = VIEWS) -> np.ndarray:
        """Multi-view scores of chunk ``rows``: cosine, plus the margins by which each of ``views``
        (heading line, best sentence) beats the reference text score (``reference``;
        ``qa.retrieval.multiview``). The default retriever and the signal use ``SIGNAL_VIEWS``."""
        total = self.cosines(query)[rows].astype(np.float32)
        for view in views:
            total += self.margin(query, rows, view)
        return total

    def margin(self, query: Query, rows: np.ndarray, view: str) -> np.ndarray:
        """By how much chunk ``rows`` match the question under ``view`` better than the reference."""
        question = self.vector(query)[0]
        if view == "heading":
            scores = self.index.heading.vectors[self.index.heading.of_chunk[rows]] @ question
        elif view == "sentence":
            if not self.index.sentence.built:
                raise ConfigError(
                    f"the index at {self.index.path} was built without the sentence view, which this retriever "
                    "reads; rebuild it with QA_SENTENCE_VIEW=true"
                )
            scores = self.index.sentence.best(question, rows)
        else:
            raise ValueError(f"unknown view {view!r}; choose from {', '.join(VIEWS)}")
        return np.maximum(0.0, scores - self.reference(query))

    def as_written(self, query: Query) -> Query:
        """``query`` itself when it searches the question as written (the default retriever), else the
        same question and filters searched as written: the signal's thresholds were set on that, so
        its score must not depend on the mode's added names."""
        if query.search_text == query.text:
            return query
        return Query(query.text, query.text, query.mentions, query.allowed, query.entity_rows)

    def evidence(self, query: Query, hits: Sequence[Hit]) -> Evidence:
        """What the match signal rests on: the best score of the default retriever (cosine plus the
        heading line's margin) among the top 3 results, whatever the mode (an FAQ answer counts with
        its question's cosine), and drugs named that the corpus lacks."""
        top = hits[:CONFIDENCE_DEPTH]
        scores = [h.similarity for h in top if h.kind == "faq" and h.similarity is not None]
        rows = np.array([self.row_of[h.chunk.id] for h in top if h.kind != "faq"], dtype=np.int64)
        if len(rows):
            scores += self.view_scores(self.as_written(query), rows, SIGNAL_VIEWS).tolist()
        named = [(m.start, m.end) for m in query.mentions]
        unknown = unknown_drugs(query.text, self.known_word, named)
        unknown += [n for n in self.recogniser.absent_drugs(query.text, query.mentions) if n not in unknown]
        entities = self.index.lexicon.entities
        known_drug = any(entities[normalize(m.name)].drug is not False for m in query.mentions)
        return Evidence(max(scores) if scores else None, tuple(unknown), known_drug)

    def bm25(self, query: Query, n: int, index: Bm25Index | None = None) -> Ranking:
        scores = (index or self.index.bm25).scores(query.search_text, query.allowed)
        candidates = np.flatnonzero(scores > 0)
        if len(candidates) > n:
            candidates = candidates[np.argpartition(-scores[candidates], n - 1)[:n]]
        return sorted(((int(r), float(scores[r])) for r in candidates), key=lambda rs: (-rs[1], rs[0]))

    def _words(self, row: int) -> frozenset[str]:
        """A chunk's word set for near-duplicate collapse, cached for the chunks that keep coming up."""
        words = self._word_cache.get(row)
        if words is None:
            if len(self._word_cache) >= 20_000:
                self._word_cache.clear()
            words = self._word_cache[row] = word_set(self.index.chunks[row].text)
        return words

    def similarity(self, query: Query, row: int) -> float:
        return float(self.matrix[row] @ self.vector(query)[0])

    # ------------------------------------------------------------------ results
    def finish(self, query: Query, ranking: Sequence[tuple[int, float]], k: int) -> list[Hit]:
        """Collapse near-duplicates (same text in several places) and make the top ``k`` hits."""
        chunks = self.index.chunks
        window = list(ranking[: max(3 * k, k + 20)])
        groups = collapse_sets([self._words(row) for row, _ in window], k, self.settings.duplicate_threshold)
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
