"""The retrievers, by name (``POST /query`` ``mode`` and ``qa eval --retriever``):

- ``dense``: cosine similarity of all-MiniLM-L6-v2 vectors (exact FAISS search);
- ``bm25``: BM25 over title › heading path + text;
- ``hybrid`` (the default): reciprocal-rank fusion of the two, plus a boost for chunks of
  the documents of recognised drugs (a boost, not a filter: a question may compare drugs).

A retriever is one small class: subclass ``RankingRetriever``, give it a ``name`` and a
``rank(query, n)``, decorate it with ``@register``; ``qa eval --retriever NAME`` then compares it
with the others.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from qa.errors import ConfigError
from qa.indexing.bm25 import Bm25Index
from qa.retrieval.fusion import ordered, reciprocal_rank_fusion, weighted_fusion
from qa.retrieval.query import Hit, Query, Ranking
from qa.retrieval.searcher import Searcher


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
