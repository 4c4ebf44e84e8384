"""Multi-view retrieval: a view other than the passage text counts by its margin over the best
text match; heading-only candidates; filters; the ablation names (fake embedder)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from qa.indexing.storage import load_index
from qa.retrieval.catalog import RETRIEVERS, make_retrievers
from qa.retrieval.fusion import fuse_document_ranks
from qa.retrieval.query import Filters
from qa.retrieval.recognition import RULES
from qa.retrieval.searcher import Searcher
from qa.settings import Settings
from tests.fakes import FakeEmbedder


@pytest.fixture(scope="module")
def searcher(fake_index_dir: Path) -> Searcher:
    return Searcher(load_index(fake_index_dir), FakeEmbedder())


def test_view_scores_are_cosine_plus_the_margins_over_the_runner_up(searcher: Searcher) -> None:
    query = searcher.prepare("Dosage Adjustments for renal impairment")
    question = searcher.vector(query)[0]
    rows = np.arange(searcher.size)
    cosine = searcher.matrix @ question
    best = np.sort(cosine)[-searcher.settings.view_margin_rank]
    assert searcher.reference(query) == pytest.approx(best)
    heading = searcher.index.heading.scores(question)
    sentence = searcher.index.sentence.best(question, rows)
    expected = cosine + np.maximum(0, heading - best) + np.maximum(0, sentence - best)
    assert np.allclose(searcher.view_scores(query, rows), expected, atol=1e-5)
    assert np.allclose(searcher.view_scores(query, rows, ()), cosine, atol=1e-6)
    # A margin is never negative: no view can pull a passage below its own text match.
    assert np.all(searcher.view_scores(query, rows) >= cosine - 1e-6)


def test_a_question_that_restates_a_heading_gets_the_whole_margin(searcher: Searcher) -> None:
    row = next(r for r, c in enumerate(searcher.index.chunks) if c.heading_path[-1] == "Dosage Adjustments")
    query = searcher.prepare(searcher.index.chunks[row].context)  # the heading line itself
    cosines = searcher.cosines(query)
    heading_margin = searcher.view_scores(query, np.array([row]), ("heading",))[0] - cosines[row]
    assert heading_margin == pytest.approx(1.0 - searcher.reference(query), abs=1e-5)  # an exact heading match
    assert heading_margin > 0.2


def test_sibling_sections_of_the_candidates_documents_join_the_candidates(searcher: Searcher, monkeypatch) -> None:
    """The section whose heading names what was asked is scored even when the text view found
    only another section of its document (here the text view is made to find nothing else)."""
    (retriever,) = make_retrievers(["multiview"], searcher).values()
    chunks = searcher.index.chunks
    target = next(r for r, c in enumerate(chunks) if c.heading_path[-1] == "Dosage Adjustments")
    query = retriever.prepare(chunks[target].context)
    sibling = next(
        r for r, c in enumerate(chunks) if c.doc_id == chunks[target].doc_id and c.context != chunks[target].context
    )
    monkeypatch.setattr(searcher, "dense", lambda q, n, rows=None: [(sibling, float(searcher.cosines(q)[sibling]))])
    ranked = [row for row, _ in retriever.rank(query, 10)]
    assert target in ranked
    assert {chunks[r].doc_id for r in ranked} == {chunks[target].doc_id}  # siblings only, no other document


def test_a_full_heading_scan_finds_sections_of_documents_the_text_view_missed(searcher: Searcher, monkeypatch) -> None:
    (retriever,) = make_retrievers(["multiview-heading-scan"], searcher).values()
    chunks = searcher.index.chunks
    target = next(r for r, c in enumerate(chunks) if c.heading_path[-1] == "Dosage Adjustments")
    query = retriever.prepare(chunks[target].context)
    other = next(r for r, c in enumerate(chunks) if c.doc_id != chunks[target].doc_id)
    monkeypatch.setattr(searcher, "dense", lambda q, n, rows=None: [(other, float(searcher.cosines(q)[other]))])
    assert target in [row for row, _ in retriever.rank(query, 10)]


def test_sentences_are_scored_for_the_best_placed_candidates_only(searcher: Searcher, monkeypatch) -> None:
    retrievers = make_retrievers(["multiview+sentence", "multiview-all-sentences"], searcher)
    limited, everything = retrievers["multiview+sentence"], retrievers["multiview-all-sentences"]
    scored: list[int] = []
    original = searcher.margin

    def counting(query, rows, view):
        if view == "sentence":
            scored.append(len(rows))
        return original(query, rows, view)

    monkeypatch.setattr(searcher, "margin", counting)
    monkeypatch.setattr(type(limited), "sentence_limit", 3)
    query = limited.prepare("take with food missed dose")
    top = limited.rank(query, 3)
    assert scored[-1] == 3
    everything.rank(everything.prepare("take with food missed dose"), 3)
    assert scored[-1] > 3
    assert len(top) == 3


def test_filters_hold_for_every_view(searcher: Searcher) -> None:
    (retriever,) = make_retrievers(["multiview"], searcher).values()
    query = retriever.prepare("Dosage Adjustments", Filters(doc_ids=("pomalidomide-infection-article",)))
    hits = retriever.search(query, 5)
    assert hits and {h.chunk.doc_id for h in hits} == {"pomalidomide-infection-article"}


def test_ablations_are_registered() -> None:
    names = set(RETRIEVERS)
    assert {"views:chunk", "multiview-v1"} <= names
    assert {f"multiview-no-{rule}" for rule in RULES - {"name"}} <= names
    assert {"multiview-basic-names", "multiview-no-names", "multiview+bm25", "multiview+boost"} <= names
    assert {"multiview+sentence", "multiview+bm25docs", "multiview-ungated-bm25docs", "multiview+all-names"} <= names


def _bm25_finds(searcher: Searcher, monkeypatch, scored: list[tuple[str, float]]) -> None:
    """Make BM25 find the first chunk of each named document with the given score."""
    first = {}
    for row, chunk in enumerate(searcher.index.chunks):
        first.setdefault(chunk.doc_id, row)
    monkeypatch.setattr(searcher, "bm25", lambda q, n, index=None: [(first[d], s) for d, s in scored])


def test_bm25_picks_the_document_that_owns_the_words_and_the_views_pick_its_section(
    searcher: Searcher, monkeypatch
) -> None:
    retrievers = make_retrievers(["multiview+bm25docs", "multiview"], searcher)
    question = "Dosage Adjustments for renal impairment"
    views = [row for row, _ in retrievers["multiview"].rank(retrievers["multiview"].prepare(question), 100)]
    chunks = searcher.index.chunks
    other = next(d for d in dict.fromkeys(chunks[r].doc_id for r in views) if d != chunks[views[0]].doc_id)
    _bm25_finds(searcher, monkeypatch, [(other, 12.0)])  # only it holds the words
    fused = [row for row, _ in retrievers["multiview+bm25docs"].rank(retrievers["multiview"].prepare(question), 100)]
    assert chunks[fused[0]].doc_id == other  # BM25's document leads ...
    assert [r for r in fused if chunks[r].doc_id == other] == [r for r in views if chunks[r].doc_id == other]
    # ... but within it the sections keep the views' order.


def test_near_duplicate_pages_leave_the_choice_to_the_views(searcher: Searcher, monkeypatch) -> None:
    retrievers = make_retrievers(["multiview+bm25docs", "multiview", "multiview-ungated-bm25docs"], searcher)
    question = "Dosage Adjustments for renal impairment"
    views = retrievers["multiview"].rank(retrievers["multiview"].prepare(question), 100)
    chunks = searcher.index.chunks
    top = chunks[views[0][0]].doc_id
    other = next(chunks[r].doc_id for r, _ in views if chunks[r].doc_id != top)
    # Two documents score almost alike (9.5 > 0.9 * 10): the gate stays shut.
    _bm25_finds(searcher, monkeypatch, [(other, 10.0), (top, 9.5)])
    gated = retrievers["multiview+bm25docs"].rank(retrievers["multiview"].prepare(question), 100)
    assert [r for r, _ in gated] == [r for r, _ in views]
    ungated = retrievers["multiview-ungated-bm25docs"]
    moved = ungated.rank(ungated.prepare(question), 100)
    doc_number = {chunks[r].doc_id: int(searcher.doc_of_row[r]) for r, _ in views}
    s = searcher.settings
    ranks = {doc_number[other]: 1, doc_number[top]: 2}
    expected = fuse_document_ranks(
        views, searcher.doc_of_row, ranks, k=s.rrf_k, weight=s.dense_weight, doc_weight=s.bm25_weight
    )
    assert [r for r, _ in moved] == [r for r, _ in expected] != [r for r, _ in views]


def test_view_ablations_rank_as_their_views_say(searcher: Searcher) -> None:
    retrievers = make_retrievers(["views:chunk", "dense", "multiview+bm25"], searcher)
    query = retrievers["dense"].prepare("infection risk neutropenia")
    chunk_only = [h.chunk.id for h in retrievers["views:chunk"].search(query, 5)]
    assert chunk_only == [h.chunk.id for h in retrievers["dense"].search(query, 5)]
    assert len(retrievers["multiview+bm25"].search(query, 5)) == 5


def test_no_names_means_no_recognition(searcher: Searcher) -> None:
    (retriever,) = make_retrievers(["multiview-no-names"], searcher).values()
    query = retriever.prepare("Should I stop Imnovid during an infection?")
    assert query.mentions == [] and query.search_text == query.text


def test_the_gate_setting_reaches_the_retriever(fake_index_dir: Path, monkeypatch) -> None:
    open_gate = Searcher(load_index(fake_index_dir), FakeEmbedder(), Settings(bm25_document_gate=1.0).retrieval())
    assert open_gate.settings.bm25_document_gate == 1.0
    retrievers = make_retrievers(["multiview+bm25docs", "multiview"], open_gate)
    question = "Dosage Adjustments for renal impairment"
    views = retrievers["multiview"].rank(retrievers["multiview"].prepare(question), 100)
    chunks = open_gate.index.chunks
    top = chunks[views[0][0]].doc_id
    other = next(chunks[r].doc_id for r, _ in views if chunks[r].doc_id != top)
    _bm25_finds(open_gate, monkeypatch, [(other, 10.0), (top, 9.5)])  # shut at 0.9, open at 1.0
    fused = retrievers["multiview+bm25docs"].rank(retrievers["multiview"].prepare(question), 100)
    assert [r for r, _ in fused] != [r for r, _ in views]


def test_the_gate_sees_the_runner_up_document_even_when_one_document_fills_the_top(
    searcher: Searcher, monkeypatch
) -> None:
    """BM25's top list filled by one document's chunks says nothing about the runner-up document:
    the retriever then looks further down, and a close runner-up keeps the gate shut."""
    chunks = searcher.index.chunks
    first_doc = chunks[0].doc_id
    own = [r for r, c in enumerate(chunks) if c.doc_id == first_doc]
    other = next(r for r, c in enumerate(chunks) if c.doc_id != first_doc)
    full = [(r, 10.0 - i / 1000) for i, r in enumerate(own)] + [(other, 9.8)]
    asked: list[int] = []

    def bm25(query, n, index=None):
        asked.append(n)
        return full[:n]

    monkeypatch.setattr(searcher, "bm25", bm25)
    monkeypatch.setattr(searcher, "settings", replace(searcher.settings, candidates=len(own)))
    retrievers = make_retrievers(["multiview+bm25docs", "multiview"], searcher)
    question = "Dosage Adjustments for renal impairment"
    gated = retrievers["multiview+bm25docs"].rank(retrievers["multiview"].prepare(question), 10)
    views = retrievers["multiview"].rank(retrievers["multiview"].prepare(question), 10)
    assert asked == [len(own), searcher.size]  # the first list held one document: look further
    assert [r for r, _ in gated] == [r for r, _ in views]  # 9.8 > 0.9 * 10: the gate stays shut


def test_the_default_searches_the_question_as_written_and_still_recognises_names(searcher: Searcher) -> None:
    retrievers = make_retrievers(["multiview", "multiview+misspelt-names", "multiview+all-names"], searcher)
    question = "how much pomalidomid with Imnovid"
    plain = retrievers["multiview"].prepare(question)
    assert plain.search_text == question and {m.name for m in plain.mentions} == {"Pomalidomide"}
    assert retrievers["multiview+misspelt-names"].prepare(question).search_text == question + " Pomalidomide"
    assert retrievers["multiview+all-names"].prepare(question).search_text == question + " Pomalidomide"
    brand = "Should I stop Imnovid during an infection?"  # a brand name written right: not misspelt
    assert retrievers["multiview+misspelt-names"].prepare(brand).search_text == brand
    assert retrievers["multiview+all-names"].prepare(brand).search_text == brand + " Pomalidomide"
