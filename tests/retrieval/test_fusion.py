from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qa.retrieval.fusion import collapse, near_duplicates, ordered, reciprocal_rank_fusion, weighted_fusion, word_set


def test_rrf_by_hand() -> None:
    fused = reciprocal_rank_fusion({"a": [(1, 0.9), (2, 0.8)], "b": [(2, 10.0), (3, 5.0)]}, k=60)
    assert fused[1] == pytest.approx(1 / 61)
    assert fused[2] == pytest.approx(1 / 62 + 1 / 61)
    assert fused[3] == pytest.approx(1 / 62)
    assert [item for item, _ in ordered(fused)] == [2, 1, 3]


def test_rrf_weights() -> None:
    fused = reciprocal_rank_fusion({"a": [(1, 0.9)], "b": [(2, 1.0)]}, k=10, weights={"a": 3.0, "b": 1.0})
    assert fused[1] == pytest.approx(3 / 11) and fused[2] == pytest.approx(1 / 11)


def test_weighted_fusion_normalises_each_ranking() -> None:
    fused = weighted_fusion({"a": [(1, 0.9), (2, 0.5)], "b": [(2, 30.0), (3, 10.0)]}, {"a": 1.0, "b": 1.0})
    assert fused == {1: 1.0, 2: 1.0, 3: 0.0}


@given(st.lists(st.floats(0, 100, allow_nan=False), min_size=1, max_size=30, unique=True))
def test_rrf_of_one_ranking_keeps_its_order(scores: list[float]) -> None:
    ranking = sorted(enumerate(scores), key=lambda kv: -kv[1])
    assert [i for i, _ in ordered(reciprocal_rank_fusion({"only": ranking}))] == [i for i, _ in ranking]


def test_near_duplicates() -> None:
    a = word_set("**A:** For multiple myeloma, the dose is 4 mg daily on days 1-21.")
    b = word_set("For multiple myeloma, the dose is 4 mg daily on days 1-21.")
    c = word_set("For Kaposi sarcoma, the dose is 5 mg daily on days 1-21.")
    assert near_duplicates(a, b)
    assert not near_duplicates(a, c)
    assert near_duplicates(word_set("Yes."), word_set("yes"))  # short texts: equal words only
    assert not near_duplicates(word_set("Yes."), word_set("No."))


def test_collapse_groups_duplicates_under_the_best_ranked() -> None:
    texts = [
        "This condition is inherited in an autosomal recessive pattern, both copies altered.",
        "Treatment depends on symptoms and may include physical therapy and surgery.",
        "This condition is inherited in an autosomal recessive pattern, both copies altered.",
        "Another different passage about diagnosis with blood tests and imaging studies.",
    ]
    assert collapse(texts, 10) == [[0, 2], [1], [3]]
    assert collapse(texts, 2) == [[0, 2], [1]]
