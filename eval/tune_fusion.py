"""Compare hybrid fusion settings on a development sample of a gold set.

    python eval/tune_fusion.py --index index/eval/<corpus>-full \\
        --eval-file ../shared/data/medquad/eval.jsonl --sample 2000 --seed 1

Questions are embedded once (a memoising embedder), so each setting costs only BM25 and
fusion. Tune on one sample (seed 1) and report on another (seed 0): the defaults in
``qa/settings.py`` were chosen this way.
"""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from qa.evaluation.goldsets import GoldIndex, load_eval_file
from qa.evaluation.runs import evaluate, select
from qa.indexing.storage import load_index
from qa.retrieval.retrievers import HybridRetriever
from qa.retrieval.searcher import Searcher
from qa.serving.service import make_embedder
from qa.settings import RetrievalSettings, load_settings


class MemoEmbedder:
    def __init__(self, inner) -> None:
        self.inner, self.cache = inner, {}
        self.model_id, self.dimension, self.max_tokens = inner.model_id, inner.dimension, inner.max_tokens

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in texts if t not in self.cache]
        if missing:
            for text, vector in zip(missing, self.inner.embed(missing), strict=True):
                self.cache[text] = vector
        return np.stack([self.cache[t] for t in texts])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--eval-file", type=Path, required=True)
    parser.add_argument("--sample", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rrf-k", default="10,30,60", help="comma-separated values to try")
    parser.add_argument("--dense-weight", default="1,1.5,2", help="comma-separated values to try")
    parser.add_argument("--entity-boost", default="0.5,1,2", help="comma-separated values to try")
    args = parser.parse_args()

    index = load_index(args.index)
    embedder = MemoEmbedder(make_embedder(load_settings()))
    items, _ = load_eval_file(args.eval_file)
    items, _ = GoldIndex.from_records(index.documents).check(items)
    items = select(items, sample=args.sample, seed=args.seed, limit=None)

    def floats(text: str) -> list[float]:
        return [float(v) for v in text.split(",")]

    grid = {
        "fusion": ["rrf"],
        "rrf_k": floats(args.rrf_k),
        "dense_weight": floats(args.dense_weight),
        "entity_boost": floats(args.entity_boost),
    }
    rows = []
    for values in itertools.product(*grid.values()):
        settings = replace(RetrievalSettings(), **dict(zip(grid, values, strict=True)))
        searcher = Searcher(index, embedder, settings)
        (report,) = evaluate(searcher, items, {"hybrid": HybridRetriever(searcher)})
        m = report.metrics()
        rows.append((values, m["section"], m["doc"]))
        s = m["section"]
        print(f"{values}: R@5 {s['recall@5']:.3f} MRR@10 {s['mrr@10']:.3f} Hit@1 {s['hit@1']:.3f}", flush=True)
    print("\nbest by section MRR@10:")
    for values, section, doc in sorted(rows, key=lambda r: -r[1]["mrr@10"])[:8]:
        print(
            f"  {dict(zip(grid, values, strict=True))}: section R@5 {section['recall@5']:.3f} "
            f"MRR@10 {section['mrr@10']:.3f} Hit@1 {section['hit@1']:.3f}; doc MRR@10 {doc['mrr@10']:.3f}"
        )


if __name__ == "__main__":
    main()
