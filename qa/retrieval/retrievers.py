"""Single-view and fused retrievers:

- ``dense``: cosine similarity of all-MiniLM-L6-v2 vectors of contextual chunks (exact FAISS search);
- ``bm25``: BM25 over title › heading path + text;
- ``hybrid``: reciprocal-rank fusion of the two, plus a boost for chunks of the documents of
  recognised drugs (a boost, not a filter: a question may compare drugs); ``hybrid-v1`` is the
  same with the drug-name recognition it first shipped with.
"""

from __future__ import annotations

from qa.indexing.bm25 import Bm25Index
from qa.retrieval.fusion import ordered, reciprocal_rank_fusion, weighted_fusion
from qa.retrieval.query import Query, Ranking
from qa.retrieval.recognition import BASIC_RULES
from qa.retrieval.registry import RankingRetriever, register
from qa.retrieval.searcher import Searcher


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


@register
class HybridV1Retriever(HybridRetriever):
    """The hybrid retriever as first shipped: names recognised as written or slightly misspelled
    (no folding of abbreviations, salts, forms, split words or sound-alikes)."""

    name = "hybrid-v1"
    rules = BASIC_RULES
