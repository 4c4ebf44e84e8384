from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qa.retrieval.fusion import (
    collapse,
    document_ranks,
    fuse_document_ranks,
    near_duplicates,
    ordered,
    reciprocal_rank_fusion,
    weighted_fusion,
    word_set,
)


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


DOC_OF = [0, 0, 1, 1, 2, 2]  # items 0-5: two sections each of documents 0, 1 and 2


def test_documents_are_ranked_by_their_best_item() -> None:
    ranking = [(3, 9.0), (1, 4.0), (2, 3.0), (0, 1.0)]
    assert document_ranks(ranking, DOC_OF, owner_ratio=0.9) == {1: 1, 0: 2}


def test_no_document_ranks_unless_the_top_document_owns_the_words() -> None:
    near_tie = [(3, 9.0), (1, 8.5)]  # 8.5 > 0.9 * 9: two pages share the question's words
    assert document_ranks(near_tie, DOC_OF, owner_ratio=0.9) == {}
    assert document_ranks(near_tie, DOC_OF, owner_ratio=1.0) == {1: 1, 0: 2}
    assert document_ranks([(4, 2.0), (5, 1.0)], DOC_OF, owner_ratio=0.0) == {2: 1}  # a sole document owns them
    assert document_ranks([], DOC_OF, owner_ratio=0.9) == {}


def test_document_fusion_by_hand() -> None:
    views = [(0, 0.9), (2, 0.8), (3, 0.7)]
    fused = fuse_document_ranks(views, DOC_OF, {1: 1}, k=60, weight=3, doc_weight=1)
    assert [item for item, _ in fused] == [2, 3, 0]  # document 1 owns the words: its sections lead
    assert dict(fused)[2] == pytest.approx(3 / 62 + 1 / 61)
    assert dict(fused)[0] == pytest.approx(3 / 61)


@given(
    st.permutations(list(range(6))),
    st.dictionaries(st.integers(0, 2), st.integers(1, 50), max_size=3),
)
def test_document_fusion_never_reorders_sections_of_one_document(order: list[int], doc_ranks: dict[int, int]) -> None:
    views = [(item, 1.0 - i / 10) for i, item in enumerate(order)]
    fused = [item for item, _ in fuse_document_ranks(views, DOC_OF, doc_ranks)]
    assert sorted(fused) == sorted(order)
    for doc in range(3):
        assert [i for i in fused if DOC_OF[i] == doc] == [i for i in order if DOC_OF[i] == doc]
    if not doc_ranks:
        assert fused == order


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
