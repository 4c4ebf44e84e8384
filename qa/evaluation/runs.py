"""Evaluation runs: score one or more retrievers on a gold set, question by question.

For each question the top ``DEPTH`` passages are judged at section and document level
(see ``qa.evaluation.goldsets``); metrics come from ``qa.evaluation.metrics``. Besides the metrics, a run keeps
what was returned for every question (for the report's worst misses and for diffs between
runs), the retrieval latency, and the mean length of the returned passages, because a
long passage overlaps more sections and section metrics alone reward big chunks.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import statistics
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from qa.evaluation.goldsets import EvalItem, GoldIndex, Problem, judge
from qa.evaluation.metrics import DEPTH, first_relevant_rank, mean_metrics, rank_metrics
from qa.retrieval.registry import Retriever
from qa.retrieval.searcher import Searcher
from qa.retrieval.signal import classify
from qa.stats import percentile


@dataclass(frozen=True)
class Returned:
    chunk_id: str
    doc_id: str
    heading_path: tuple[str, ...]
    score: float
    chars: int
    section_ok: bool
    doc_ok: bool


@dataclass(frozen=True)
class Outcome:
    item: EvalItem
    returned: tuple[Returned, ...]
    latency_ms: float
    confidence: float | None = None
    match: str = "weak"

    @property
    def section_rank(self) -> int | None:
        return first_relevant_rank([r.section_ok for r in self.returned])

    @property
    def doc_rank(self) -> int | None:
        return first_relevant_rank([r.doc_ok for r in self.returned])


def _summary(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    return {
        "questions": len(outcomes),
        "section": mean_metrics([rank_metrics(o.section_rank) for o in outcomes]),
        "doc": mean_metrics([rank_metrics(o.doc_rank) for o in outcomes]),
    }


@dataclass
class RetrieverReport:
    name: str
    outcomes: list[Outcome]
    negatives: list[Outcome] = field(default_factory=list)  # questions the corpus cannot answer

    def metrics(self) -> dict[str, Any]:
        latencies = [o.latency_ms for o in self.outcomes]
        chars = [r.chars for o in self.outcomes for r in o.returned]
        return {
            **_summary(self.outcomes),
            "latency_ms": {"p50": percentile(latencies, 50), "p95": percentile(latencies, 95)},
            "mean_passage_chars": statistics.fmean(chars) if chars else 0.0,
            "match": self.match_metrics(),
        }

    def match_metrics(self) -> dict[str, Any]:
        """How precise the strong/weak/none signal is on these questions."""

        def shares(outcomes: Sequence[Outcome]) -> dict[str, float]:
            n = len(outcomes) or 1
            return {level: sum(o.match == level for o in outcomes) / n for level in ("strong", "weak", "none")}

        strong = [o for o in self.outcomes if o.match == "strong"]
        out: dict[str, Any] = {"answerable": shares(self.outcomes)}
        for k in (1, 3):
            good = sum(1 for o in strong if o.section_rank is not None and o.section_rank <= k)
            out[f"strong_correct@{k}"] = good / len(strong) if strong else None
        out["unanswerable"] = {"questions": len(self.negatives), **shares(self.negatives)} if self.negatives else None
        categories: dict[str, list[Outcome]] = defaultdict(list)
        for outcome in self.negatives:
            categories[str(outcome.item.extra.get("category", "uncategorised"))].append(outcome)
        out["unanswerable_by_category"] = {
            name: {"questions": len(group), **shares(group)} for name, group in sorted(categories.items())
        }
        return out

    def by_qtype(self) -> dict[str, dict[str, Any]]:
        groups: dict[str, list[Outcome]] = defaultdict(list)
        for outcome in self.outcomes:
            if outcome.item.qtype is not None:
                groups[outcome.item.qtype].append(outcome)
        return {qtype: _summary(group) for qtype, group in sorted(groups.items(), key=lambda kv: -len(kv[1]))}

    def worst(self, n: int = 20) -> list[Outcome]:
        """Misses first, the most confidently wrong (highest top score) first; then the lowest ranks."""

        def badness(o: Outcome) -> tuple[int, float]:
            rank = o.section_rank
            top = o.confidence if o.confidence is not None else 0.0
            return (0, -top) if rank is None else (1, -rank)

        return sorted((o for o in self.outcomes if o.section_rank != 1), key=badness)[:n]


def select(items: list[EvalItem], *, sample: int | None, seed: int, limit: int | None) -> list[EvalItem]:
    """``sample`` questions drawn with ``seed`` (kept in file order), then the first ``limit``."""
    if sample is not None and sample < len(items):
        chosen = set(random.Random(seed).sample(range(len(items)), sample))
        items = [item for i, item in enumerate(items) if i in chosen]
    return items[:limit] if limit is not None else items


def _outcome(searcher: Searcher, retriever: Retriever, item: EvalItem, depth: int) -> Outcome:
    started = time.perf_counter()
    query = retriever.prepare(item.question)
    hits = retriever.search(query, depth)
    latency = (time.perf_counter() - started) * 1000
    returned = []
    for hit in hits:
        # A collapsed result shows every place its text is written: it is correct if any place is.
        verdicts = [judge(place, item.golds) for place in hit.places]
        c = hit.chunk
        returned.append(
            Returned(
                c.id, c.doc_id, c.heading_path, hit.score, len(c.text),
                any(v[0] for v in verdicts), any(v[1] for v in verdicts),
            )
        )  # fmt: skip
    evidence = searcher.evidence(query, hits)
    match = classify(evidence, searcher.index.calibration)
    return Outcome(item, tuple(returned), latency, evidence.confidence, match)


def evaluate(
    searcher: Searcher,
    items: Sequence[EvalItem],
    retrievers: Mapping[str, Retriever],
    *,
    negatives: Sequence[EvalItem] = (),
    depth: int = DEPTH,
    progress: bool = False,
) -> list[RetrieverReport]:
    """Every retriever on every question. Question by question, each retriever in turn (the order
    rotating), so that the latencies of the retrievers are measured side by side over the same
    stretch of time, not in separate stretches of a shared, noisy machine."""
    queue: Any = [*items, *negatives]
    if progress:
        from tqdm import tqdm

        queue = tqdm(queue, desc=f"Evaluating {len(retrievers)} retriever(s)", unit="question")
    named = list(retrievers.items())
    outcomes: dict[str, list[Outcome]] = {name: [] for name, _ in named}
    for i, item in enumerate(queue):
        shift = i % len(named) if named else 0
        for name, retriever in named[shift:] + named[:shift]:
            outcomes[name].append(_outcome(searcher, retriever, item, depth))
    return [RetrieverReport(name, done[: len(items)], done[len(items) :]) for name, done in outcomes.items()]


@dataclass
class EvalRun:
    name: str
    corpus_dir: str
    index_dir: str
    manifest: dict[str, Any]
    eval_source: str
    held_out: bool
    items_in_file: int
    problems: list[Problem]
    unanswerable: list[EvalItem]
    reports: list[RetrieverReport]
    selection: dict[str, Any]
    seconds: float = 0.0
    index_note: str = ""
    calibration: dict[str, Any] | None = None
    started_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))

    def metrics(self) -> dict[str, Any]:
        """Everything metrics.json holds (not the per-question outcomes)."""
        return {
            "name": self.name,
            "started_at": self.started_at,
            "seconds": round(self.seconds, 2),
            "corpus": self.corpus_dir,
            "index": {
                "path": self.index_dir,
                "model": self.manifest["model"]["id"],
                "chunks": self.manifest["counts"]["chunks"],
                "documents": self.manifest["counts"]["documents"],
                "fingerprint": self.manifest["corpus"]["fingerprint"],
                "chunking": self.manifest["chunking"],
                "note": self.index_note,
                "calibration": self.calibration,
            },
            "eval": {
                "source": self.eval_source,
                "held_out": self.held_out,
                "items_in_file": self.items_in_file,
                "scored": len(self.reports[0].outcomes) if self.reports else 0,
                "not_answerable_from_body": [{"id": i.id, "question": i.question} for i in self.unanswerable],
                "problems": [{"line": p.line, "id": p.item_id, "message": p.message} for p in self.problems],
                "selection": self.selection,
                "negatives": len(self.reports[0].negatives) if self.reports else 0,
            },
            "retrievers": {r.name: {**r.metrics(), "by_qtype": r.by_qtype()} for r in self.reports},
        }


def run_evaluation(
    searcher: Searcher,
    items: list[EvalItem],
    problems: list[Problem],
    retrievers: Mapping[str, Retriever],
    *,
    negatives: Sequence[EvalItem] = (),
    name: str,
    eval_source: str,
    held_out: bool,
    corpus_dir: str,
    sample: int | None = None,
    seed: int = 0,
    limit: int | None = None,
    progress: bool = False,
    index_note: str = "",
) -> EvalRun:
    started = time.perf_counter()
    index = searcher.index
    checked, gold_problems = GoldIndex.from_records(index.documents).check(items)
    unanswerable = [item for item in checked if not item.answerable]
    scorable = select([item for item in checked if item.answerable], sample=sample, seed=seed, limit=limit)
    reports = evaluate(searcher, scorable, retrievers, negatives=negatives, progress=progress)
    return EvalRun(
        name=name,
        corpus_dir=corpus_dir,
        index_dir=str(index.path),
        manifest=index.manifest,
        eval_source=eval_source,
        held_out=held_out,
        items_in_file=len(items) + len(problems),
        problems=problems + gold_problems,
        unanswerable=unanswerable,
        reports=reports,
        selection={"sample": sample, "seed": seed if sample is not None else None, "limit": limit},
        seconds=time.perf_counter() - started,
        index_note=index_note,
        calibration=None if index.calibration is None else asdict(index.calibration),
    )


def eval_index_dir(index_root: Path, corpus_dir: Path, held_out: bool) -> Path:
    """Where the evaluation index of a corpus lives: one per corpus directory and FAQ mode."""
    resolved = Path(corpus_dir).resolve()
    digest = hashlib.sha1(str(resolved).encode()).hexdigest()[:8]
    return Path(index_root) / "eval" / f"{resolved.name}-{digest}-{'heldout' if held_out else 'full'}"
