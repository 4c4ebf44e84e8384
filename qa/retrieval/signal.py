"""The "is there a good answer?" signal: every response says ``strong``, ``weak`` or ``none``.

**Confidence** is the default retriever's score (``qa.retrieval.multiview``) of the best of the top
three passages, for the question as written: its cosine, plus the margin by which its heading line
beats the runner-up passage text; for an FAQ answer, the cosine between the question and the FAQ's
question. The same evidence is used whatever the retrieval mode. A passage whose heading names what
was asked scores high even for a short question.

**Drugs the corpus lacks.** A question naming a drug the corpus never mentions (a word with a
WHO INN stem such as -statin or -mab, or a name from the drug dictionary the index was built
with, brand names included) is about something the service cannot answer for: ``none`` when it
names no drug the corpus has, at most ``weak`` when it also names one ("pomalidomide with X").

**Thresholds**, stored with the index in ``calibration.json`` and tied to its model: below
``none_below`` nothing returned is close enough to show; from ``strong_from`` up, most answers
have a correct passage in the top 3. They are set from answerable questions only (``calibrate``):
``none_below`` so that at most 2% of the answerable questions of *each* calibration set fall
below it (halfway to the next question up, so rounding cannot add one), ``strong_from`` as the
lowest value from which, in each set, an answer *at that confidence* has a correct passage in the
top 3 with probability 0.85 (an isotonic fit of rightness on confidence) and 85% of the answers
above it do.
Questions the corpus cannot answer are never used to set them: they are what the thresholds are
tested on. An index without a calibration for its model
never says ``strong``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from qa.indexing.calibration import NEVER_STRONG, Calibration

LEVELS = ("strong", "weak", "none")
MARGIN = 0.005  # below the lowest answerable confidence when no question may come back none

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


@dataclass(frozen=True)
class Evidence:
    confidence: float | None  # the default's score of the best of the top 3 (or an FAQ question's cosine)
    unknown_drugs: tuple[str, ...] = ()  # drug names the corpus never mentions
    names_known_drug: bool = False  # the question also names a drug the corpus has


def classify(evidence: Evidence, calibration: Calibration | None) -> str:
    confidence = evidence.confidence
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
    if evidence.unknown_drugs:
        level = "weak" if evidence.names_known_drug and level != "none" else "none"
    return level


@dataclass(frozen=True)
class Answered:
    """One answerable calibration question: its confidence, and whether a correct passage was in the top 3."""

    confidence: float
    good: bool


def isotonic(values: Sequence[float], weights: Sequence[float] | None = None) -> list[float]:
    """The non-decreasing sequence closest to ``values`` in weighted squared error (pool adjacent
    violators). Weights must be positive; by default every value weighs 1."""
    weights = [1.0] * len(values) if weights is None else [float(w) for w in weights]
    if len(weights) != len(values) or any(w <= 0 for w in weights):
        raise ValueError("isotonic: one positive weight per value")
    blocks: list[list[float]] = []  # [weighted sum, total weight, how many values]
    for value, weight in zip(values, weights, strict=True):
        blocks.append([value * weight, weight, 1])
        while len(blocks) > 1 and blocks[-2][0] * blocks[-1][1] > blocks[-1][0] * blocks[-2][1]:
            total, weight_sum, count = blocks.pop()
            blocks[-1][0] += total
            blocks[-1][1] += weight_sum
            blocks[-1][2] += count
    return [total / weight_sum for total, weight_sum, count in blocks for _ in range(int(count))]


def local_threshold(rows: Sequence[Answered], target: float) -> float:
    """The lowest confidence from which an answer is right with probability ``target``, by the
    isotonic fit of rightness on confidence (answers of equal confidence pooled first);
    ``NEVER_STRONG`` when none is."""
    by_confidence: dict[float, list[bool]] = {}
    for row in rows:
        by_confidence.setdefault(row.confidence, []).append(row.good)
    levels = sorted(by_confidence)
    fitted = isotonic(
        [sum(by_confidence[c]) / len(by_confidence[c]) for c in levels], [len(by_confidence[c]) for c in levels]
    )
    return next((c for c, p in zip(levels, fitted, strict=True) if p >= target), NEVER_STRONG)


def calibrate(
    sets: Mapping[str, Sequence[Answered]], *, target_precision: float = 0.85, none_share: float = 0.02
) -> tuple[float, float, dict[str, Any]]:
    """Thresholds from answerable questions of one or more sets (each set must hold for itself).

    ``none_below``: the lowest of the sets' ``none_share`` percentiles (at most 2% of any set's
    answerable questions come back ``none``). ``strong_from``: the lowest threshold (at least
    ``none_below``) from which, in every set, an answer is right (a correct passage in the top 3)
    with probability ``target_precision`` *at that confidence*, by an isotonic fit of rightness on
    confidence (``isotonic``); and above which, in every set, ``target_precision`` of the answers
    are right. The first condition is what "strong" promises a reader of one answer: without it,
    many right answers at high confidence would let wrong answers at low confidence pass."""
    usable = {name: list(rows) for name, rows in sets.items() if rows}
    if not usable:
        raise ValueError("calibration needs answerable questions from at least one evaluation run")

    def floor(rows: list[Answered]) -> float:
        """Halfway between the k-th and (k+1)-th lowest confidence, k = the most that may fall
        below (so that rounding the threshold or the stored confidences cannot push one more
        question under it); under the lowest when none may."""
        ordered = sorted(r.confidence for r in rows)
        k = min(len(ordered) - 1, int(len(ordered) * none_share))
        return (ordered[k - 1] + ordered[k]) / 2 if k else ordered[0] - MARGIN

    none_below = min(floor(rows) for rows in usable.values())

    def precise_at(rows: list[Answered], threshold: float) -> bool:
        above = [r.good for r in rows if r.confidence >= threshold]
        return not above or sum(above) / len(above) >= target_precision

    # The local condition holds from each set's own threshold up (the fit does not decrease), so
    # the sets combine by the highest of them. The cumulative one need not grow with the
    # threshold, so it is checked at each candidate for every set. A set with no answer left
    # above a threshold has no strong answer there; if some set never reaches the target, no
    # threshold is strong (``NEVER_STRONG``).
    start = max([none_below] + [local_threshold(rows, target_precision) for rows in usable.values()])
    candidates = sorted({r.confidence for rows in usable.values() for r in rows if r.confidence >= start})
    strong_from = next(
        (t for t in candidates if t < NEVER_STRONG and all(precise_at(rows, t) for rows in usable.values())),
        NEVER_STRONG,
    )
    stats: dict[str, Any] = {"target_precision": target_precision, "none_share": none_share, "sets": {}}
    for name, rows in usable.items():
        strong = [r for r in rows if r.confidence >= strong_from]
        stats["sets"][name] = {
            "answerable": len(rows),
            "none": round(sum(r.confidence < none_below for r in rows) / len(rows), 4),
            "strong": round(len(strong) / len(rows), 4),
            "strong_correct@3": round(sum(r.good for r in strong) / len(strong), 4) if strong else None,
        }
    return none_below, strong_from, stats  # unrounded: rounding could break the guarantees
