"""Probe (not a feature): does "the question a heading implies" help the heading view?

Each chunk under a standard drug-monograph section (the deepest heading of its path that matches
one of ``TABLE``'s labels) gets that section's question, in the wording of the FDA Medication
Guide headings (21 CFR 208.20) or MedlinePlus drug pages, with the document's title for the drug.
The heading view then takes the better of the heading line and that question; nothing else
changes and the index is not rebuilt (the questions are embedded when the index opens). Every
other argument goes to ``qa``:

    python eval/probe_implied_questions.py eval --corpus index/corpora/consumer \\
        --eval-file eval/consumer.jsonl --held-out --index index/eval/consumer-onnx \\
        --retriever multiview --name probe-implied-consumer
    python eval/probe_implied_questions.py eval --corpus index/corpora/consumer \
        --eval-file eval/consumer.jsonl --held-out --index index/eval/consumer-onnx \
        --retriever multiview --only corpus=seed --name probe-implied-consumer-seed
    python eval/probe_implied_questions.py eval --retriever multiview --name probe-implied-faq
    python eval/probe_implied_questions.py eval --corpus ../shared/data/pubmedqa-dev/corpus \
        --eval-file ../shared/data/pubmedqa-dev/eval.jsonl --index index/eval/pubmed-onnx \
        --retriever multiview --name probe-implied-pubmed

The same commands with ``qa`` in place of ``python eval/probe_implied_questions.py`` give the
figures without the probe (``--name base-consumer-seed`` for the seed questions).

The README ("Tried and dropped") gives what it changed.
"""

from __future__ import annotations

import re
import sys

import numpy as np

from qa.cli import main
from qa.retrieval import searcher as searcher_module
from qa.retrieval.query import Query

TABLE = [
    (("side effects", "adverse effects", "adverse reactions"), "What are the possible side effects of {d}?"),
    (("contraindications", "contraindication", "who should not take"), "Who should not take {d}?"),
    (("drug interactions", "interactions"), "What other medicines interact with {d}?"),
    (("pregnancy", "breastfeeding", "lactation", "nursing mothers"), "Can I take {d} while pregnant or breastfeeding?"),
    (("precautions", "warnings"), "What special precautions should I follow with {d}?"),
    (("usage", "uses", "indications"), "Why is {d} prescribed?"),
    (("dosage", "dose", "dosing", "administration", "how to take"), "How should I take {d}, and how much?"),
    (("how it works", "mechanism of action", "pharmacology"), "How does {d} work?"),
    (("storage", "how supplied"), "How should I store {d}?"),
    (("overdose", "overdosage"), "What should I do if someone takes too much {d}?"),
    (("missed dose",), "What should I do if I forget a dose of {d}?"),
    (("brand names", "alternate names", "other names"), "What are the brand names of {d}?"),
    (("ingredients", "inactive ingredients", "composition"), "What are the ingredients in {d}?"),
    (("appearance", "description"), "What does {d} look like?"),
    (("important information", "boxed warning"), "What is the most important information I should know about {d}?"),
]  # fmt: skip


def implied_question(title: str, headings: tuple[str, ...]) -> str | None:
    """The question of the deepest heading that names a section of ``TABLE``; where several labels
    match one heading, the longest ("missed dose" before "dose")."""
    for heading in reversed(headings):
        words = f" {' '.join(re.findall(r'[a-z]+', heading.lower()))} "
        found = [(len(label), question) for labels, question in TABLE for label in labels if f" {label} " in words]
        if found:
            return max(found)[1].format(d=title)
    return None


def _install(searcher: searcher_module.Searcher) -> None:
    texts = [implied_question(c.title, c.heading_path[1:]) for c in searcher.index.chunks]
    unique = sorted({t for t in texts if t})
    print(f"implied questions: {len(unique)}, for {len(texts) - texts.count(None)} chunks", file=sys.stderr)
    vectors = searcher.embedder.embed(unique) if unique else np.zeros((0, searcher.matrix.shape[1]), np.float32)
    position = {t: i for i, t in enumerate(unique)}
    searcher.implied = (vectors, np.array([position.get(t, -1) for t in texts], dtype=np.int64))


def _patch() -> None:
    opened, margin = searcher_module.Searcher.__init__, searcher_module.Searcher.margin

    def init(self: searcher_module.Searcher, *args: object, **kwargs: object) -> None:
        opened(self, *args, **kwargs)
        _install(self)

    def heading_or_question(self: searcher_module.Searcher, query: Query, rows: np.ndarray, view: str) -> np.ndarray:
        if view != "heading":
            return margin(self, query, rows, view)
        question = self.vector(query)[0]
        scores = self.index.heading.vectors[self.index.heading.of_chunk[rows]] @ question
        vectors, of_chunk = self.implied
        which = of_chunk[rows]
        has = which >= 0
        if has.any():
            scores = scores.astype(np.float32)
            scores[has] = np.maximum(scores[has], vectors[which[has]] @ question)
        return np.maximum(0.0, scores - self.reference(query))

    searcher_module.Searcher.__init__ = init
    searcher_module.Searcher.margin = heading_or_question


if __name__ == "__main__":
    _patch()
    sys.argv = ["qa", *sys.argv[1:]]
    main()
