"""Recognising the corpus's drug names in questions written the way consumers write."""

from __future__ import annotations

import pytest

from qa.indexing.lexicon import Entity, Lexicon
from qa.ingest.corpus import load_corpus
from qa.retrieval.recognition import Recogniser
from tests.conftest import SEED_CORPUS


@pytest.fixture(scope="module")
def seed_lexicon() -> Lexicon:
    return Lexicon.from_documents(load_corpus(SEED_CORPUS).documents)


def names(lexicon: Lexicon, question: str) -> list[tuple[str, str]]:
    return [(m.name, m.matched_text) for m in Recogniser(lexicon).recognise(question)]


@pytest.mark.parametrize(
    ("question", "matched"),
    [
        ("Should I stop Imnovid during an infection?", "Imnovid"),
        ("IMNOVID dose", "IMNOVID"),
        ("Is Pomalyst® safe?", "Pomalyst"),
        ("pomalyst™ side effects", "pomalyst"),
        ("pomalidomid for myeloma", "pomalidomid"),  # 1 edit (12 letters allow 2)
        ("pomolidomid for myeloma", "pomolidomid"),  # 2 edits
        ("imnovd dose", "imnovd"),  # 1 edit (7 letters allow 1)
    ],
)
def test_recognised_without_regard_to_case_marks_or_small_misspellings(
    seed_lexicon: Lexicon, question: str, matched: str
) -> None:
    assert names(seed_lexicon, question) == [("Pomalidomide", matched)]


@pytest.mark.parametrize("question", ["pomegranate juice", "impound lot", "What is metformin?", "weather in Paris"])
def test_not_recognised(seed_lexicon: Lexicon, question: str) -> None:
    assert names(seed_lexicon, question) == []


def test_a_word_the_corpus_uses_is_not_corrected_into_a_name() -> None:
    lexicon = Lexicon([Entity("Infections", doc_ids={"inf"})], vocabulary={"infection", "stop"})
    assert names(lexicon, "stop infection") == []  # "infection" is a known word: no fuzzy match
    assert names(lexicon, "stop infectionz") == [("Infections", "infectionz")]


def test_abbreviations_match_only_in_capitals_and_longest_match_wins() -> None:
    lexicon = Lexicon(
        [
            Entity("Acute Lymphoblastic Leukemia", {"ALL"}, {"all-doc"}),
            Entity("Leukemia", set(), {"leuk-doc"}),
        ],
        vocabulary={"all", "leukemia"},
    )
    assert names(lexicon, "what are all the symptoms") == []
    assert names(lexicon, "How is ALL treated?") == [("Acute Lymphoblastic Leukemia", "ALL")]
    assert names(lexicon, "acute lymphoblastic leukemia in adults") == [
        ("Acute Lymphoblastic Leukemia", "acute lymphoblastic leukemia")
    ]
    assert names(lexicon, "leukemia and ALL") == [("Leukemia", "leukemia"), ("Acute Lymphoblastic Leukemia", "ALL")]


# ------------------------------------------------------------------ consumer spellings, rule by rule
def drugs(*entities: Entity, vocabulary: dict[str, int] | None = None, documents: int = 0) -> Recogniser:
    return Recogniser(Lexicon(entities, vocabulary or {}, documents=documents))


DRUGS = drugs(
    Entity("Metoprolol Succinate", doc_ids={"meto-succ"}, owners={"meto-succ"}),
    Entity("Metoprolol Tartrate", doc_ids={"meto-tart"}, owners={"meto-tart"}),
    Entity("Hydrochlorothiazide", doc_ids={"hctz"}, owners={"hctz"}),
    Entity("Acetaminophen and Hydrocodone", doc_ids={"norco"}, owners={"norco"}),
    Entity("Potassium Chloride", doc_ids={"kcl"}, owners={"kcl"}),
    Entity("Levothyroxine", doc_ids={"levo"}, owners={"levo"}),
    Entity("Aspirin", doc_ids={"asa"}, owners={"asa"}),
)


def rules(recogniser: Recogniser, question: str) -> list[tuple[str, str, str]]:
    return [(m.name, m.matched_text, m.rule) for m in recogniser.recognise(question)]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("hctz 25mg every morning", [("Hydrochlorothiazide", "hctz 25mg", "folded")]),  # abbreviation, strength
        ("what is asa 81 ec", [("Aspirin", "asa 81 ec", "folded")]),  # abbreviation, bare dose before a form
        ("pot chloride 10meq", [("Potassium Chloride", "pot chloride 10meq", "folded")]),  # salts alone stay
        ("is kcl safe", [("Potassium Chloride", "kcl", "folded")]),
        ("metoprolol succ er 50", [("Metoprolol Succinate", "metoprolol succ er", "folded")]),  # the salt decides
        ("hydrocodone acet 5-325", [("Acetaminophen and Hydrocodone", "hydrocodone acet 5-325", "folded")]),
    ],
)
def test_abbreviations_strengths_forms_and_salts_are_folded(question: str, expected: list) -> None:
    assert rules(DRUGS, question) == expected


def test_a_name_without_its_salt_finds_every_salt_form() -> None:
    assert {m.name for m in DRUGS.recognise("metoprolol side effects")} == {
        "Metoprolol Succinate",
        "Metoprolol Tartrate",
    }


def test_split_and_merged_words() -> None:
    assert rules(DRUGS, "levo thyroxine dose") == [("Levothyroxine", "levo thyroxine", "joined")]
    assert rules(DRUGS, "hydrocodoneacetaminophen and alcohol") == [
        ("Acetaminophen and Hydrocodone", "hydrocodoneacetaminophen", "split")
    ]


def test_sound_alike_spellings() -> None:
    assert rules(DRUGS, "i take metoperal") == [
        ("Metoprolol Succinate", "metoperal", "sound"),
        ("Metoprolol Tartrate", "metoperal", "sound"),
    ]
    assert rules(DRUGS, "levothyroxin") == [("Levothyroxine", "levothyroxin", "edit")]
    assert rules(DRUGS, "mitochondria and levels") == []  # sounds like nothing in the lexicon
    synonyms = drugs(Entity("Trichinellosis", doc_ids={"a"}), Entity("Trichomoniasis", doc_ids={"b"}))
    assert rules(synonyms, "how do they test for trichinosis") == [("Trichinellosis", "trichinosis", "sound")]
    tie = drugs(Entity("Imatinib", doc_ids={"a"}), Entity("Imatinab", doc_ids={"b"}))
    assert rules(tie, "is imatinob safe") == []  # two names equally close: no guess
    # Two spellings of one drug equally close (a dictionary alias in another language) are one answer.
    spellings = drugs(Entity("Pomalidomide", aliases={"pomalidomida"}, doc_ids={"p"}))
    assert rules(spellings, "a dose of pomalidomid") == [("Pomalidomide", "pomalidomid", "edit")]


def test_a_rare_corpus_word_may_be_a_misspelling_in_a_large_corpus_only() -> None:
    entity = Entity("Levothyroxine", doc_ids={"levo"}, owners={"levo"})
    vocabulary = {"levothyroxin": 1, "the": 500}
    assert rules(drugs(entity, vocabulary=vocabulary, documents=500), "levothyroxin") == [
        ("Levothyroxine", "levothyroxin", "edit")
    ]
    assert rules(drugs(entity, vocabulary=vocabulary, documents=20), "levothyroxin") == []  # too small to tell
    assert rules(drugs(entity, vocabulary={"levothyroxin": 9}, documents=500), "levothyroxin") == []  # established


def test_a_trailing_connector_does_not_make_a_longer_name() -> None:
    assert rules(DRUGS, "aspirin and tylenol") == [("Aspirin", "aspirin", "name")]
