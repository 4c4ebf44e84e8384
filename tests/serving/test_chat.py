"""Chat turns: extractive answers with numbered citations, follow-ups, 'not covered'."""

from __future__ import annotations

from qa.indexing.sentences import sentences_of
from qa.serving.chat import DISCLAIMER, NOT_COVERED, Message, chat
from qa.serving.service import QAService


# ------------------------------------------------------------------ answers
def test_answer_is_quoted_sentences_with_numbered_citations(fake_service: QAService) -> None:
    reply = chat(fake_service, [Message("user", "Pomalidomide dosage for multiple myeloma?")])
    assert reply.match in {"strong", "weak"}
    assert 1 <= len(reply.sentences) <= 3
    assert [c.number for c in reply.citations] == list(range(1, len(reply.citations) + 1))
    for sentence in reply.sentences:
        cited = next(c for c in reply.citations if c.number == sentence.citation)
        assert sentence.text in sentences_of(cited.chunk.text)  # quoted, not generated
        assert f"{sentence.text} [{sentence.citation}]" in reply.answer
    assert reply.disclaimer == DISCLAIMER


def test_sentences_of_drops_markup_not_words() -> None:
    text = "* **Renal Impairment:** No dose adjustment is required. Administer it after hemodialysis.\n  1. Hold it:"
    assert sentences_of(text) == [
        "Renal Impairment: No dose adjustment is required.",
        "Administer it after hemodialysis.",
    ]  # the lead-in "Hold it:" and fragments under four words are not quoted


def test_follow_up_carries_the_drug_over(fake_service: QAService) -> None:
    messages = [
        Message("user", "What is the dose of pomalidomide?"),
        Message("assistant", "4 mg daily [1]"),
        Message("user", "What about during pregnancy and breastfeeding?"),
    ]
    reply = chat(fake_service, messages)
    assert (reply.carried_over, reply.carried_from) == (["Pomalidomide"], 0)
    assert any("Pregnancy and Breastfeeding" in c.chunk.heading_path for c in reply.citations)


def test_no_carry_over_when_the_question_names_a_drug_or_an_unknown_one(fake_service: QAService) -> None:
    first = Message("user", "What is the dose of pomalidomide?")
    for question in ("And Imnovid in pregnancy?", "And atorvastatin?"):
        reply = chat(fake_service, [first, Message("assistant", "..."), Message("user", question)])
        assert reply.carried_over == []


def test_not_covered_says_so_and_cites_nothing(fake_service: QAService) -> None:
    reply = chat(fake_service, [Message("user", "What is the dose of atorvastatin?")])
    assert reply.match == "none"
    assert reply.answer == NOT_COVERED
    assert reply.citations == [] and reply.sentences == []


# ------------------------------------------------------------------ cost per turn
def test_a_turn_embeds_only_the_question_once_sentence_vectors_exist(fake_index_dir) -> None:
    from qa.indexing.storage import load_index
    from tests.fakes import FakeEmbedder

    embedder = FakeEmbedder()
    service = QAService(load_index(fake_index_dir), embedder)
    kinds = set()
    for question in ("Pomalidomide dosage for multiple myeloma?", "What is the recommended dosage for Pomalidomide?"):
        first = chat(service, [Message("user", question)])
        kinds.add(first.citations[0].kind)
        before = embedder.texts_embedded
        again = chat(service, [Message("user", question)])
        # Passage sentences come from the sentence view (embedded at index time) and FAQ answers'
        # sentences from the service's cache: a repeated turn embeds the question alone.
        assert embedder.texts_embedded - before == 1
        assert again.answer == first.answer and again.sentences
    assert kinds == {"passage", "faq"}  # both kinds of place were quoted


def test_without_the_sentence_view_a_passage_is_embedded_once_and_quoted_alike(fake_index_dir, tmp_path) -> None:
    from dataclasses import replace

    from qa.indexing.build import build_index
    from qa.indexing.storage import load_index
    from tests.conftest import FAKE_CHUNKING, SEED_CORPUS
    from tests.fakes import FakeEmbedder

    build_index(SEED_CORPUS, tmp_path / "index", FakeEmbedder(), replace(FAKE_CHUNKING, sentence_view=False))
    embedder = FakeEmbedder()
    plain = QAService(load_index(tmp_path / "index"), embedder)
    stored = QAService(load_index(fake_index_dir), FakeEmbedder())
    question = [Message("user", "Pomalidomide dosage for multiple myeloma?")]
    first = chat(plain, question)
    before = embedder.texts_embedded
    again = chat(plain, question)
    assert embedder.texts_embedded - before == 1  # the passages' sentences were kept from the first turn
    assert again.answer == first.answer == chat(stored, question).answer  # the same quotes as stored vectors give


def test_stored_sentence_vectors_pick_what_fresh_ones_would(fake_index_dir) -> None:
    from qa.indexing.storage import load_index
    from qa.serving.chat import _pick_sentences
    from tests.fakes import FakeEmbedder

    service = QAService(load_index(fake_index_dir), FakeEmbedder())
    result = service.ask("Pomalidomide dosage for multiple myeloma?", 3)
    passages = [h for h in result.hits if h.kind == "passage"]
    picked = _pick_sentences(service, result.question, passages)
    assert picked and all(sentence in sentences_of(passages[p].chunk.text) for p, _, sentence in picked)
