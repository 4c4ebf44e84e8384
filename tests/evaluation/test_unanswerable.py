"""eval/unanswerable.jsonl must stay unanswerable: its drugs appear in no corpus file."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import ROOT, SEED_CORPUS

ROWS = [json.loads(line) for line in (ROOT / "eval" / "unanswerable.jsonl").read_text().splitlines()]
DRUGS = [row["drug"] for row in ROWS if row["category"] == "absent-drug"]


def mentions(directory, name: str) -> list[str]:
    pattern = re.compile(rf"\b{re.escape(name)}", re.I)
    return [p.name for p in directory.rglob("*") if p.is_file() and pattern.search(p.read_text(errors="ignore"))]


def test_file_shape() -> None:
    assert len({row["id"] for row in ROWS}) == len(ROWS)
    assert {row["category"] for row in ROWS} == {"absent-drug", "off-topic", "covered-drug-uncovered-topic"}
    for row in ROWS:
        assert row["question"].strip()
        if row["category"] == "absent-drug":
            assert row["drug"].lower() in row["question"].lower()
        if row["category"] == "covered-drug-uncovered-topic":
            assert mentions(SEED_CORPUS, row["drug"]), "the drug must be one the seed corpus covers"
            assert row["checked"].strip(), "say what was checked to make sure the topic is not covered"


@pytest.mark.parametrize("drug", DRUGS)
def test_absent_from_the_seed_corpus(drug: str) -> None:
    assert mentions(SEED_CORPUS, drug) == []


@pytest.mark.medquad
def test_absent_from_medquad(medquad) -> None:
    found = {drug: mentions(medquad / "corpus", drug) for drug in DRUGS}
    assert {drug: files for drug, files in found.items() if files} == {}
