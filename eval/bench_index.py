"""Index build benchmark: builds the index of a corpus N times into fresh directories
(so no vectors are reused) and prints the median build time and chunks per second.

    python eval/bench_index.py --corpus corpus --repeat 5
    python eval/bench_index.py --corpus ../shared/data/medquad/corpus --repeat 1

The model is loaded once, before timing; the times cover reading, chunking, embedding
and writing, as `qa index` reports them.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from qa.indexing.build import build_index
from qa.serving.service import chunk_settings, make_embedder
from qa.settings import load_settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    settings = load_settings(corpus_dir=args.corpus)
    embedder = make_embedder(settings)
    started = time.perf_counter()
    chunking = chunk_settings(settings, embedder)  # loads the model
    print(f"model {embedder.model_id} loaded in {time.perf_counter() - started:.1f} s")
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, device {settings.device}")

    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for attempt in range(args.repeat):
            report = build_index(args.corpus, Path(tmp) / f"run{attempt}", embedder, chunking)
            runs.append(report)
            steps = ", ".join(f"{k} {v:.1f}s" for k, v in report.timings.items())
            print(
                f"run {attempt + 1}: {report.documents} docs, {report.chunks} chunks, {report.seconds:.1f} s "
                f"({report.chunks_per_second:.1f} chunks/s; {steps})"
            )
    seconds = statistics.median(r.seconds for r in runs)
    rate = statistics.median(r.chunks_per_second for r in runs)
    print(f"median of {len(runs)}: {seconds:.2f} s, {rate:.1f} chunks/s")


if __name__ == "__main__":
    main()
