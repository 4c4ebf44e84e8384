"""Each drug-name folding rule, with its own examples."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qa.indexing import names


def test_abbreviation_file_is_well_formed_and_names_a_source_for_each_entry() -> None:
    table = names.abbreviations()
    assert table["hctz"] == ("hydrochlorothiazide",)
    assert table["kcl"] == ("potassium", "chloride")
    text = (names.resources.files("qa.indexing") / "data" / names.ABBREVIATIONS_FILE).read_text()
    rows = [line.split("\t") for line in text.splitlines() if line.strip() and not line.startswith("#")]
    assert all(len(row) == 3 and row[2] in {"ISMP", "TJC", "USP", "Rx"} for row in rows)
    assert len({row[0] for row in rows}) == len(rows)
    # Shorthand that means something else in medical questions is deliberately absent.
    assert not {"ms", "ca", "mg", "k", "er"} & set(table)


@pytest.mark.parametrize(
    ("text", "words"),
    [("HCTZ", ["hydrochlorothiazide"]), ("pot chloride", ["potassium", "chloride"]), ("vit d", ["vitamin", "d"])],
)
def test_expand_abbreviations(text: str, words: list[str]) -> None:
    assert names.expand(names.tokens(text)) == words


@pytest.mark.parametrize("word", ["50mg", "0.5mg", "5-325", "10meq", "mg", "mcg", "2.5/500", "1%"])
def test_strengths_are_recognised(word: str) -> None:
    assert names.is_strength(word)


@pytest.mark.parametrize("word", ["b12", "d3", "metoprolol", "covid-19", "21", "2", "81"])  # bare numbers: names
def test_words_with_digits_that_are_not_strengths(word: str) -> None:
    assert not names.is_strength(word)


@pytest.mark.parametrize(
    ("text", "canonical", "base"),
    [
        ("metoprolol succ er 50 mg", ["metoprolol", "succinate"], ["metoprolol"]),
        ("Metoprolol Tartrate", ["metoprolol", "tartrate"], ["metoprolol"]),
        ("diltiazem hcl 24hr caps", ["diltiazem", "hydrochloride", "24hr"], ["diltiazem", "24hr"]),
        ("potassium chloride 10meq", ["potassium", "chloride"], ["potassium", "chloride"]),  # salt only: kept
        ("Tylenol® 500 mg tablets", ["tylenol"], ["tylenol"]),
    ],
)
def test_canonical_drops_strengths_and_forms_base_drops_salts(text: str, canonical: list, base: list) -> None:
    words = names.tokens(text)
    assert names.canonical(words) == canonical
    assert names.base(words) == base


def test_a_bare_number_is_dropped_only_before_a_unit_or_dose_form() -> None:
    assert names.canonical(names.tokens("aspirin 81 mg")) == ["aspirin"]
    assert names.canonical(names.tokens("asa 81 ec")) == ["aspirin"]
    assert names.canonical(names.tokens("type 2 diabetes")) == ["type", "2", "diabetes"]
    assert names.name_key(names.tokens("21 hydroxylase deficiency")) != names.name_key(
        names.tokens("18 hydroxylase deficiency")
    )


def test_name_key_ignores_order_and_connectors() -> None:
    key = names.name_key(names.tokens("Acetaminophen and Hydrocodone"))
    assert key == names.name_key(names.tokens("hydrocodone apap 5-325")) == "acetaminophen hydrocodone"
    assert names.name_key(names.tokens("Metoprolol Succinate"), salts=True) == "metoprolol succinate"
    assert names.name_key(names.tokens("50 mg tablets")) == ""


@pytest.mark.parametrize(
    ("word", "name", "alike"),
    [
        ("metoperal", "metoprolol", True),
        ("pomolidomit", "pomalidomide", True),
        ("amlodopine", "amlodipine", True),
        ("imnvd", "imnovid", True),
        ("metformin", "metoprolol", False),  # a different drug
        ("impound", "imnovid", False),
        ("pomegranate", "pomalidomide", False),
        ("lisinopril", "hisinopril", False),  # first letters differ
        ("ator", "atorvastatin", False),  # too short to judge by sound
    ],
)
def test_sounds_alike(word: str, name: str, alike: bool) -> None:
    assert names.sounds_alike(word, name) is alike


def test_splits_of_merged_words() -> None:
    known = {"hydrocodone", "acetaminophen", "pre", "dnisone"}
    assert names.splits("hydrocodoneacetaminophen", known) == [("hydrocodone", "acetaminophen")]
    assert names.splits("prednisone", known) == []  # "pre" is shorter than a part may be


@given(st.lists(st.sampled_from(["50", "mg", "er", "tabs", "hcl", "metoprolol", "and", "aspirin"]), max_size=6))
def test_folding_is_idempotent(words: list[str]) -> None:
    once = names.canonical(words)
    assert names.canonical(once) == once
    assert names.base(names.base(words)) == names.base(words)
