"""HTTP query latency benchmark: serves an index on a loopback port (in this process,
with uvicorn) and sends POST /query (or, with --chat, POST /chat) requests one after
another over a kept-alive connection. Prints p50/p95 of the client-side latency and of the server's took_ms.

    python eval/bench_query.py --index index/default --requests 200

Questions are the FAQ questions and titles of the indexed documents, cycled; the first
--warmup requests are not counted.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import socket
import statistics
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from qa.api import create_app
from qa.indexing.storage import load_index
from qa.settings import load_settings


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, default=Path("index/default"))
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("-k", type=int, default=5)
    parser.add_argument("--chat", action="store_true", help="POST /chat (one-turn JSON) instead of /query")
    args = parser.parse_args()

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
