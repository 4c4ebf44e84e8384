"""Print one Markdown table from several `qa eval` report directories: section Hit@1, R@5,
MRR@10, document Hit@1, latency p50 and the match signal, one row per run and retriever.

    python eval/table.py eval/reports/<run> [eval/reports/<run> ...] [--retrievers dense,multiview]
    python eval/table.py --by-run eval/reports/<run> ...   # one row per retriever, one column per run:
                                                            # section Hit@1 / MRR@10, and MRR@10 against --against
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

KINDS = ("absent-drug", "off-topic", "covered-drug-uncovered-topic")  # eval/unanswerable.jsonl's categories


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def rows(report: Path, wanted: list[str] | None) -> list[str]:
    metrics = json.loads((report / "metrics.json").read_text(encoding="utf-8"))
    out = []
    for name, m in metrics["retrievers"].items():
        if wanted and name not in wanted:
            continue
        section, doc, match = m["section"], m["doc"], m["match"]
        answerable = match["answerable"]
        cells = [
            metrics["name"],
            name,
            str(m["questions"]),
            f"{section['hit@1']:.3f}",
            f"{section['recall@5']:.3f}",
            f"{section['mrr@10']:.3f}",
            f"{doc['hit@1']:.3f}",
            f"{m['latency_ms']['p50']:.1f}",
            " / ".join(pct(answerable[level]) for level in ("strong", "weak", "none")),
        ]
        categories = match.get("unanswerable_by_category", {})
        for category in KINDS:
            shares = categories.get(category)
            cells.append(" / ".join(pct(shares[lv]) for lv in ("strong", "weak", "none")) if shares else "—")
        others = [
            f"{name} ({shares['questions']}): " + " / ".join(pct(shares[lv]) for lv in ("strong", "weak", "none"))
            for name, shares in categories.items()
            if name not in KINDS
        ]  # a set's own negatives, named by their category (or their file)
        cells.append("; ".join(others) or "—")
        out.append("| " + " | ".join(cells) + " |")
    return out


def by_run(reports: list[Path], wanted: list[str] | None, against: str) -> None:
    """Retrievers down, runs across: Hit@1 / MRR@10, and the MRR@10 difference to ``against``."""
    runs = [json.loads((r / "metrics.json").read_text(encoding="utf-8")) for r in reports]
    names = list(dict.fromkeys(n for m in runs for n in m["retrievers"] if not wanted or n in wanted))
    print("| retriever | " + " | ".join(m["name"] for m in runs) + " |")
    print("|" + "---|" * (len(runs) + 1))
    for name in names:
        cells = []
        for m in runs:
            r, base = m["retrievers"].get(name), m["retrievers"].get(against)
            if r is None:
                cells.append("—")
                continue
            cell = f"{r['section']['hit@1']:.3f} / {r['section']['mrr@10']:.3f}"
            if base is not None and name != against:
                cell += f" ({r['section']['mrr@10'] - base['section']['mrr@10']:+.3f})"
            cells.append(cell)
        print(f"| {name} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("reports", nargs="+", type=Path)
    parser.add_argument("--retrievers", help="comma-separated retrievers to show (default: all)")
    parser.add_argument("--by-run", action="store_true", help="retrievers down, runs across (ablations)")
    parser.add_argument("--against", default="multiview", help="with --by-run: MRR@10 differences to this retriever")
    args = parser.parse_args()
    wanted = args.retrievers.split(",") if args.retrievers else None
    if args.by_run:
        by_run(args.reports, wanted, args.against)
        return
    header = [
        "run", "retriever", "questions", "Hit@1", "R@5", "MRR@10", "doc Hit@1", "p50 ms",
        "answerable s/w/n", "absent drug s/w/n", "off-topic s/w/n", "covered drug, other topic s/w/n",
        "other negatives s/w/n",
    ]  # fmt: skip
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for report in args.reports:
        print("\n".join(rows(report, wanted)))


if __name__ == "__main__":
    main()
