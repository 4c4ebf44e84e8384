"""One-document rebuild benchmark: edit one file of a corpus copy, rebuild its index, repeat.

    cp -r ../shared/data/medquad/corpus /tmp/mqcopy
    QA_ENCODER=onnx-int8 qa index --corpus /tmp/mqcopy --index /tmp/mqidx        # once, from scratch
    QA_ENCODER=onnx-int8 python eval/bench_rebuild.py --corpus /tmp/mqcopy --index /tmp/mqidx --edits 5

Each edit appends one sentence to a different file (the N-th file of the sorted corpus) and runs the
same build as ``qa index`` in this process, with the encoder already loaded. Prints every build's
time and steps, then the median. It writes to the corpus it is given, so it refuses one that is
not a copy made for it (a directory inside this repository, or one without write access).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from qa.serving.service import build, make_embedder
from qa.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, required=True, help="a copy of a corpus: its files are edited")
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--edits", type=int, default=5)
    args = parser.parse_args()
    corpus = args.corpus.resolve()
    if corpus.is_relative_to(ROOT) or corpus.is_relative_to(ROOT.parent / "shared"):
        raise SystemExit(f"{corpus} is not a copy; copy the corpus elsewhere first (this script edits it)")
    files = sorted(p for p in corpus.iterdir() if p.suffix in {".md", ".txt"})
    settings = load_settings(corpus_dir=corpus, index_dir=args.index)
    embedder = make_embedder(settings)
    embedder.embed(["warm-up"])
    seconds = []
    for edit in range(args.edits):
        target = files[edit % len(files)]
        with target.open("a", encoding="utf-8") as handle:
            handle.write(f"\nA sentence appended at {time.time():.6f} by the rebuild benchmark.\n")
        report = build(settings, embedder)
        seconds.append(report.seconds)
        steps = ", ".join(f"{name} {value:.1f}" for name, value in report.timings.items())
        print(
            f"edit {edit + 1} ({target.name}): {report.seconds:.2f} s; {steps}; "
            f"re-chunked {report.rechunked_documents}, reused {report.reused_vectors} of {report.chunks} vectors"
        )
    print(f"median {statistics.median(seconds):.2f} s over {len(seconds)} one-document rebuilds")


if __name__ == "__main__":
    main()
