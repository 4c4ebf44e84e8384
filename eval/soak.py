"""Soak test: `qa serve` under steady mixed load for minutes, loopback only, bounded in time.

Starts `qa serve` on a free loopback port (or uses ``--url``), warms it up at full load
(``--warmup`` seconds), then for each
minute (``--minutes``, or ``--seconds`` for a short run) runs four `hey` processes at once,
``--concurrency`` clients in all: two POST /query with different questions and two POST
/chat. Per minute it prints requests, errors (non-200 answers and transport errors), p50 and
p99 per endpoint, and the server's RSS; at the end, RSS growth from the start (after warm-up)
to the end. It stops by itself.

    python eval/soak.py --index index/default --minutes 5 --concurrency 32
    python eval/soak.py --index index/default --seconds 20          # a short version

p50 per endpoint is the request-weighted mean of its two processes' p50s; p99 is the larger
of their two p99s (an upper bound of the merged p99).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_load import free_port, parse_hey, serve, tree_memory

STREAMS = [  # (endpoint, body)
    ("query", {"question": "What is the recommended dose of pomalidomide?"}),
    ("query", {"question": "can i drink alcohol while taking metformin", "k": 3}),
    ("chat", {"messages": [{"role": "user", "content": "What are the side effects of pomalidomide?"}]}),
    ("chat", {"messages": [{"role": "user", "content": "Is pomalidomide safe in pregnancy?"}]}),
]


HEY = ["hey", "-m", "POST", "-T", "application/json"]


def run_slice(base: str, bodies: list[Path], seconds: int, concurrency: int) -> list[dict[str, float]]:
    """The four streams at once for ``seconds``; one hey summary each."""
    per_stream = max(1, concurrency // len(STREAMS))
    processes = [
        subprocess.Popen(
            [*HEY, "-z", f"{seconds}s", "-c", str(per_stream), "-D", str(body), f"{base}/{endpoint}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for (endpoint, _), body in zip(STREAMS, bodies, strict=True)
    ]
    return [parse_hey(process.communicate(timeout=seconds + 120)[0]) for process in processes]


def summarise(results: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for endpoint in ("query", "chat"):
        rows = [r for (e, _), r in zip(STREAMS, results, strict=True) if e == endpoint]
        ok = sum(r["ok"] for r in rows)
        out[endpoint] = {
            "requests": ok + sum(r["errors"] for r in rows),
            "errors": sum(r["errors"] for r in rows),
            "rps": sum(r["rps"] for r in rows),
            "p50": sum(r["p50"] * r["ok"] for r in rows) / ok if ok else float("nan"),
            "p99": max(r["p99"] for r in rows),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, default=Path("index/default"))
    parser.add_argument("--url", help="an already running service (default: start `qa serve` on loopback)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--minutes", type=int, default=5)
    parser.add_argument("--seconds", type=int, help="one slice of this many seconds instead of --minutes")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=15, help="seconds of load before RSS is first read")
    args = parser.parse_args()
    if shutil.which("hey") is None:
        raise SystemExit("hey is not installed: apt-get install hey")
    if args.url is None and not (args.index / "manifest.json").is_file():
        raise SystemExit(f"no index at {args.index}: build one with `qa index --index {args.index}`")
    slices = [args.seconds] if args.seconds else [60] * args.minutes

    print(f"command: {' '.join(sys.argv)}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs; concurrency {args.concurrency}; {sum(slices)} s")
    server = None
    if args.url:
        base = args.url.rstrip("/")
    else:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = serve(args.index, port, args.workers, {})
    try:
        with tempfile.TemporaryDirectory() as tmp:
            bodies = []
            for number, (_, body) in enumerate(STREAMS):
                bodies.append(Path(tmp) / f"{number}.json")
                bodies[-1].write_text(json.dumps(body))
            before_warmup = tree_memory(server.pid)[0] if server else float("nan")
            # Warm-up, not counted: the four streams at full concurrency, so that the request
            # threads, their stacks and the allocator's arenas exist before RSS is first read.
            run_slice(base, bodies, args.warmup, args.concurrency)
            start = tree_memory(server.pid)[0] if server else float("nan")
            print(f"RSS before warm-up {before_warmup:.0f} MB; at start (after warm-up) {start:.0f} MB")
            print(
                f"{'slice':>5} {'endpoint':<6} {'requests':>9} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6}"
            )
            total_errors = total = 0.0
            for number, seconds in enumerate(slices, start=1):
                summary = summarise(run_slice(base, bodies, seconds, args.concurrency))
                rss = tree_memory(server.pid)[0] if server else float("nan")
                for endpoint, r in summary.items():
                    total_errors += r["errors"]
                    total += r["requests"]
                    print(
                        f"{number:>5} {endpoint:<8} {int(r['requests']):>9} {r['rps']:>7.1f} {r['p50']:>7.1f} "
                        f"{r['p99']:>7.1f} {int(r['errors']):>6}"
                    )
                print(f"{number:>5} RSS {rss:.0f} MB")
            end = tree_memory(server.pid)[0] if server else float("nan")
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    growth = (end - start) / start * 100 if server else float("nan")
    print(f"total: {int(total)} requests, {int(total_errors)} errors; RSS {start:.0f} -> {end:.0f} MB ({growth:+.1f}%)")


if __name__ == "__main__":
    main()
