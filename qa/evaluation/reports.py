"""Write an evaluation run to ``<reports>/<timestamp>-<name>/``: ``metrics.json``,
``report.md``, ``recall_at_k.png`` and ``questions.jsonl`` (one line per question and
retriever, for comparing runs); and format its summary tables for the terminal."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

from qa.evaluation.metrics import KS
from qa.evaluation.runs import EvalRun, Outcome
from qa.text import join_path

SECTION_COLUMNS = ["hit@1", *[f"recall@{k}" for k in KS], "mrr@10", "ndcg@10"]


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows]
    return [line, rule, *body]


def summary_tables(run: EvalRun) -> str:
    """Section-level, document-level, and latency/length tables, one row per retriever."""
    out = []
    for level in ("section", "doc"):
        rows = []
        for report in run.reports:
            metrics = report.metrics()[level]
            rows.append([report.name, *(f"{metrics[c]:.3f}" for c in SECTION_COLUMNS)])
        out += [f"{'Section' if level == 'section' else 'Document'}-level ({len(run.reports[0].outcomes)} questions)"]
        out += [*_table(["retriever", *SECTION_COLUMNS], rows), ""]
    rows = []
    for report in run.reports:
        m = report.metrics()
        rows.append(
            [
                report.name,
                f"{m['latency_ms']['p50']:.1f}",
                f"{m['latency_ms']['p95']:.1f}",
                f"{m['mean_passage_chars']:.0f}",
            ]
        )
    out += _table(["retriever", "latency p50 ms", "latency p95 ms", "mean passage chars (top 10)"], rows)
    out += ["", "Match signal (strong / weak / none)"]
    rows = []
    for report in run.reports:
        m = report.match_metrics()
        answerable, negatives = m["answerable"], m["unanswerable"]

        def pct(value: float | None) -> str:
            return "—" if value is None else f"{value:.0%}"

        rows.append(
            [
                report.name,
                " / ".join(pct(answerable[level]) for level in ("strong", "weak", "none")),
                f"{pct(m['strong_correct@1'])} / {pct(m['strong_correct@3'])}",
                " / ".join(pct(negatives[level]) for level in ("strong", "weak", "none")) if negatives else "—",
            ]
        )
    headers = [
        "retriever",
        "answerable: strong/weak/none",
        "strong ones correct @1/@3",
        "unanswerable: strong/weak/none",
    ]
    out += _table(headers, rows)
    rows = [
        [
            report.name,
            category,
            str(shares["questions"]),
            *(f"{shares[level]:.0%}" for level in ("strong", "weak", "none")),
        ]
        for report in run.reports
        for category, shares in report.match_metrics()["unanswerable_by_category"].items()
    ]
    if rows:
        out += ["", "Questions the corpus cannot answer, by category"]
        out += _table(["retriever", "category", "questions", "strong", "weak", "none"], rows)
    return "\n".join(out)


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _gold_text(outcome: Outcome) -> str:
    return "; ".join(f"{g.doc} › {g.section}" for g in outcome.item.golds)


def _returned_text(outcome: Outcome, n: int = 3) -> str:
    parts = []
    for r in outcome.returned[:n]:
        mark = "✓" if r.section_ok else ("doc ✓" if r.doc_ok else "✗")
        parts.append(f"{r.doc_id}: {join_path(r.heading_path[1:]) or '(top)'} ({r.score:.3f}, {mark})")
    return "<br>".join(_cell(p) for p in parts) or "(nothing)"


def report_markdown(run: EvalRun, chart_name: str = "recall_at_k.png") -> str:
    m = run.metrics()
    idx, ev = m["index"], m["eval"]
    lines = [
        f"# Retrieval evaluation: {run.name}",
        "",
        f"- started {run.started_at}, {run.seconds:.1f} s",
        f"- corpus `{run.corpus_dir}`; index `{idx['path']}` ({idx['documents']} documents, {idx['chunks']} chunks, "
        f"model `{idx['model']}`, fingerprint `{idx['fingerprint'][:12]}`, chunking `{idx['chunking']}`)"
        + (f"; {idx['note']}" if idx["note"] else ""),
        f"- gold set `{ev['source']}`: {ev['items_in_file']} lines, {ev['scored']} questions scored, "
        f"{len(ev['not_answerable_from_body'])} not answerable from the body, {len(ev['problems'])} problems"
        + (" (held out: FAQ content is not in the index)" if run.held_out else ""),
        f"- selection: {ev['selection']}",
        "",
        "Recall@k is the share of questions with a correct passage in the top k (any gold counts); "
        "MRR@10 and nDCG@10 use the rank of the first correct passage. The match signal uses the index's "
        f"calibration ({run.calibration and {k: run.calibration[k] for k in ('none_below', 'strong_from')}}); "
        f"unanswerable questions: {ev.get('negatives') or 'none given'}.",
        "",
        summary_tables(run),
        "",
        f"![Recall@k per retriever]({chart_name})",
        "",
    ]
    for report in run.reports:
        by_qtype = report.by_qtype()
        if by_qtype:
            lines += [f"## By question type: {report.name}", ""]
            rows = [
                [q, str(v["questions"]), f"{v['section']['recall@5']:.3f}", f"{v['section']['mrr@10']:.3f}",
                 f"{v['doc']['recall@5']:.3f}", f"{v['doc']['mrr@10']:.3f}"]
                for q, v in by_qtype.items()
            ]  # fmt: skip
            lines += [*_table(["qtype", "n", "section R@5", "section MRR@10", "doc R@5", "doc MRR@10"], rows), ""]
    if ev["not_answerable_from_body"]:
        lines += ["## Not answerable from the body (not scored)", ""]
        lines += [f"- `{i['id']}`: {i['question']}" for i in ev["not_answerable_from_body"]] + [""]
    if ev["problems"]:
        lines += [f"## Problems in the gold set ({len(ev['problems'])})", ""]
        lines += [f"- {p}" for p in run.problems[:50]]
        lines += [f"- … and {len(run.problems) - 50} more (metrics.json lists all)"] if len(run.problems) > 50 else []
        lines += [""]
    for report in run.reports:
        worst = report.worst(20)
        lines += [f"## Worst misses: {report.name} ({len(worst)} shown)", ""]
        rows = [
            [_cell(o.item.question), _cell(_gold_text(o)), str(o.section_rank or "—"), _returned_text(o)] for o in worst
        ]
        lines += [*_table(["question", "gold", "rank", "returned (top 3)"], rows), ""]
    return "\n".join(lines)


def write_chart(run: EvalRun, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    for report in run.reports:
        metrics = report.metrics()
        (line,) = ax.plot(
            KS, [metrics["section"][f"recall@{k}"] for k in KS], marker="o", label=f"{report.name} section"
        )
        ax.plot(KS, [metrics["doc"][f"recall@{k}"] for k in KS], marker=".", linestyle="--",
                color=line.get_color(), label=f"{report.name} document")  # fmt: skip
    ax.set_xticks(KS)
    ax.set_xlabel("k")
    ax.set_ylabel("Recall@k")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.set_title(f"{run.name}: {len(run.reports[0].outcomes)} questions")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _question_rows(run: EvalRun) -> list[dict[str, Any]]:
    rows = []
    for report in run.reports:
        for o in [*report.outcomes, *report.negatives]:
            rows.append(
                {
                    "retriever": report.name,
                    "id": o.item.id,
                    "question": o.item.question,
                    "answerable": o.item.answerable,
                    "qtype": o.item.qtype,
                    "section_rank": o.section_rank,
                    "doc_rank": o.doc_rank,
                    "confidence": None if o.confidence is None else round(o.confidence, 4),
                    "match": o.match,
                    "latency_ms": round(o.latency_ms, 3),
                    "top": [
                        {"doc": r.doc_id, "path": list(r.heading_path), "score": round(r.score, 4), "ok": r.section_ok}
                        for r in o.returned[:3]
                    ],
                }
            )
    return rows


def write_report(run: EvalRun, reports_root: Path) -> Path:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    base = Path(reports_root) / f"{stamp}-{re.sub(r'[^A-Za-z0-9._-]+', '-', run.name)}"
    base.parent.mkdir(parents=True, exist_ok=True)
    target, n = base, 1
    while True:  # two runs within one second get -2, -3, ...
        try:
            target.mkdir()
            break
        except FileExistsError:
            n += 1
            target = base.with_name(f"{base.name}-{n}")
    (target / "metrics.json").write_text(json.dumps(run.metrics(), indent=2, ensure_ascii=False) + "\n")
    (target / "report.md").write_text(report_markdown(run) + "\n", encoding="utf-8")
    with (target / "questions.jsonl").open("w", encoding="utf-8") as handle:
        for row in _question_rows(run):
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    write_chart(run, target / "recall_at_k.png")
    return target
