"""HTTP query latency benchmark: serves an index on a loopback port (in this process,
with uvicorn) and sends POST /query (or, with --chat, POST /chat) requests one after
another over a kept-alive connection. Prints p50/p95 of the client-side latency and of the server's took_ms.

    python eval/bench_query.py --index index/default --requests 200

Questions are the FAQ questions and titles of the indexed documents, cycled; the first
--warmup requests are not counted.

With --encoder, it compares encoders in-process instead (question embedding included), asking
each question of each round with every encoder in turn (rotating which goes first), and prints
medians and ratios against the first encoder. An encoder whose vectors differ from the index's
(onnx-int8 against an fp32 index) gets its own index of the same corpus, built first:

    python eval/bench_query.py --index index/default --encoder torch,onnx,onnx-int8 --rounds 5

With --scan, it times the exact scan alone (one BLAS thread, as ``qa serve`` sets it): one
matrix-vector product against the split over two threads that a lone request gets
(``qa.retrieval.scan``), alternating, and prints medians and their ratio:

    python eval/bench_query.py --index index/eval/corpus-af7874b7-full --scan --rounds 5

With --serialise, it times turning one ``/query`` answer into JSON bytes: FastAPI's own path for
a sync route with ``response_model`` (validate again on a worker thread, then dump) against the
``ModelResponse`` the route returns (``model_dump_json``), alternating, and prints medians:

    python eval/bench_query.py --index index/eval/corpus-af7874b7-full --serialise --rounds 3
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from qa.api import create_app
from qa.errors import IndexMismatchError
from qa.indexing.build import build_index
from qa.indexing.storage import load_index
from qa.serving.service import QAService, chunk_settings, make_embedder
from qa.settings import load_settings


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def encoder_service(index_dir: Path, encoder: str, scratch: Path) -> QAService:
    """A service over ``index_dir`` with ``encoder``, or over a fresh index of the same corpus built
    with it when the probe says their vectors differ."""
    index = load_index(index_dir)
    corpus = index.manifest["corpus"]["path"]
    settings = load_settings(index_dir=index_dir, corpus_dir=corpus, encoder=encoder)
    embedder = make_embedder(settings)
    try:
        return QAService(index, embedder)
    except IndexMismatchError:
        own = scratch / encoder
        report = build_index(Path(corpus), own, embedder, chunk_settings(settings, embedder))
        print(f"{encoder}: built its own index of {corpus} in {report.seconds:.1f} s")
        return QAService(load_index(own), embedder)


def compare_encoders(index_dir: Path, encoders: list[str], rounds: int, k: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        services = {name: encoder_service(index_dir, name, Path(tmp)) for name in encoders}
        index = next(iter(services.values())).index
        questions = [f.question for d in index.documents.values() for f in d.faqs]
        questions += [d.title for d in index.documents.values()]
        for service in services.values():
            service.warm_up()
        medians: dict[str, list[float]] = {name: [] for name in encoders}
        turn = 0
        for _ in range(rounds):
            times: dict[str, list[float]] = {name: [] for name in encoders}
            for question in questions:
                order = encoders[turn % len(encoders) :] + encoders[: turn % len(encoders)]
                turn += 1
                for name in order:
                    started = time.perf_counter()
                    services[name].ask(question, k)
                    times[name].append((time.perf_counter() - started) * 1000)
            for name in encoders:
                medians[name].append(statistics.median(times[name]))
    print(f"index {index_dir}: {len(index.chunks)} chunks; {len(questions)} questions x {rounds} rounds, k={k}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs; in-process ask(), question embedding included")
    first = statistics.median(medians[encoders[0]])
    for name in encoders:
        p50 = statistics.median(medians[name])
        print(f"{name:<10} p50 {p50:6.2f} ms   x{first / p50:.2f} faster than {encoders[0]}")


def compare_scans(index_dir: Path, rounds: int, calls: int = 200) -> None:
    import numpy as np
    from threadpoolctl import threadpool_limits

    from qa.retrieval.scan import ExactScan

    index = load_index(index_dir)
    matrix = index.faiss.reconstruct_n(0, index.faiss.ntotal)
    vectors = matrix[np.random.default_rng(0).integers(0, len(matrix), calls)]
    scans = {"one thread": ExactScan(matrix, split=False), "split": ExactScan(matrix, split=True)}
    times: dict[str, list[float]] = {name: [] for name in scans}
    with threadpool_limits(1):
        for round_ in range(rounds):
            for name in list(scans) if round_ % 2 == 0 else list(scans)[::-1]:
                for vector in vectors:
                    started = time.perf_counter()
                    scans[name](vector)
                    times[name].append((time.perf_counter() - started) * 1000)
    medians = {name: statistics.median(t) for name, t in times.items()}
    print(f"exact scan of {len(matrix)} x {matrix.shape[1]} float32, {rounds} rounds x {calls} calls:")
    for name, median in medians.items():
        print(f"  {name:10s} median {median:.3f} ms")
    print(f"  one thread / split: {medians['one thread'] / medians['split']:.2f}x")


def compare_serialisation(index_dir: Path, rounds: int, k: int, calls: int = 500) -> None:
    import asyncio

    from fastapi.routing import serialize_response
    from fastapi.utils import create_model_field

    from qa.api.responses import ModelResponse
    from qa.serving.schemas.query import QueryResponse, query_response

    index = load_index(index_dir)
    settings = load_settings(index_dir=index_dir, corpus_dir=index.manifest["corpus"]["path"])
    service = QAService.open(settings)
    answer = query_response(service.ask(next(iter(index.documents.values())).title, k))
    field = create_model_field(name="Response", type_=QueryResponse, mode="serialization")
    loop = asyncio.new_event_loop()

    async def fastapi_path() -> object:
        return await serialize_response(field=field, response_content=answer, is_coroutine=False, dump_json=True)

    paths = {
        "FastAPI response_model": lambda: loop.run_until_complete(fastapi_path()),
        "ModelResponse": lambda: ModelResponse(answer).body,
    }
    times: dict[str, list[float]] = {name: [] for name in paths}
    for round_ in range(rounds):
        for name in list(paths) if round_ % 2 == 0 else list(paths)[::-1]:
            for _ in range(calls):
                started = time.perf_counter()
                paths[name]()
                times[name].append((time.perf_counter() - started) * 1000)
    print(f"one /query answer ({k} passages, {len(ModelResponse(answer).body):,} bytes), {rounds} x {calls} calls:")
    for name, values in times.items():
        print(f"  {name:24s} median {statistics.median(values):.3f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, default=Path("index/default"))
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("-k", type=int, default=5)
    parser.add_argument("--chat", action="store_true", help="POST /chat (one-turn JSON) instead of /query")
    parser.add_argument("--encoder", help="compare these encoders in-process, e.g. torch,onnx,onnx-int8")
    parser.add_argument("--rounds", type=int, default=5, help="with --encoder: rounds over the questions")
    parser.add_argument("--scan", action="store_true", help="time the exact scan alone: one thread against split")
    parser.add_argument("--serialise", action="store_true", help="time FastAPI's response path against ModelResponse")
    args = parser.parse_args()
    if args.scan:
        compare_scans(args.index, args.rounds)
        return
    if args.serialise:
        compare_serialisation(args.index, args.rounds, args.k)
        return
    if args.encoder:
        compare_encoders(args.index, [e.strip() for e in args.encoder.split(",")], args.rounds, args.k)
        return

    index = load_index(args.index)
    questions = [f.question for d in index.documents.values() for f in d.faqs]
    questions += [d.title for d in index.documents.values()]

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = load_settings(index_dir=args.index, corpus_dir=index.manifest["corpus"]["path"])
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()

    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base, timeout=60) as client:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                if client.get("/ready").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        else:
            raise SystemExit("server did not become ready")
        wall, took = [], []
        cycle = itertools.cycle(questions)
        for i in range(args.warmup + args.requests):
            question = next(cycle)
            started = time.perf_counter()
            if args.chat:
                body = {"messages": [{"role": "user", "content": question}], "k": args.k}
                response = client.post("/chat", json=body)
            else:
                response = client.post("/query", json={"question": question, "k": args.k})
            elapsed = (time.perf_counter() - started) * 1000
            response.raise_for_status()
            if i >= args.warmup:
                wall.append(elapsed)
                took.append(response.json()["took_ms"])
    server.should_exit = True

    print(f"index {args.index}: {len(index.chunks)} chunks, {len(index.documents)} documents, k={args.k}")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs; {len(wall)} requests, {len(set(questions))} questions"
    )
    endpoint = "/chat" if args.chat else "/query"
    p50, p95 = percentile(wall, 0.5), percentile(wall, 0.95)
    print(f"POST {endpoint} latency (client, ms): p50 {p50:.1f}  p95 {p95:.1f}  mean {statistics.mean(wall):.1f}")
    print(f"server took_ms:                    p50 {percentile(took, 0.5):.1f}  p95 {percentile(took, 0.95):.1f}")


if __name__ == "__main__":
    main()
