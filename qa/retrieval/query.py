"""What a retriever works on and returns: the prepared query, filters, hits."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from qa.indexing.chunking import Chunk
from qa.retrieval.recognition import Mention

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
    search_text: str  # what is embedded and searched: the text, plus any names the retriever adds
    mentions: list[Mention]
    allowed: np.ndarray | None  # chunk rows the filters allow (None: all)
    entity_rows: np.ndarray  # chunk rows of documents of recognised drugs (within the filters)
    vector: np.ndarray | None = field(default=None, repr=False)
    cosines: np.ndarray | None = field(default=None, repr=False)  # against every chunk, once computed
    reference: float | None = None  # the view-margin reference score, once computed


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
