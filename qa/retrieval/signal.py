"""The "is there a good answer?" signal: every response says ``strong``, ``weak`` or ``none``.

Confidence is the best cosine similarity between the question and what is returned (a
passage, or the question of a returned FAQ answer). Two thresholds split it: below
``none_below`` nothing returned is close enough to show as an answer (most questions the
corpus cannot answer fall there); from ``strong_from`` up, no unanswerable calibration
question comes near, and most answerable ones had a correct passage in the top 3 (see
``calibrate``).

A question that names a drug-like word (an INN stem such as -mab, -nib, -pril, -statin)
which occurs nowhere in the corpus is about a drug the corpus does not cover: its signal is
lowered one step, so it is never ``strong``.

Thresholds are calibrated on evaluation data (``qa eval --calibrate``) and stored with the
index in ``calibration.json``, tied to its model. An index without a calibration for its
model never says ``strong``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from qa.indexing.calibration import Calibration
from qa.stats import percentile

LEVELS = ("strong", "weak", "none")

# WHO INN stems of common drug classes (word endings). A general rule, not a drug list.
_INN_STEMS = (
    "mab", "nib", "tinib", "ciclib", "parib", "lisib", "zomib", "lidomide", "pril", "sartan", "olol", "dipine",
    "statin", "gliflozin", "gliptin", "glitazone", "formin", "glutide", "conazole", "azole", "mycin", "micin",
    "cillin", "cycline", "floxacin", "navir", "previr", "buvir", "ciclovir", "vudine", "tidine", "prazole",
    "setron", "triptan", "oxetine", "pramine", "triptyline", "azepam", "azolam", "barbital", "caine", "dronate",
    "parin", "xaban", "gatran", "grel", "lukast", "terol", "sonide", "olone", "nisone", "methasone", "profen",
    "fenac", "coxib", "semide", "thiazide", "afil", "lutamide", "relin", "platin", "rubicin", "taxel", "trexate",
    "mustine", "limus", "tacept", "kinra", "plase", "vaptan", "fibrate", "curium", "pamil", "zosin", "apine",
    "opram", "grelor",
)  # fmt: skip
_DRUG_LIKE = re.compile(r"\b[a-z][a-z-]{2,}(?:" + "|".join(sorted(_INN_STEMS, key=len, reverse=True)) + r")\b")


def drug_like_words(question: str) -> list[str]:
    return _DRUG_LIKE.findall(question.casefold())


def unknown_drugs(question: str, known: Callable[[str], bool], named: Iterable[tuple[int, int]] = ()) -> list[str]:
    """Drug-like words of ``question`` that the corpus never mentions (outside recognised names)."""
    spans = list(named)
    found = []
    for match in _DRUG_LIKE.finditer(question.casefold()):
        inside = any(start <= match.start() and match.end() <= end for start, end in spans)
        if not inside and not known(match.group()):
            found.append(match.group())
    return found


def classify(confidence: float | None, calibration: Calibration | None, *, unknown_drug: bool = False) -> str:
    if confidence is None:
        return "none"
    if calibration is None:
        level = "weak"
    elif confidence >= calibration.strong_from:
        level = "strong"
    elif confidence >= calibration.none_below:
        level = "weak"
    else:
        level = "none"
    if unknown_drug:
        level = LEVELS[min(LEVELS.index(level) + 1, len(LEVELS) - 1)]
    return level


def calibrate(
    good: Sequence[float],
    wrong: Sequence[float],
    unanswerable: Sequence[float],
    *,
    target_precision: float = 0.85,
    margin: float = 0.05,
) -> tuple[float, float, dict[str, Any]]:
    """Thresholds from three sets of confidences: answerable questions with a correct passage in
    the top 3 (``good``), answerable ones without (``wrong``), and ``unanswerable`` questions.

    ``none_below`` = min(95th percentile of unanswerable, 5th percentile of good): most
    unanswerable questions come back ``none``, and at most 5% of good answers do.
    ``strong_from`` = the lowest threshold, at least ``margin`` above every unanswerable
    question, at and above which good answers make up ``target_precision`` of the answerable
    questions. Cosine similarity separates "covered / not covered" far better than it separates
    a right section from a neighbouring one, so ``strong`` promises coverage first."""
    if not good or not unanswerable:
        raise ValueError("calibration needs well-answered questions and unanswerable ones")
    none_below = min(percentile(list(unanswerable), 95), percentile(list(good), 5))
    floor = max(none_below, max(unanswerable) + margin)
    strong_from = 1.01  # never strong unless some threshold meets both conditions
    for threshold in sorted(c for c in {*good, *wrong} if c >= floor):
        above_good = sum(1 for c in good if c >= threshold)
        above_wrong = sum(1 for c in wrong if c >= threshold)
        if above_good and above_good / (above_good + above_wrong) >= target_precision:
            strong_from = threshold
            break

    def share(values: Sequence[float], test: Callable[[float], bool]) -> float:
        return round(sum(1 for c in values if test(c)) / len(values), 4) if values else 0.0

    stats = {
        "good": len(good),
        "wrong": len(wrong),
        "unanswerable": len(unanswerable),
        "target_precision": target_precision,
        "margin": margin,
        "good_strong": share(good, lambda c: c >= strong_from),
        "good_none": share(good, lambda c: c < none_below),
        "wrong_strong": share(wrong, lambda c: c >= strong_from),
        "unanswerable_none": share(unanswerable, lambda c: c < none_below),
        "unanswerable_strong": share(unanswerable, lambda c: c >= strong_from),
    }
    return none_below, strong_from, stats  # unrounded: rounding up could break the guarantees
