"""Metric functions, checked against trec_eval (pytrec_eval) on random rankings."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import pytrec_eval

from qa.evaluation.metrics import first_relevant_rank, mean_metrics, rank_metrics
from qa.stats import percentile


def test_rank_metrics_by_hand() -> None:
    assert rank_metrics(1) == {
        "recall@1": 1.0, "recall@3": 1.0, "recall@5": 1.0, "recall@10": 1.0,
        "hit@1": 1.0, "mrr@10": 1.0, "ndcg@10": 1.0,
    }  # fmt: skip
    third = rank_metrics(3)
    assert (third["recall@1"], third["recall@3"], third["hit@1"]) == (0.0, 1.0, 0.0)
    assert third["mrr@10"] == pytest.approx(1 / 3)
    assert third["ndcg@10"] == pytest.approx(1 / math.log2(4))
    assert set(rank_metrics(None).values()) == {0.0}
    assert set(rank_metrics(11).values()) == {0.0}


def test_first_relevant_rank_respects_depth() -> None:
    assert first_relevant_rank([False, False, True]) == 3
    assert first_relevant_rank([False] * 10 + [True]) is None
    assert first_relevant_rank([]) is None


def _random_case(rng: random.Random, n_relevant: int) -> tuple[list[bool], dict, dict]:
    docs = [f"d{i}" for i in range(30)]
    ranking = rng.sample(docs, 12)
    relevant = set(rng.sample(docs, n_relevant))
    run = {doc: float(100 - i) for i, doc in enumerate(ranking)}
    qrels = {doc: 1 for doc in relevant}
    return [doc in relevant for doc in ranking], run, qrels


@pytest.mark.parametrize("n_relevant", [1, 3])
def test_metrics_agree_with_trec_eval(n_relevant: int) -> None:
    rng = random.Random(n_relevant)
    cases = [_random_case(rng, n_relevant) for _ in range(300)]
    qrels = {f"q{i}": case[2] for i, case in enumerate(cases)}
    runs = {f"q{i}": case[1] for i, case in enumerate(cases)}
    measures = {"success.1,3,5,10", "recip_rank", "ndcg_cut.10"}
    theirs = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(runs)
    for i, (relevant, _, _) in enumerate(cases):
        ours = rank_metrics(first_relevant_rank(relevant))
        ref = theirs[f"q{i}"]
        for k in (1, 3, 5, 10):
            assert ours[f"recall@{k}"] == pytest.approx(ref[f"success_{k}"])
        # trec_eval's recip_rank looks past rank 10; ours is MRR@10.
        rr = ref["recip_rank"] if ref["recip_rank"] >= 0.1 else 0.0
        assert ours["mrr@10"] == pytest.approx(rr)
        if n_relevant == 1:  # with one relevant passage "any-of" nDCG is standard nDCG
            assert ours["ndcg@10"] == pytest.approx(ref["ndcg_cut_10"])


def test_mean_and_percentile() -> None:
    rows = [rank_metrics(1), rank_metrics(None)]
    assert mean_metrics(rows)["recall@5"] == 0.5
    assert mean_metrics([]) == {}
    values = [random.Random(3).random() for _ in range(101)]
    for q in (0, 50, 95, 100):
        assert percentile(values, q) == pytest.approx(np.percentile(values, q))
    assert math.isnan(percentile([], 50))
