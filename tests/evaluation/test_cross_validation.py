"""eval/cv_select.py's folds: whole drug families, balanced, reproducible."""

from __future__ import annotations

import importlib.util
import sys

from tests.conftest import ROOT


def _cv_select():
    spec = importlib.util.spec_from_file_location("cv_select", ROOT / "eval" / "cv_select.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("cv_select", module)
    spec.loader.exec_module(module)
    return module


def test_documents_sharing_a_name_word_are_one_family() -> None:
    family = _cv_select().families(
        {
            "acetaminophen": "Acetaminophen",
            "acetaminophen-codeine": "Acetaminophen and Codeine Phosphate",
            "codeine": "Codeine",
            "warfarin": "Warfarin Sodium Tablets",
            "coumadin": "Coumadin",
        }
    )
    assert family["acetaminophen"] == family["acetaminophen-codeine"] == family["codeine"]
    assert family["warfarin"] != family["acetaminophen"]  # "sodium" and "tablets" are not names
    assert family["coumadin"] not in {family["warfarin"], family["codeine"]}


def test_folds_keep_families_whole_and_balance_questions() -> None:
    cv = _cv_select()
    question_family = {f"q{i}": f"f{i % 7}" for i in range(70)} | {f"big{i}": "huge" for i in range(12)}
    fold_of = cv.folds(question_family, 5, seed=0)
    for family in set(question_family.values()):
        assert len({fold_of[q] for q, f in question_family.items() if f == family}) == 1
    sizes = [sum(1 for f in fold_of.values() if f == k) for k in range(5)]
    assert max(sizes) - min(sizes) <= 12 and sum(sizes) == 82
    assert cv.folds(question_family, 5, seed=0) == fold_of  # reproducible
