"""The drug lexicon built from the corpus: names, aliases, owners, vocabulary; storage."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.indexing.lexicon import Lexicon, max_edits
from qa.ingest.corpus import load_corpus, parse_document
from qa.retrieval.recognition import Recogniser
from tests.conftest import SEED_CORPUS


@pytest.fixture(scope="module")
def seed_lexicon() -> Lexicon:
    return Lexicon.from_documents(load_corpus(SEED_CORPUS).documents)


def names(lexicon: Lexicon, question: str) -> list[tuple[str, str]]:
    return [(m.name, m.matched_text) for m in Recogniser(lexicon).recognise(question)]


def test_seed_lexicon_has_brand_names_and_both_documents(seed_lexicon: Lexicon) -> None:
    (entity,) = seed_lexicon.entities.values()
    assert entity.name == "Pomalidomide"
    assert entity.aliases == {"Pomalyst", "Imnovid"}  # from the ® marks and the article's "(Imnovid)"
    assert entity.doc_ids == {"pomalidomide-monograph", "pomalidomide-infection-article"}
    assert entity.owners == {"pomalidomide-monograph"}  # the article's title is a question: it names, not owns


def test_vocabulary_counts_documents(seed_lexicon: Lexicon) -> None:
    assert seed_lexicon.documents == 2
    assert seed_lexicon.vocabulary["pomalidomide"] == 2
    assert seed_lexicon.vocabulary["kaposi"] == 1


def test_edit_limits_follow_name_length() -> None:
    assert [max_edits(n) for n in ("ALL", "Pomal", "Imnovid", "Pomalyst", "Pomalidomide")] == [0, 1, 1, 2, 2]


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
