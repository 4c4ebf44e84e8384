from __future__ import annotations

import itertools
import json
import random
import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qa.indexing.calibration import CALIBRATION_FILE, NEVER_STRONG, Calibration
from qa.indexing.storage import load_index
from qa.retrieval.signal import (
    Answered,
    Evidence,
    calibrate,
    classify,
    drug_like_words,
    isotonic,
    local_threshold,
    unknown_drugs,
)
from tests.conftest import ROOT

CAL = Calibration("m", none_below=0.5, strong_from=0.7)


@pytest.mark.parametrize(
    ("confidence", "unknown", "known_drug", "level"),
    [
        (0.9, (), False, "strong"),
        (0.6, (), False, "weak"),
        (0.3, (), False, "none"),
        (None, (), False, "none"),
        (0.9, ("ozempic",), False, "none"),  # about a drug the corpus lacks: nothing to show
        (0.9, ("ozempic",), True, "weak"),  # "pomalidomide with Ozempic": the corpus's drug may help
        (0.6, ("ozempic",), True, "weak"),
        (0.3, ("ozempic",), True, "none"),
    ],
)
def test_classify(confidence, unknown, known_drug, level) -> None:
    assert classify(Evidence(confidence, unknown, known_drug), CAL) == level


def test_uncalibrated_is_never_strong() -> None:
    assert classify(Evidence(0.99), None) == "weak"
    assert classify(Evidence(None), None) == "none"


def test_drug_like_words_are_inn_stems() -> None:
    assert drug_like_words("Can I take atorvastatin with amlodipine or Ozempic?") == ["atorvastatin", "amlodipine"]
    assert drug_like_words("What are the statin side effects in the morning?") == []
    known = {"pomalidomide"}.__contains__
    assert unknown_drugs("pomalidomide or lenalidomide?", known) == ["lenalidomide"]
    assert unknown_drugs("Pomalidomide dose", lambda w: False, named=[(0, 12)]) == []


def answered(rng: random.Random, n: int, low: float, high: float, good_share: float) -> list[Answered]:
    return [Answered(rng.uniform(low, high), rng.random() < good_share) for _ in range(n)]


def test_calibrate_holds_for_every_set() -> None:
    rng = random.Random(0)
    easy = answered(rng, 500, 0.6, 1.0, 0.95)  # template questions: high scores
    hard = answered(rng, 200, 0.35, 0.9, 0.8)  # plain-language questions: lower scores
    none_below, strong_from, stats = calibrate({"easy": easy, "hard": hard})
    assert none_below <= strong_from
    for name, rows in {"easy": easy, "hard": hard}.items():
        assert sum(r.confidence < none_below for r in rows) / len(rows) <= 0.02  # each set, not the pool
        strong = [r for r in rows if r.confidence >= strong_from]
        assert sum(r.good for r in strong) / len(strong) >= 0.85
        assert stats["sets"][name]["none"] <= 0.02
    # Pooled, the easy set would set the floor for both and flag far more of the hard set.
    pooled, _, _ = calibrate({"all": easy + hard})
    assert pooled > none_below


@given(
    st.dictionaries(
        st.sampled_from(["a", "b", "c"]),
        st.lists(st.builds(Answered, st.floats(0, 1), st.booleans()), min_size=1, max_size=60),
        min_size=1,
    )
)
def test_calibrate_properties(sets) -> None:
    none_below, strong_from, _ = calibrate(sets)
    assert none_below <= strong_from
    for rows in sets.values():
        assert sum(r.confidence < none_below for r in rows) <= int(len(rows) * 0.02)
        if strong_from < NEVER_STRONG:
            strong = [r for r in rows if r.confidence >= strong_from]
            assert not strong or sum(r.good for r in strong) / len(strong) >= 0.85


def test_none_below_lies_halfway_so_rounding_cannot_flag_one_more() -> None:
    rows = [Answered(0.30 + i / 100, True) for i in range(100)]  # 0.30, 0.31, ... 0.99
    none_below, _, _ = calibrate({"set": rows})
    assert none_below == pytest.approx(0.315)  # 2 of 100 may fall below: halfway between 0.31 and 0.32
    assert sum(r.confidence < round(none_below, 2) for r in rows) == 2
    only, _, _ = calibrate({"small": rows[:10]})  # 2% of 10 is 0 questions: below the lowest
    assert only < 0.30


def test_calibrate_needs_answerable_questions() -> None:
    with pytest.raises(ValueError, match="answerable"):
        calibrate({"empty": []})


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
    assert calibration.calibrated_on["retriever"] == "multiview"
    assert all(s["none"] <= 0.02 for s in calibration.calibrated_on["sets"].values())


def test_isotonic_by_hand() -> None:
    assert isotonic([0, 1, 0, 1, 1]) == [0, 0.5, 0.5, 1, 1]
    assert isotonic([1, 0], [3, 1]) == [0.75, 0.75]
    assert isotonic([3, 1, 2]) == [2, 2, 2]
    assert isotonic([]) == []
    with pytest.raises(ValueError, match="positive weight"):
        isotonic([1, 0], [1, 0])
    with pytest.raises(ValueError, match="positive weight"):
        isotonic([1, 0], [])


@given(st.lists(st.floats(0, 1), max_size=30))
def test_isotonic_leaves_a_sorted_sequence_alone(values: list[float]) -> None:
    assert isotonic(sorted(values)) == pytest.approx(sorted(values))


@given(st.lists(st.tuples(st.sampled_from([0.0, 0.5, 1.0]), st.integers(1, 4)), max_size=12))
def test_a_weight_counts_as_that_many_copies(pairs: list[tuple[float, int]]) -> None:
    weighted = isotonic([v for v, _ in pairs], [w for _, w in pairs])
    copies = isotonic([v for v, w in pairs for _ in range(w)])
    assert [f for f, (_, w) in zip(weighted, pairs, strict=True) for _ in range(w)] == pytest.approx(copies)


@given(st.lists(st.floats(0, 1), max_size=40))
def test_isotonic_is_non_decreasing_and_keeps_the_mean(values: list[float]) -> None:
    fitted = isotonic(values)
    assert len(fitted) == len(values)
    assert all(a <= b + 1e-12 for a, b in itertools.pairwise(fitted))
    assert sum(fitted) == pytest.approx(sum(values), abs=1e-9)


def test_strong_means_right_at_that_confidence_not_only_on_average() -> None:
    """Many right answers at high confidence must not carry wrong answers at low confidence: with
    a cumulative rule alone, a threshold at the bottom would do here (overall 87% right)."""
    high = [Answered(0.8 + i / 1000, True) for i in range(90)]
    low = [Answered(0.55 + i / 1000, i % 2 == 0) for i in range(30)]  # half right
    rows = high + low
    assert sum(r.good for r in rows) / len(rows) > 0.85
    assert local_threshold(rows, 0.85) == pytest.approx(0.8)
    _, strong_from, _ = calibrate({"set": rows})
    assert strong_from == pytest.approx(0.8)


def test_answers_of_equal_confidence_are_pooled() -> None:
    rows = [Answered(0.5, False)] * 3 + [Answered(0.6, True), Answered(0.6, False)] + [Answered(0.7, True)] * 5
    assert local_threshold(rows, 0.85) == 0.7  # 0.6 is right half the time, whatever the order
    assert local_threshold(rows[::-1], 0.85) == 0.7
    assert local_threshold(rows, 0.5) == 0.6


def test_a_set_that_never_reaches_the_target_means_never_strong(tmp_path: Path) -> None:
    """No threshold is strong when one set is never precise enough, even where the other set's
    scores run past the first set's (a cosine plus margins can exceed 1), and the result loads."""
    half = [Answered(0.6 + i / 100, i % 2 == 0) for i in range(40)]  # 50% right everywhere
    sure = [Answered(0.705 + i / 100, True) for i in range(60)]  # up to 1.295
    assert local_threshold(half, 0.85) == NEVER_STRONG
    none_below, strong_from, stats = calibrate({"half": half, "sure": sure})
    assert strong_from == NEVER_STRONG and stats["sets"]["sure"]["strong"] == 0
    Calibration("m", none_below, strong_from).save(tmp_path / "c.json")
    assert Calibration.load(tmp_path / "c.json").strong_from == NEVER_STRONG
    evidence = Evidence(1.9, (), False)
    assert classify(evidence, Calibration("m", none_below, strong_from)) == "weak"
