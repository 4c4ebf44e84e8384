"""Retrieval metrics for question answering, as pure functions.

Each question has one or more gold targets, any of which answers it ("any-of" gold: a
further gold section is an alternative, not a second requirement). So every metric is a
function of the rank of the first correct passage in the returned list:

- ``recall@k`` (a.k.a. success@k, top-k accuracy): 1 if a correct passage is in the top k.
- ``hit@1``: the same for k = 1.
- ``mrr@10``: 1 / rank of the first correct passage, 0 past rank 10.
- ``ndcg@10``: binary gain, one relevant target: 1 / log2(rank + 1), 0 past rank 10.

With exactly one relevant passage these equal trec_eval's ``success_k``, ``recip_rank``
and ``ndcg_cut_10``; tests check them against pytrec_eval.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

KS = (1, 3, 5, 10)
DEPTH = 10


def first_relevant_rank(relevant: Sequence[bool], depth: int = DEPTH) -> int | None:
    """1-based rank of the first ``True`` within the first ``depth`` entries, else None."""
    for rank, ok in enumerate(relevant[:depth], start=1):
        if ok:
            return rank
    return None


def rank_metrics(rank: int | None, ks: Iterable[int] = KS, depth: int = DEPTH) -> dict[str, float]:
    """Metrics of one question from the rank of its first correct passage."""
    found = rank is not None and rank <= depth
    out = {f"recall@{k}": float(found and rank <= k) for k in ks}
    out["hit@1"] = float(found and rank == 1)
    out["mrr@10"] = 1.0 / rank if found else 0.0
    out["ndcg@10"] = 1.0 / math.log2(rank + 1) if found else 0.0
    return out


def mean_metrics(rows: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Per-metric mean over questions (empty input gives an empty mapping)."""
    if not rows:
        return {}
    return {name: sum(row[name] for row in rows) / len(rows) for name in rows[0]}
