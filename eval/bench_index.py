"""Index build benchmark: builds the index of a corpus N times into fresh directories
(so no vectors are reused) and prints the median build time and chunks per second.

    python eval/bench_index.py --corpus corpus --repeat 5
    python eval/bench_index.py --corpus ../shared/data/medquad/corpus --repeat 1
    python eval/bench_index.py --corpus corpus --repeat 3 --encoder torch,onnx,onnx-int8

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
    parser.add_argument("--encoder", default=None, help="comma-separated encoders to compare (default: the setting)")
    args = parser.parse_args()

    encoders = [e.strip() for e in args.encoder.split(",")] if args.encoder else [None]
    setups = []
    for encoder in encoders:
        settings = load_settings(corpus_dir=args.corpus, **({"encoder": encoder} if encoder else {}))
        embedder = make_embedder(settings)
        started = time.perf_counter()
        chunking = chunk_settings(settings, embedder)  # loads the model
        print(f"{settings.encoder}: model {embedder.model_id} loaded in {time.perf_counter() - started:.1f} s")
        setups.append((settings.encoder, embedder, chunking))
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs")

    runs: dict[str, list] = {name: [] for name, _, _ in setups}
    with tempfile.TemporaryDirectory() as tmp:
        for attempt in range(args.repeat):  # encoders alternate within each repeat
            for name, embedder, chunking in setups[attempt % len(setups) :] + setups[: attempt % len(setups)]:
                report = build_index(args.corpus, Path(tmp) / f"{name}-{attempt}", embedder, chunking)
                runs[name].append(report)
                steps = ", ".join(f"{k} {v:.1f}s" for k, v in report.timings.items())
                print(
                    f"{name} run {attempt + 1}: {report.documents} docs, {report.chunks} chunks, "
                    f"{report.seconds:.1f} s ({report.chunks_per_second:.1f} chunks/s; {steps})"
                )
    first = statistics.median(r.seconds for r in runs[setups[0][0]])
    for name, reports in runs.items():
        seconds = statistics.median(r.seconds for r in reports)
        rate = statistics.median(r.chunks_per_second for r in reports)
        print(
            f"{name}: median of {len(reports)}: {seconds:.2f} s, {rate:.1f} chunks/s, x{first / seconds:.2f} vs first"
        )


if __name__ == "__main__":
    main()
