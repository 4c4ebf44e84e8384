"""Match-signal thresholds from evaluation runs: the answerable questions of one or more runs
(a run in memory, or a report directory written by ``qa eval``), one retriever's outcomes each.
See ``qa.retrieval.signal.calibrate`` for the rule; unanswerable questions are never used."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from qa.errors import ConfigError
from qa.evaluation.runs import EvalRun
from qa.indexing.calibration import Calibration
from qa.retrieval.signal import Answered, calibrate

GOOD_WITHIN = 3  # a question is answered well when a correct passage is in the top 3


def answered_in_run(run: EvalRun, retriever: str) -> list[Answered]:
    report = next((r for r in run.reports if r.name == retriever), None)
    if report is None:
        raise ConfigError(f"the run has no {retriever!r} retriever; add --retriever {retriever}")
    return [
        Answered(o.confidence, (o.section_rank or 99) <= GOOD_WITHIN)
        for o in report.outcomes
        if o.confidence is not None
    ]


def answered_in_report(directory: Path, retriever: str) -> tuple[list[Answered], str, str]:
    """A report directory's answerable questions for ``retriever``, its run's name, and its model."""
    directory = Path(directory)
    try:
        metrics = json.loads((directory / "metrics.json").read_text(encoding="utf-8"))
        lines = (directory / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{directory} is not a `qa eval` report directory ({exc}); pass eval/reports/<run>") from None
    rows = [json.loads(line) for line in lines if line.strip()]
    answered = [
        Answered(row["confidence"], (row["section_rank"] or 99) <= GOOD_WITHIN)
        for row in rows
        if row["retriever"] == retriever and row["answerable"] and row["confidence"] is not None
    ]
    if not answered:
        found = sorted({row["retriever"] for row in rows})
        raise ConfigError(f"{directory} has no answerable questions for {retriever!r} (it has {', '.join(found)})")
    return answered, str(metrics["name"]), str(metrics["index"]["model"])


def calibration_for(
    sets: Mapping[str, Sequence[Answered]], model_id: str, retriever: str, sources: Mapping[str, str]
) -> Calibration:
    none_below, strong_from, stats = calibrate(sets)
    return Calibration(
        model_id=model_id,
        none_below=none_below,
        strong_from=strong_from,
        feature=(
            "the default retriever's score (cosine + heading margin) of the best of the top 3 results "
            "(an FAQ answer: its question's cosine)"
        ),
        calibrated_on={"retriever": retriever, "sources": dict(sources), **stats},
    )
