"""Hybrid retrieval, filters, entity boost, FAQ answers and duplicate collapse (fake embedder)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from qa.errors import InvalidQueryError
from qa.indexing.build import build_index
from qa.indexing.chunking import ChunkSettings
from qa.indexing.storage import load_index
from qa.retrieval.catalog import make_retrievers
from qa.retrieval.query import Filters
from qa.retrieval.searcher import Searcher
from qa.serving.service import QAService
from tests.conftest import FAKE_CHUNKING, SEED_CORPUS
from tests.fakes import FakeEmbedder

ARTICLE = "pomalidomide-infection-article"
MONOGRAPH = "pomalidomide-monograph"


@pytest.fixture(scope="module")
def service(fake_index_dir: Path) -> QAService:
    return QAService(load_index(fake_index_dir), FakeEmbedder())


def ask(service: QAService, question: str, k: int = 5, mode: str = "hybrid", **filters):
    return service.ask(question, k, mode, Filters(**filters) if filters else None)


@pytest.mark.parametrize("mode", ["multiview", "hybrid", "dense", "bm25"])
def test_every_mode_returns_k_ranked_distinct_results(service: QAService, mode: str) -> None:
    answer = ask(service, "pomalidomide neutropenia infection risk", 5, mode)
    assert [h.rank for h in answer.hits] == [1, 2, 3, 4, 5]
    assert len({h.chunk.id for h in answer.hits}) == 5
    assert answer.mode == mode


def test_brand_name_is_expanded_and_boosts_the_drug(service: QAService) -> None:
    query = service.searcher.prepare("Should I stop Imnovid during an infection?", add_names="all")
    assert query.search_text.endswith(" Pomalidomide")
    assert [(m.name, m.matched_text) for m in query.mentions] == [("Pomalidomide", "Imnovid")]
    assert len(query.entity_rows) == len(service.index.chunks)  # both seed documents are about it


def test_by_default_the_question_is_searched_as_written(service: QAService) -> None:
    brand = service.searcher.prepare("Should I stop Imnovid during an infection?")
    assert brand.search_text == brand.text  # written as the corpus writes it: searched as written
    assert [m.name for m in brand.mentions] == ["Pomalidomide"]  # still recognised (entities, signal)
    typo = service.searcher.prepare("how much pomalidomid should I take", add_names="misspelt")
    assert typo.search_text.endswith(" Pomalidomide")
    plain = service.searcher.prepare("how much pomalidomid should I take")
    assert plain.search_text == plain.text and [m.name for m in plain.mentions] == ["Pomalidomide"]
    with pytest.raises(ValueError, match="add_names"):
        service.searcher.prepare("dose", add_names="some")


def test_doc_filter_applies_before_ranking_and_still_fills_k(service: QAService) -> None:
    total = sum(1 for c in service.index.chunks if c.doc_id == ARTICLE)
    answer = ask(service, "pomalidomide dosage for myeloma", 6, doc_ids=(ARTICLE,))
    assert len(answer.hits) == min(6, total)
    assert {h.chunk.doc_id for h in answer.hits} == {ARTICLE}
    for mode in ("multiview", "dense", "bm25"):
        assert {h.chunk.doc_id for h in ask(service, "antibiotics", 3, mode, doc_ids=(ARTICLE,)).hits} == {ARTICLE}


def test_section_filter_matches_any_heading_in_the_path(service: QAService) -> None:
    answer = ask(service, "how much should adults take", 5, sections=("**dosage:**",))
    assert answer.hits
    assert all("Dosage" in h.chunk.heading_path for h in answer.hits)
    assert all(h.kind == "passage" for h in answer.hits)  # FAQ answers never bypass a section filter


def test_bad_filters_name_the_value(service: QAService) -> None:
    with pytest.raises(InvalidQueryError, match="no document 'aspirin'"):
        ask(service, "dose", doc_ids=("aspirin",))
    with pytest.raises(InvalidQueryError, match="no section is headed 'Nope'"):
        ask(service, "dose", sections=("Nope",))


def test_faq_paraphrase_returns_the_faq_answer_with_every_source(service: QAService) -> None:
    answer = ask(service, "What is the recommended dosage for Pomalidomide?")
    faq = answer.hits[0]
    assert faq.kind == "faq" and faq.similarity == pytest.approx(1.0, abs=1e-5)
    assert faq.chunk.text.startswith("For multiple myeloma, the recommended dosage is 4 mg")
    source = service.index.documents[MONOGRAPH].source_text
    spans = [source[p.start : p.end] for p in faq.places]
    assert spans[0].startswith("**A:** For multiple myeloma")  # the body's FAQ section, readable, first
    assert any(s.startswith("q: >-") for s in spans)  # and the frontmatter entry
    assert sum(1 for h in answer.hits if h.chunk.text.startswith("**A:** For multiple myeloma")) == 0


def test_near_duplicates_collapse_into_one_result_with_all_places(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(SEED_CORPUS, corpus)
    shared = "This condition is inherited in an autosomal recessive pattern; both copies of the gene are altered."
    for name in ("alpha", "beta"):
        (corpus / f"{name}.md").write_text(
            f"---\ntitle: {name}\n---\n## Inheritance\n\n{shared}\n\n## Other\n\n{name} text.\n"
        )
    build_index(corpus, tmp_path / "index", FakeEmbedder(), FAKE_CHUNKING)
    service = QAService(load_index(tmp_path / "index"), FakeEmbedder())
    answer = service.ask("autosomal recessive inheritance pattern", 5, "hybrid")
    top = answer.hits[0]
    assert {p.doc_id for p in top.places} == {"alpha", "beta"}
    assert sum(1 for h in answer.hits if h.chunk.text == shared) == 1


def test_held_out_index_has_no_faq_answers(tmp_path: Path) -> None:
    held_out = ChunkSettings(FAKE_CHUNKING.max_tokens, FAKE_CHUNKING.overlap_tokens, include_faq=False)
    build_index(SEED_CORPUS, tmp_path / "i", FakeEmbedder(), held_out)
    service = QAService(load_index(tmp_path / "i"), FakeEmbedder())
    assert len(service.index.faqs) == 0
    assert all(h.kind == "passage" for h in service.ask("What is the recommended dosage for Pomalidomide?").hits)


def test_bm25_indexes_headings_as_well_as_text(service: QAService) -> None:
    searcher = service.searcher
    query = searcher.prepare("Alternate Names")
    (top,) = make_retrievers(["bm25"], searcher)["bm25"].search(query, 1)
    assert top.chunk.heading_path[-1] == "Alternate Names"


def test_unknown_drug_lowers_the_signal(service: QAService) -> None:
    answer = ask(service, "What is the dose of atorvastatin?")
    assert answer.unknown_drugs == ("atorvastatin",)
    assert answer.match in {"weak", "none"}


def test_searcher_refuses_another_model(fake_index_dir: Path) -> None:
    from qa.errors import IndexMismatchError

    with pytest.raises(IndexMismatchError):
        Searcher(load_index(fake_index_dir), FakeEmbedder(model_id="x/y"))


def test_the_signal_scores_the_question_as_written_whatever_names_a_mode_adds(service: QAService) -> None:
    """The thresholds were set on the default, which searches the question as written: a mode that
    adds a brand name's generic must not change the confidence of the same results."""
    question = "Should I stop Imnovid during an infection?"
    searcher = service.searcher
    with_names, as_written = searcher.prepare(question, add_names="all"), searcher.prepare(question)
    assert with_names.search_text != as_written.search_text
    hits = service.ask(question, 5, "dense").hits
    assert searcher.evidence(with_names, hits) == searcher.evidence(as_written, hits)
