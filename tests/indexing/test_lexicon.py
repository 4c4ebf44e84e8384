from __future__ import annotations

from pathlib import Path

import pytest

from qa.indexing.lexicon import Entity, Lexicon, max_edits
from qa.ingest.corpus import load_corpus, parse_document
from tests.conftest import SEED_CORPUS


@pytest.fixture(scope="module")
def seed_lexicon() -> Lexicon:
    return Lexicon.from_documents(load_corpus(SEED_CORPUS).documents)


def names(lexicon: Lexicon, question: str) -> list[tuple[str, str]]:
    return [(m.name, m.matched_text) for m in lexicon.recognise(question)]


def test_seed_lexicon_has_brand_names_and_both_documents(seed_lexicon: Lexicon) -> None:
    (entity,) = seed_lexicon.entities.values()
    assert entity.name == "Pomalidomide"
    assert entity.aliases == {"Pomalyst", "Imnovid"}  # from the ® marks and the article's "(Imnovid)"
    assert entity.doc_ids == {"pomalidomide-monograph", "pomalidomide-infection-article"}


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


@pytest.mark.parametrize("question", ["pomolidomit dose", "imnvd dose", "What is metformin?", "weather in Paris"])
def test_not_recognised(seed_lexicon: Lexicon, question: str) -> None:
    assert names(seed_lexicon, question) == []


def test_edit_limits_follow_name_length() -> None:
    assert [max_edits(n) for n in ("ALL", "Pomal", "Imnovid", "Pomalyst", "Pomalidomide")] == [0, 1, 1, 2, 2]


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


def test_sources_parentheses_and_alternate_names(tmp_path: Path) -> None:
    docs = [
        parse_document(
            "---\ntitle: Acetaminophen (Tylenol)\n---\n## Other Names\n\nAlso known as paracetamol, APAP.\n"
            "Brand names include Panadol and Calpol.\n\n## Dosage\n\n1 g.\n",
            doc_id="acetaminophen",
            path="acetaminophen.md",
        ),
        parse_document(
            "Can I take Tylenol (acetaminophen) when pregnant?\n\nAnswer\n\nYes.\n", doc_id="q", path="q.txt"
        ),
    ]
    lexicon = Lexicon.from_documents(docs)
    entity = lexicon.entities["acetaminophen"]
    assert entity.aliases >= {"Tylenol", "paracetamol", "APAP", "Panadol", "Calpol"}
    assert "tylenol" in lexicon.entities and lexicon.entities["tylenol"].doc_ids == {"q"}
    assert names(lexicon, "paracetamol overdose") == [("Acetaminophen", "paracetamol")]


def test_save_and_load_round_trip(seed_lexicon: Lexicon, tmp_path: Path) -> None:
    seed_lexicon.save(tmp_path / "lexicon.json")
    loaded = Lexicon.load(tmp_path / "lexicon.json")
    assert loaded.to_json() == seed_lexicon.to_json()
    assert names(loaded, "pomalidomid") == names(seed_lexicon, "pomalidomid")
