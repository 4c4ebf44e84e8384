"""Retrievers by name: the protocol every retriever follows, the registry, and the base class
that shares query preparation, near-duplicate collapse and hit building.

A retriever is one small class: subclass ``RankingRetriever``, give it a ``name`` and a
``rank(query, n)``, decorate it with ``@register``; ``qa eval --retriever NAME`` then compares it
with the others (``qa.retrieval.catalog`` lists them all).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from qa.errors import ConfigError
from qa.retrieval.query import Filters, Hit, Query, Ranking
from qa.retrieval.searcher import Searcher


class Retriever(Protocol):
    name: str

    def prepare(self, question: str, filters: Filters | None = None) -> Query: ...

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
    rules: frozenset[str] | None = None  # drug-name recognition rules (None: all of them)
    add_names = "all"  # which recognised names join the searched text (``Searcher.prepare``)

    def __init__(self, searcher: Searcher) -> None:
        self.searcher = searcher

    def prepare(self, question: str, filters: Filters | None = None) -> Query:
        return self.searcher.prepare(question, filters, rules=self.rules, add_names=self.add_names)

    def rank(self, query: Query, n: int) -> Ranking:
        raise NotImplementedError

    def search(self, query: Query, k: int) -> list[Hit]:
        # Rank past k: collapsing near-duplicates can merge several candidates into one hit.
        return self.searcher.finish(query, self.rank(query, max(3 * k, k + 20)), k)
