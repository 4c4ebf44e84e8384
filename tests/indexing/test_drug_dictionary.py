"""The drug dictionary: read as plain data only; the corpus's drugs get its other names; the
drugs the corpus lacks are known, so a question about one can be told apart."""

from __future__ import annotations

import bz2
import pickle
from pathlib import Path

import pytest

from qa.indexing import drug_dictionary
from qa.indexing.drug_dictionary import DrugDictionary, load_dictionary
from qa.indexing.lexicon import Entity, Lexicon, _add_dictionary_names, absent_drugs
from qa.ingest.corpus import load_corpus
from qa.retrieval.recognition import Recogniser
from tests.conftest import SEED_CORPUS

SMALL = DrugDictionary.from_variants(
    {
        "atorvastatin": ["atorvastatin"],
        "lipitor": ["atorvastatin"],
        "pomalidomide": ["pomalidomide"],
        "pomalyst": ["pomalidomide"],
        "apixaban": ["apixaban"],
        "eliquis": ["apixaban"],
        "ms": ["morphine"],  # too short to act on
    }
)


class Evil:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_the_dictionary_file_is_read_as_plain_data_only(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / drug_dictionary.DATA_FILE
    with bz2.open(path, "wb") as handle:
        pickle.dump({"drug_variant_to_canonical": {"x": [Evil()]}}, handle)
    monkeypatch.setattr(drug_dictionary, "dictionary_file", lambda: path)
    load_dictionary.cache_clear()
    try:
        with pytest.raises(pickle.UnpicklingError, match="plain data only"):
            load_dictionary()
    finally:
        load_dictionary.cache_clear()


def test_synonyms_and_short_names() -> None:
    assert SMALL.synonyms("lipitor") == {"atorvastatin", "lipitor"}
    assert SMALL.synonyms("ms") == frozenset()  # under 4 letters: left out
    assert SMALL.synonyms("aspirin") == frozenset()


def test_the_corpus_drugs_get_the_dictionarys_other_names() -> None:
    entity = Entity("Atorvastatin", doc_ids={"ator"}, owners={"ator"})
    lexicon = Lexicon([entity], {"atorvastatin": 1})
    _add_dictionary_names(lexicon.entities.values(), SMALL)
    assert entity.aliases == {"lipitor"} and entity.drug is True
    recogniser = Recogniser(Lexicon([entity], {"atorvastatin": 1}))
    assert [m.name for m in recogniser.recognise("can i take lipitor at night")] == ["Atorvastatin"]


def test_absent_drugs_are_the_groups_the_corpus_never_names() -> None:
    absent = absent_drugs(SMALL, {"pomalidomide": 2, "night": 1}, [])
    assert absent == {"atorvastatin", "lipitor", "apixaban", "eliquis"}  # pomalidomide's group is present


def test_a_question_names_an_absent_drug_but_not_a_typo_of_a_corpus_word() -> None:
    lexicon = Lexicon(
        [Entity("Pomalidomide", doc_ids={"p"}, drug=True)],
        {"infection": 30, "pomalidomide": 30},
        documents=50,
        absent_drugs={"eliquis", "infecton", "fish oil"},
    )
    recogniser = Recogniser(lexicon)
    question = "pomalidomide with Eliquis, fish oil and an infecton"
    assert recogniser.absent_drugs(question, recogniser.recognise(question)) == ["fish oil", "eliquis"]


def test_the_bundled_dictionary_on_the_seed_corpus() -> None:
    assert load_dictionary() is not None, "drug-named-entity-recognition is a dependency: reinstall the package"
    lexicon = Lexicon.from_documents(load_corpus(SEED_CORPUS).documents, load_dictionary())
    assert lexicon.entities["pomalidomide"].drug is True
    assert {"eliquis", "ozempic", "lipitor"} <= lexicon.absent_drugs
    assert not {"pomalidomide", "pomalyst", "dexamethasone"} & lexicon.absent_drugs
