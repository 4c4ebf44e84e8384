"""Where a query's time goes: cProfile over questions asked in-process, top functions by own time.

    python eval/profile_query.py --index index/eval/corpus-af7874b7-full \\
        --eval-file ../shared/data/medquad/eval.jsonl --questions 300

Prints the p50 of ``QAService.ask`` without the profiler (question embedding included), then the
profile's top lines. Questions come from a gold set (``question`` field), or from the index's
FAQ questions and titles when none is given.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import random
import statistics
import time
from pathlib import Path

from qa.serving.service import QAService
from qa.settings import load_settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--eval-file", type=Path)
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--mode", default=None, help="retrieval mode (default: the service default)")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()

    service = QAService.open(load_settings(index_dir=args.index))
    service.warm_up()
    if args.eval_file:
        lines = args.eval_file.read_text(encoding="utf-8").splitlines()
        questions = [json.loads(line)["question"] for line in lines if line.strip()]
    else:
        questions = [f.question for d in service.index.documents.values() for f in d.faqs]
        questions += [d.title for d in service.index.documents.values()]
    questions = random.Random(0).sample(questions, min(args.questions, len(questions)))
    ask = (lambda q: service.ask(q)) if args.mode is None else (lambda q: service.ask(q, mode=args.mode))

    timings = []
    for question in questions:
        started = time.perf_counter()
        ask(question)
        timings.append((time.perf_counter() - started) * 1000)
    encoder = getattr(service.embedder, "encoder", "torch")  # older versions had no encoder name
    print(f"index {args.index}: {len(service.index.chunks)} chunks; encoder {encoder}")
    print(f"ask p50 {statistics.median(timings):.2f} ms over {len(questions)} questions (no profiler)")

    profile = cProfile.Profile()
    profile.enable()
    for question in questions:
        ask(question)
    profile.disable()
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(args.top)
    print(out.getvalue())


if __name__ == "__main__":
    main()
