"""Combining rankings, and collapsing near-duplicate passages. Pure functions.

Reciprocal-rank fusion (Cormack et al., 2009): a passage scores ``sum(w / (k + rank))`` over
the rankings it appears in. The weighted option min-max normalises each ranking's scores
over its candidates and adds them with weights. ``fuse_document_ranks`` fuses a passage ranking
with a ranking of documents (each passage gets its document's rank), which ``document_ranks``
takes from a lexical ranking only when one document clearly owns the question's words.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

Ranking = Sequence[tuple[int, float]]  # (item, score), best first


class DocumentOf(Protocol):
    """Item -> document number: a list or a NumPy array of integers."""

    def __getitem__(self, item: int, /) -> Any: ...


_WORDS = re.compile(r"[a-z0-9]+")


def reciprocal_rank_fusion(
    rankings: Mapping[str, Ranking], *, k: float = 60.0, weights: Mapping[str, float] | None = None
) -> dict[int, float]:
    fused: dict[int, float] = {}
    for name, ranking in rankings.items():
        weight = 1.0 if weights is None else weights.get(name, 1.0)
        for rank, (item, _) in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + weight / (k + rank)
    return fused


def weighted_fusion(rankings: Mapping[str, Ranking], weights: Mapping[str, float]) -> dict[int, float]:
    fused: dict[int, float] = {}
    for name, ranking in rankings.items():
        if not ranking:
            continue
        scores = [score for _, score in ranking]
        low, high = min(scores), max(scores)
        span = high - low
        for item, score in ranking:
            normalised = (score - low) / span if span > 0 else 1.0
            fused[item] = fused.get(item, 0.0) + weights.get(name, 1.0) * normalised
    return fused


def document_ranks(ranking: Ranking, doc_of: DocumentOf, owner_ratio: float) -> dict[int, int]:
    """Rank (1 = best) of each document by its best-placed item in ``ranking``, but only when the
    top document clearly owns the ranking: its runner-up document's best score is at most
    ``owner_ratio`` times the top document's. Otherwise (near-duplicate pages that share every word
    of the question) no document is ranked: ``{}``. ``doc_of[item]`` is an item's document. The
    ranking must hold the runner-up document's best item when there is one (a top-n list that one
    document fills entirely does not)."""
    ranks: dict[int, int] = {}
    best: list[float] = []
    for item, score in ranking:
        doc = int(doc_of[item])
        if doc not in ranks:
            ranks[doc] = len(ranks) + 1
            best.append(score)
    if not best or best[0] <= 0:
        return {}
    if len(best) > 1 and best[1] > owner_ratio * best[0]:
        return {}
    return ranks


def fuse_document_ranks(
    ranking: Ranking,
    doc_of: DocumentOf,
    doc_ranks: Mapping[int, int],
    *,
    k: float = 60.0,
    weight: float = 3.0,
    doc_weight: float = 1.0,
) -> list[tuple[int, float]]:
    """Reciprocal-rank fusion of an item ranking with a ranking of their *documents*: an item
    scores ``weight / (k + its rank) + doc_weight / (k + its document's rank)``. Best first."""
    fused: dict[int, float] = {}
    for rank, (item, _) in enumerate(ranking, start=1):
        score = weight / (k + rank)
        doc_rank = doc_ranks.get(int(doc_of[item]))
        if doc_rank is not None:
            score += doc_weight / (k + doc_rank)
        fused[item] = score
    return ordered(fused)


def ordered(fused: Mapping[int, float]) -> list[tuple[int, float]]:
    """Items by fused score, best first; ties broken by item number for stable output."""
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))


def word_set(text: str) -> frozenset[str]:
    return frozenset(_WORDS.findall(text.replace("**", "").casefold()))


def near_duplicates(a: frozenset[str], b: frozenset[str], threshold: float = 0.9, min_words: int = 5) -> bool:
    """Same text up to markup, case and a few words: Jaccard similarity of the word sets."""
    if len(a) < min_words or len(b) < min_words:
        return a == b and bool(a)
    if min(len(a), len(b)) < threshold * max(len(a), len(b)):
        return False  # Jaccard <= |smaller| / |larger|: no need to intersect
    return len(a & b) / len(a | b) >= threshold


def collapse(texts: Sequence[str], limit: int, threshold: float = 0.9) -> list[list[int]]:
    """Group ranked texts so that near-duplicates appear once: each group starts with its
    best-ranked member. Stops after ``limit`` groups."""
    return collapse_sets([word_set(text) for text in texts], limit, threshold)


def collapse_sets(words_of: Sequence[frozenset[str]], limit: int, threshold: float = 0.9) -> list[list[int]]:
    """``collapse`` over the texts' word sets (``word_set``), which callers may cache."""
    groups: list[list[int]] = []
    sets: list[frozenset[str]] = []
    for i, words in enumerate(words_of):
        for group, first in zip(groups, sets, strict=True):
            if near_duplicates(words, first, threshold):
                group.append(i)
                break
        else:
            if len(groups) == limit:
                continue
            groups.append([i])
            sets.append(words)
    return groups
