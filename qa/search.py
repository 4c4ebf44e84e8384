"""Retrievers: a question in, ranked chunks out.

A retriever is one small class with a ``name`` and a ``search(query, k)`` method; the
service, the API and evaluation runs only ever see that interface.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from qa.chunking import Chunk
from qa.embedding import Embedder
from qa.index import Index


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float
    rank: int  # 1-based


class Retriever(Protocol):
    name: str

    def search(self, query: str, k: int) -> list[Hit]: ...


class DenseRetriever:
    """Cosine similarity between the question's vector and each chunk's (exact FAISS search)."""

    name = "dense"

    def __init__(self, index: Index, embedder: Embedder) -> None:
        index.check_model(embedder.model_id)
        self._index = index
        self._embedder = embedder

    def search(self, query: str, k: int) -> list[Hit]:
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        total = self._index.faiss.ntotal
        if total == 0:
            return []
        vector = self._embedder.embed([query])
        scores, rows = self._index.faiss.search(vector, min(k, total))
        hits = []
        for row, score in zip(rows[0], scores[0], strict=True):
            if row < 0:
                continue
            hits.append(Hit(self._index.chunks[int(row)], float(score), len(hits) + 1))
        return hits
