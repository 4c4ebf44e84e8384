from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qa.indexing.calibration import CALIBRATION_FILE, Calibration
from qa.indexing.storage import load_index
from qa.retrieval.signal import calibrate, classify, drug_like_words, unknown_drugs
from tests.conftest import ROOT

CAL = Calibration("m", none_below=0.5, strong_from=0.7)


@pytest.mark.parametrize(
    ("confidence", "unknown", "level"),
    [(0.9, False, "strong"), (0.6, False, "weak"), (0.3, False, "none"), (None, False, "none"),
     (0.9, True, "weak"), (0.6, True, "none"), (0.3, True, "none")],
)  # fmt: skip
def test_classify(confidence, unknown, level) -> None:
    assert classify(confidence, CAL, unknown_drug=unknown) == level


def test_uncalibrated_is_never_strong() -> None:
    assert classify(0.99, None) == "weak"
    assert classify(None, None) == "none"


def test_drug_like_words_are_inn_stems() -> None:
    assert drug_like_words("Can I take atorvastatin with amlodipine or Ozempic?") == ["atorvastatin", "amlodipine"]
    assert drug_like_words("What are the statin side effects in the morning?") == []
    known = {"pomalidomide"}.__contains__
    assert unknown_drugs("pomalidomide or lenalidomide?", known) == ["lenalidomide"]
    assert unknown_drugs("Pomalidomide dose", lambda w: False, named=[(0, 12)]) == []


def test_calibrate_separable_sets() -> None:
    rng = random.Random(0)
    good = [rng.uniform(0.6, 0.95) for _ in range(200)]
    wrong = [rng.uniform(0.6, 0.9) for _ in range(20)]
    unanswerable = [rng.uniform(0.1, 0.5) for _ in range(30)]
    none_below, strong_from, stats = calibrate(good, wrong, unanswerable)
    assert none_below <= strong_from
    assert strong_from >= max(unanswerable) + 0.05
    assert stats["unanswerable_strong"] == 0
    assert stats["good_none"] <= 0.05


@given(
    good=st.lists(st.floats(0, 1), min_size=1, max_size=60),
    wrong=st.lists(st.floats(0, 1), max_size=30),
    unanswerable=st.lists(st.floats(0, 1), min_size=1, max_size=30),
)
def test_calibrate_properties(good, wrong, unanswerable) -> None:
    none_below, strong_from, _ = calibrate(good, wrong, unanswerable)
    assert none_below <= strong_from
    assert all(u < strong_from for u in unanswerable)  # no unanswerable question is ever strong
    if strong_from <= 1.0:
        above_good = sum(c >= strong_from for c in good)
        above_wrong = sum(c >= strong_from for c in wrong)
        assert above_good / (above_good + above_wrong) >= 0.85


def test_calibration_is_stored_with_the_index_and_tied_to_its_model(fake_index_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "index"
    shutil.copytree(fake_index_dir, target)
    assert load_index(target).calibration is None  # no calibration for the fake model is shipped
    Calibration("fake/hashing-bow", 0.2, 0.6).save(target / CALIBRATION_FILE)
    assert load_index(target).calibration == Calibration("fake/hashing-bow", 0.2, 0.6)
    Calibration("other/model", 0.2, 0.6).save(target / CALIBRATION_FILE)
    index = load_index(target)
    assert index.calibration is None and "other/model" in index.calibration_note
    (target / CALIBRATION_FILE).write_text(json.dumps({"model_id": "fake/hashing-bow"}))
    assert load_index(target).calibration is None


def test_packaged_calibration_for_the_real_model_is_valid() -> None:
    path = ROOT / "qa" / "indexing" / "calibrations" / "all-MiniLM-L6-v2.json"
    calibration = Calibration.load(path)
    assert calibration.model_id == "sentence-transformers/all-MiniLM-L6-v2"
    assert 0 < calibration.none_below < calibration.strong_from < 1
    assert calibration.calibrated_on["unanswerable_strong"] == 0
