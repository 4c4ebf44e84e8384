"""Multi-view retrieval: every passage is scored against the question under several views, and
a view other than the passage text counts only by the *margin* by which it matches the question
better than the passage texts do.

    score(c) = cos(q, chunk c) + max(0, cos(q, heading line of c) - ref)
                               + max(0, cos(q, best sentence of c) - ref)
    ref      = the k-th highest cos(q, chunk) over all chunks within the filters (k = 2: the
               runner-up; QA_VIEW_MARGIN_RANK)

The views (``qa.indexing.views``): the contextual chunk (title › heading path, then the text);
the heading line alone; each sentence with its heading. The margin needs no weight and decides
per question how much a view may say: a question that restates a heading ("What are the
symptoms of X?") matches that heading line better than the passage texts, and the heading view
ranks that section first; a plain-language question ("will my kids get it") seldom does, and the
heading view stays silent instead of adding noise; where headings are generic labels (abstracts:
"Methods", "Results") it never fires. The same holds for a single sentence that answers. The one
parameter, k, was chosen among 1, 2, 3 and 5 on the MedQuAD tuning sample (seed 1).

Candidates: the text view's top 100 chunks and every other section of their documents (the right
section of the right document often shares no words with the question but says in its heading
what was asked). Sentences are scored for the best 100 candidates by text and heading. Scanning
every heading line of the corpus instead (``multiview-heading-scan``) and scoring the sentences
of every candidate (``multiview-all-sentences``) ranked the same sections on the MedQuAD tuning
sample, the consumer set and the abstracts; the second cost 3.7 ms more per MedQuAD question.

BM25 decides between *documents*, the views between sections. The view ranking is fused with
the documents' BM25 ranks (reciprocal ranks, the hybrid weights: 3 for the passage's rank, 1 for
its document's), and only when one document clearly owns the question's words: its runner-up's
best BM25 score is at most 0.9 of its own (``QA_BM25_DOCUMENT_GATE``; ``fusion.document_ranks``).
Rare words (a drug, a gene, a place, a trial acronym) pick the right abstract or monograph; near-
duplicate pages that share every word of the question (MedQuAD's several sources on one
condition) leave the choice to the views. BM25 fused passage by passage instead
(``multiview+bm25``) let common words pick sections and lowered plain-language questions.

``multiview`` is the default retriever. ``multiview-no-bm25`` is the view ranking alone and
``multiview-ungated-bm25`` fuses BM25's document ranks on every question. ``views:chunk+heading``,
``views:chunk+sentence`` and ``views:chunk`` (= dense) compare view combinations, without BM25,
in ``qa eval``; ``multiview-no-<rule>``, ``multiview-basic-names`` and ``multiview-no-names`` take
away drug-name recognition rules; ``multiview+bm25`` and ``multiview+boost`` try what the default
leaves out.
"""

from __future__ import annotations

import numpy as np

from qa.retrieval.fusion import document_ranks, fuse_document_ranks, ordered, reciprocal_rank_fusion
from qa.retrieval.query import Query, Ranking
from qa.retrieval.recognition import BASIC_RULES, RULES
from qa.retrieval.registry import RETRIEVERS, RankingRetriever, register
from qa.retrieval.searcher import VIEWS


class MultiViewRetriever(RankingRetriever):
    name = "multiview"
    views: tuple[str, ...] = VIEWS
    heading_scan = False  # score every heading line (True) or only the candidates' documents' (False)
    document_bm25 = True  # fuse in BM25's ranking of documents, when one document owns the words
    document_gate: float | None = None  # None: the setting (bm25_document_gate)

    @property
    def sentence_limit(self) -> int:
        return self.searcher.settings.candidates

    def rank(self, query: Query, n: int) -> Ranking:
        views = self.view_rank(query, max(n, self.searcher.settings.candidates) if self.document_bm25 else n)
        if not self.document_bm25 or not views:
            return views
        s = self.searcher.settings
        gate = s.bm25_document_gate if self.document_gate is None else self.document_gate
        doc_of = self.searcher.doc_of_row
        docs = document_ranks(self._bm25_with_two_documents(query), doc_of, gate)
        fused = fuse_document_ranks(views, doc_of, docs, k=s.rrf_k, weight=s.dense_weight, doc_weight=s.bm25_weight)
        return fused[:n]

    def _bm25_with_two_documents(self, query: Query) -> Ranking:
        """BM25's top chunks, deep enough to hold the runner-up document's best chunk (the gate
        compares it with the top document's): when one document fills the whole list, all of it."""
        searcher = self.searcher
        ranking = searcher.bm25(query, searcher.settings.candidates)
        if len(ranking) == searcher.settings.candidates and len({int(searcher.doc_of_row[r]) for r, _ in ranking}) < 2:
            ranking = searcher.bm25(query, searcher.size)
        return ranking

    def view_rank(self, query: Query, n: int) -> Ranking:
        """Chunks by multi-view score (cosine plus the views' margins), best first."""
        searcher = self.searcher
        dense = searcher.dense(query, max(n, searcher.settings.candidates))
        if not dense:
            return []
        found = np.array([row for row, _ in dense], dtype=np.int64)
        if "heading" in self.views and self.heading_scan:
            # Every section whose heading line beats the reference, wherever it is.
            heading = searcher.index.heading.scores(searcher.vector(query)[0])
            if query.allowed is not None:
                heading = np.where(query.allowed, heading, -np.inf)
            above = np.flatnonzero(heading > searcher.reference(query))
            if len(above) > len(dense):
                above = above[np.argpartition(-heading[above], len(dense) - 1)[: len(dense)]]
            rows = np.union1d(found, above)
        elif "heading" in self.views:
            # The right section of a document the text view found often says in its heading what
            # the question asks: add the other sections of the candidates' documents.
            rows = np.union1d(found, searcher.siblings(found, query.allowed))
        else:
            rows = found
        total = searcher.view_scores(query, rows, [v for v in self.views if v != "sentence"])
        if "sentence" in self.views:
            # Sentences are scored for the best-placed candidates only (as many as the text view
            # found): the ones below cannot climb that far on one sentence's margin.
            top = np.arange(len(rows))
            if self.sentence_limit and len(rows) > self.sentence_limit:
                top = np.argpartition(-total, self.sentence_limit - 1)[: self.sentence_limit]
            total[top] += searcher.margin(query, rows[top], "sentence")
        order = np.argsort(-total, kind="stable")[:n]
        return [(int(rows[i]), float(total[i])) for i in order]


register(MultiViewRetriever)


class FusedMultiViewRetriever(MultiViewRetriever):
    """Ablations of what ``multiview`` leaves out: the view ranking fused passage by passage with
    BM25 as the hybrid retriever fuses dense (reciprocal ranks, weighted 3 to 1), and/or the
    drug-name document boost added to the default's ranking."""

    with_bm25 = False
    with_boost = False

    def rank(self, query: Query, n: int) -> Ranking:
        s = self.searcher.settings
        n = max(s.candidates, n)
        rankings = {"views": super().rank(query, n)}
        if self.with_bm25:
            rankings["bm25"] = self.searcher.bm25(query, n)
        fused = reciprocal_rank_fusion(rankings, k=s.rrf_k, weights={"views": s.dense_weight, "bm25": s.bm25_weight})
        if self.with_boost and len(query.entity_rows):
            entity = set(query.entity_rows.tolist())
            for row in fused:
                if row in entity:
                    fused[row] += s.entity_boost / (s.rrf_k + 1)
        return ordered(fused)[:n]


def _variant(name: str, **attributes: object) -> None:
    base = FusedMultiViewRetriever if "with_bm25" in attributes or "with_boost" in attributes else MultiViewRetriever
    RETRIEVERS[name] = type(f"MultiView[{name}]", (base,), {"name": name, **attributes})


_variant("multiview+bm25", with_bm25=True, document_bm25=False)
_variant("multiview+boost", with_boost=True)
_variant("multiview+bm25+boost", with_bm25=True, with_boost=True, document_bm25=False)
_variant("multiview-no-bm25", document_bm25=False)
_variant("multiview-ungated-bm25", document_gate=1.0)
# View combinations, without BM25 (the chunk view is always there: it finds the candidates).
_variant("views:chunk", views=(), document_bm25=False)
_variant("views:chunk+heading", views=("heading",), document_bm25=False)
_variant("views:chunk+sentence", views=("sentence",), document_bm25=False)
_variant("views:chunk+heading+sentence", views=VIEWS, document_bm25=False)
_variant("multiview-heading-scan", heading_scan=True)
_variant("multiview-all-sentences", sentence_limit=0)
# Drug-name recognition: all rules, each rule taken away, the first version's rules, none.
for _rule in sorted(RULES - {"name"}):
    _variant(f"multiview-no-{_rule}", rules=RULES - {_rule})
_variant("multiview-basic-names", rules=BASIC_RULES)
_variant("multiview-no-names", rules=frozenset())
