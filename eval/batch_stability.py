"""Does a question's result depend on the questions batched with it? Asks sampled MedQuAD
questions twice: embedded alone, and embedded beside 15 other questions (as micro-batching
would), and counts identical first passages and identical top 5s.

    python eval/batch_stability.py --index index/eval/mq-int8 --encoder onnx-int8
    python eval/batch_stability.py --index index/eval/corpus-af7874b7-full --encoder onnx
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from qa.evaluation.goldsets import load_eval_file
from qa.indexing.embedding import Embedder
from qa.serving.service import QAService, make_embedder
from qa.settings import load_settings

MEDQUAD_EVAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "medquad" / "eval.jsonl"


class WithCompany:
    """Embeds each single question beside ``company`` randomly drawn other questions."""

    def __init__(self, inner: Embedder, others: list[str], company: int = 15) -> None:
        self.inner, self.others, self.company, self.rng = inner, others, company, random.Random(0)
        self.encoder, self.model_id, self.dimension = inner.encoder, inner.model_id, inner.dimension
        self.max_tokens = inner.max_tokens

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) != 1:
            return self.inner.embed(texts)
        return self.inner.embed([*texts, *self.rng.sample(self.others, self.company)])[:1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--encoder", required=True)
    parser.add_argument("--eval-file", type=Path, default=MEDQUAD_EVAL)
    parser.add_argument("--questions", type=int, default=600)
    args = parser.parse_args()
    if not args.eval_file.is_file():
        raise SystemExit(f"no gold set at {args.eval_file}")
    settings = load_settings(index_dir=args.index, encoder=args.encoder)
    inner = make_embedder(settings)
    items, _ = load_eval_file(args.eval_file)
    questions = [item.question for item in random.Random(0).sample(items, min(args.questions, len(items)))]
    alone = QAService.open(settings, inner)
    batched = QAService.open(settings, WithCompany(inner, questions[: len(questions) // 2]))  # type: ignore[arg-type]
    first = top5 = 0
    for question in questions:
        a = [h.chunk.id for h in alone.ask(question).hits]
        b = [h.chunk.id for h in batched.ask(question).hits]
        first += a[:1] == b[:1]
        top5 += a == b
    n = len(questions)
    print(f"{args.encoder} on {args.index}: first passage identical {first}/{n}, top 5 identical {top5}/{n}")


if __name__ == "__main__":
    main()
