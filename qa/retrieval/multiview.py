"""Multi-view retrieval: every passage is scored against the question under more than one view,
and a view other than the passage text counts only by the *margin* by which it matches the question
better than the passage texts do.

    score(c) = cos(q, chunk c) + max(0, cos(q, heading line of c) - ref)
    ref      = the k-th highest cos(q, chunk) over all chunks within the filters (k = 2: the
               runner-up; QA_VIEW_MARGIN_RANK)

``multiview``, the default, has two views: the contextual chunk (title › heading path, then the
text) and the heading line alone (``qa.indexing.views``). The margin needs no weight and decides per
question how much the heading may say: a question that restates a heading ("What are the side
effects of X?") matches that heading line better than the passage texts, and the heading view ranks
that section first; a plain-language question seldom does, and the heading view stays silent
instead of adding noise; where headings are generic labels (abstracts: "Methods") it never fires.
The question is searched as written (``Searcher.prepare``): recognised drug names feed the
response's entities and the match signal, not the searched text.

Candidates: the text view's top 100 chunks and every other section of their documents (the right
section of the right document often shares no words with the question but says in its heading what
was asked).

Each other part of the previous default had to earn its place on real consumer questions
(``medicationqa-dev``, README "Results") and did not: the per-sentence view, BM25's ranking of
documents, canonical names added to the searched text. They remain as ablations, measured in
``qa eval``: ``multiview-v1`` is the previous default whole (all three); ``multiview+sentence``
adds the sentence view (``max(0, cos(q, best sentence of c) - ref)``, needs an index built with
``QA_SENTENCE_VIEW=true``); ``multiview+bm25docs`` fuses BM25's document ranks (reciprocal ranks,
3:1, only when one document owns the question's words: runner-up's best BM25 score at most 0.9 of
the top's, ``QA_BM25_DOCUMENT_GATE``); ``multiview+all-names`` adds every recognised name written
otherwise to the searched text, ``multiview+misspelt-names`` only those of misspelt drugs;
``multiview+bm25`` fuses BM25 passage by passage; ``multiview+boost`` lifts the passages of named
drugs. ``views:chunk`` is the text view alone (dense with the default's names);
``multiview-no-<rule>``, ``multiview-basic-names`` and ``multiview-no-names`` take away drug-name
recognition rules, which now feed only the match signal and the response's entities.
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
    views: tuple[str, ...] = ("heading",)
    add_names = "none"
    heading_scan = False  # score every heading line (True) or only the candidates' documents' (False)
    document_bm25 = False  # fuse in BM25's ranking of documents, when one document owns the words
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


# The previous default (until December 2026), whole: sentence view, BM25 document ranks, every name.
_variant("multiview-v1", views=VIEWS, document_bm25=True, add_names="all")
# What the default leaves out, one part at a time.
_variant("multiview+sentence", views=VIEWS)
_variant("multiview+bm25docs", document_bm25=True)
_variant("multiview+all-names", add_names="all")
_variant("multiview+misspelt-names", add_names="misspelt")
_variant("multiview+bm25", with_bm25=True)
_variant("multiview+boost", with_boost=True)
_variant("multiview-ungated-bm25docs", document_bm25=True, document_gate=1.0)
# View combinations (the chunk view is always there: it finds the candidates).
_variant("views:chunk", views=())
_variant("multiview-heading-scan", heading_scan=True)
_variant("multiview-all-sentences", views=VIEWS, sentence_limit=0)
# Drug-name recognition: each rule taken away, the first version's rules, none.
for _rule in sorted(RULES - {"name"}):
    _variant(f"multiview-no-{_rule}", rules=RULES - {_rule})
_variant("multiview-basic-names", rules=BASIC_RULES)
_variant("multiview-no-names", rules=frozenset())
