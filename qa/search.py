"""Retrievers: a question in, ranked chunks out.

A retriever is one small class with a ``name`` and a ``search(query, k)`` method; the
service, the API and evaluation runs only ever see that interface.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from qa.chunking import Chunk
from qa.embedding import Embedder
from qa.errors import ConfigError
from qa.index import Index


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float
    rank: int  # 1-based


class Retriever(Protocol):
    name: str

    def search(self, query: str, k: int) -> list[Hit]: ...


RetrieverFactory = Callable[[Index, Embedder], Retriever]
RETRIEVERS: dict[str, RetrieverFactory] = {}
_R = TypeVar("_R")


def register(cls: _R) -> _R:
    """Class decorator: make a retriever available by its ``name`` (``qa eval --retriever``)."""
    RETRIEVERS[cls.name] = cls  # type: ignore[attr-defined,assignment]
    return cls


def make_retrievers(names: list[str], index: Index, embedder: Embedder) -> dict[str, Retriever]:
    unknown = [name for name in names if name not in RETRIEVERS]
    if unknown:
        raise ConfigError(f"unknown retriever {unknown[0]!r}; choose from {', '.join(sorted(RETRIEVERS))}")
    return {name: RETRIEVERS[name](index, embedder) for name in names}


@register
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
