"""Probe (not a feature): can simple evidence tell a covered drug's uncovered topic ("what if i
miss a dose of pomalidomid") from the questions the documents do answer?

For every answerable question of a ``qa eval`` run (``multiview``, its per-question rightness) and
every covered-drug-uncovered-topic negative, asked again on the same index:

- **uncovered words**: question words (bm25s stems; scikit-learn's English stop words and the
  recognised drug names removed) that the answering document never uses, with IDF over documents
  of at least ``--idf``;
- **text cosine behind the confidence**: the chunk cosine of the top-3 passage whose multi-view
  score is the confidence, against floors for ``strong``.

    python eval/probe_topic_coverage.py --index index/eval/consumer-onnx \\
        --report eval/reports/<a multiview run on eval/consumer.jsonl with --held-out>

The README ("Tried and dropped") gives what it printed.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

from qa.indexing.bm25 import tokenize
from qa.indexing.chunking import chunk_embedding_text
from qa.retrieval.searcher import SIGNAL_VIEWS
from qa.serving.service import QAService
from qa.settings import load_settings

NEGATIVES = Path(__file__).resolve().parent / "unanswerable.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--report", type=Path, required=True, help="a qa eval run directory (multiview)")
    parser.add_argument("--idf", type=float, default=3.0)
    args = parser.parse_args()
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    service = QAService.open(load_settings(index_dir=args.index))
    searcher = service.searcher
    doc_words: dict[str, set[str]] = {}
    chunks = searcher.index.chunks
    for chunk, words in zip(chunks, tokenize([chunk_embedding_text(c) for c in chunks]), strict=True):
        doc_words.setdefault(chunk.doc_id, set()).update(words)
    frequency: dict[str, int] = {}
    for words in doc_words.values():
        for word in words:
            frequency[word] = frequency.get(word, 0) + 1
    stop = set(ENGLISH_STOP_WORDS) | set(tokenize([" ".join(ENGLISH_STOP_WORDS)])[0])

    rows = [json.loads(line) for line in (args.report / "questions.jsonl").read_text().splitlines()]
    asked = [
        (r["question"], (r["section_rank"] or 99) <= 3)
        for r in rows
        if r["retriever"] == "multiview" and r["answerable"]
    ]
    negatives = [json.loads(line) for line in NEGATIVES.read_text().splitlines() if line.strip()]
    asked += [(n["question"], None) for n in negatives if n["category"] == "covered-drug-uncovered-topic"]

    results = []
    for question, good in asked:
        answer = service.ask(question, 5)
        query = searcher.prepare(question)
        spans = [(m.start, m.end) for m in answer.mentions]
        asked_text = answer.question  # the offsets of the recognised names refer to it
        masked = "".join(" " if any(s <= i < e for s, e in spans) else ch for i, ch in enumerate(asked_text))
        words = {w for w in tokenize([masked])[0] if w not in stop and not w.isdigit()}
        top = [h for h in answer.hits[:3] if h.kind != "faq"]
        known = doc_words.get(top[0].chunk.doc_id, set()) if top else set()
        uncovered = [
            w for w in words if w not in known and math.log(len(doc_words) / (frequency.get(w, 0) + 1)) >= args.idf
        ]
        cosine = None
        if top:
            chunk_rows = np.array([searcher.row_of[h.chunk.id] for h in top])
            best = int(np.argmax(searcher.view_scores(query, chunk_rows, SIGNAL_VIEWS)))
            cosine = float(searcher.cosines(query)[chunk_rows[best]])
        results.append((question, good, answer.match, uncovered, cosine))

    answerable = [r for r in results if r[1] is not None]
    negative = [r for r in results if r[1] is None]
    print(f"uncovered words (IDF >= {args.idf}): negatives {sum(bool(r[3]) for r in negative)} of {len(negative)}, "
          f"answerable {sum(bool(r[3]) for r in answerable)} of {len(answerable)}")  # fmt: skip
    strong = [r for r in answerable if r[2] == "strong" and r[4] is not None]
    right = [r[4] for r in strong if r[1]]
    quartile = f"{np.percentile(right, 25):.3f}" if right else "-"
    print(f"strong answerable: {len(strong)}, right (a correct passage in the top 3): {len(right)}; "
          f"first quartile of the right ones' text cosine {quartile}")  # fmt: skip
    negative = [r for r in negative if r[4] is not None or r[2] != "strong"]  # an FAQ answer has no chunk cosine
    for question, _, match, _, cosine in negative:
        if match == "strong":
            print(f"  negative strong: {question!r}, text cosine {cosine:.3f}")
    for floor in (0.60, 0.62, 0.64, 0.66, 0.68, 0.70):
        lost_right = sum(1 for r in strong if r[1] and r[4] < floor)
        lost_wrong = sum(1 for r in strong if not r[1] and r[4] < floor)
        caught = sum(1 for r in negative if r[2] == "strong" and r[4] < floor)
        print(
            f"floor {floor:.2f}: demotes {caught} strong negatives, {lost_right} right and {lost_wrong} wrong answers"
        )


if __name__ == "__main__":
    main()
