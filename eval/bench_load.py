"""HTTP load benchmark with `hey` (Debian package `hey`), loopback only, bounded in time.

Starts `qa serve` as a separate process on a free loopback port for each configuration,
waits for /ready, warms it up, then runs, one after another:

- ``query-c1``:  ``hey -n 300 -c 1``  POST /query (single client);
- ``query-cN``:  ``hey -z 20s -c 32`` POST /query (closed loop of N clients);
- ``chat-c1``:   ``hey -n 200 -c 1``  POST /chat (JSON, one turn).

and prints requests/s, p50/p99 latency, errors and the server's memory (RSS, and PSS, which
splits shared pages between the processes that map them) for each. Several configurations
in one run compare as ratios against the first:

    python eval/bench_load.py --index index/default
    python eval/bench_load.py --index index/default --config QA_BATCH_MAX=1 --config QA_BATCH_MAX=32
    python eval/bench_load.py --index index/default --workers 1,2

The question is one fixed question (``--question``), as in the issue's measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tree_memory(pid: int) -> tuple[float, float, int]:
    """RSS and PSS (MB) summed over a process and its children, and the process count."""
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            todo += [int(p) for p in task.read_text().split()]
    rss = pss = 0.0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1]) / 1024
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1]) / 1024
        except OSError:
            pass
    return rss, pss, len(pids)


def parse_hey(output: str) -> dict[str, float]:
    def number(pattern: str) -> float:
        found = re.search(pattern, output)
        return float(found.group(1)) if found else float("nan")

    statuses = {int(code): int(n) for code, n in re.findall(r"\[(\d{3})\]\s+(\d+) responses", output)}
    errors = sum(n for code, n in statuses.items() if code != 200)
    error_block = output.split("Error distribution:")[1] if "Error distribution:" in output else ""
    errors += sum(int(n) for n in re.findall(r"^\s*\[(\d+)\]", error_block, flags=re.M))
    return {
        "rps": number(r"Requests/sec:\s+([\d.]+)"),
        "p50": number(r"50%+ in ([\d.]+) secs") * 1000,
        "p99": number(r"99%+ in ([\d.]+) secs") * 1000,
        "ok": float(statuses.get(200, 0)),
        "errors": float(errors),
    }


def serve(index: Path, port: int, workers: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "qa.cli", "serve", "--index", str(index), "--port", str(port)]
    command += ["--workers", str(workers)] if workers != 1 else []
    environment = {**os.environ, "QA_LOG_LEVEL": "warning", "QA_WATCH_SECONDS": "0", **env}
    process = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        if process.poll() is not None:
            raise SystemExit(f"qa serve exited with {process.returncode}")
        time.sleep(0.3)
    raise SystemExit("qa serve did not become ready in 300 s")


def hey(url: str, body: Path, args: list[str]) -> dict[str, float]:
    command = ["hey", *args, "-m", "POST", "-T", "application/json", "-D", str(body), url]
    return parse_hey(subprocess.run(command, capture_output=True, text=True, check=True, timeout=600).stdout)


def run_config(index: Path, workers: int, env: dict[str, str], question: str, seconds: int, clients: int) -> dict:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = serve(index, port, workers, env)
    results: dict[str, dict[str, float]] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            query, chat = Path(tmp) / "query.json", Path(tmp) / "chat.json"
            query.write_text(json.dumps({"question": question}))
            chat.write_text(json.dumps({"messages": [{"role": "user", "content": question}]}))
            hey(f"{base}/query", query, ["-n", "200", "-c", "8"])  # warm-up, not counted
            hey(f"{base}/chat", chat, ["-n", "20", "-c", "1"])
            start_memory = tree_memory(server.pid)
            results["query-c1"] = hey(f"{base}/query", query, ["-n", "300", "-c", "1"])
            results[f"query-c{clients}"] = hey(f"{base}/query", query, ["-z", f"{seconds}s", "-c", str(clients)])
            results["chat-c1"] = hey(f"{base}/chat", chat, ["-n", "200", "-c", "1"])
            end_memory = tree_memory(server.pid)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    return {"results": results, "memory": (start_memory, end_memory)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, default=Path("index/default"))
    parser.add_argument("--workers", default="1", help="comma-separated worker counts to compare")
    parser.add_argument("--config", action="append", default=[], help="QA_NAME=value for the server; repeat to compare")
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--question", default="What is the recommended dose of pomalidomide?")
    args = parser.parse_args()
    if shutil.which("hey") is None:
        raise SystemExit("hey is not installed: apt-get install hey")
    if not (args.index / "manifest.json").is_file():
        raise SystemExit(f"no index at {args.index}: build one with `qa index --index {args.index}`")

    configs = [dict([c.split("=", 1)]) for c in args.config] or [{}]
    runs = [(w, env) for w in map(int, args.workers.split(",")) for env in configs]
    print(f"command: {' '.join(sys.argv)}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs; index {args.index}; question {args.question!r}")
    table = []
    for workers, env in runs:
        label = f"workers={workers}" + "".join(f" {k}={v}" for k, v in env.items())
        print(f"== {label}", file=sys.stderr)
        outcome = run_config(args.index, workers, env, args.question, args.seconds, args.concurrency)
        table.append((label, outcome))
    print(f"{'configuration':<32} {'scenario':<10} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for label, outcome in table:
        for scenario, r in outcome["results"].items():
            print(f"{label:<32} {scenario:<10} {r['rps']:8.1f} {r['p50']:8.1f} {r['p99']:8.1f} {int(r['errors']):7d}")
        (rss0, pss0, n), (rss1, pss1, _) = outcome["memory"]
        print(
            f"{label:<32} memory: {n} processes; RSS {rss0:.0f} -> {rss1:.0f} MB, PSS {pss0:.0f} -> {pss1:.0f} MB "
            f"({pss1 / max(n - 1, 1) if n > 1 else pss1:.0f} MB PSS per worker)"
        )
    if len(table) > 1:
        first = table[0][1]["results"]
        for label, outcome in table[1:]:
            ratios = ", ".join(
                f"{s} req/s x{r['rps'] / first[s]['rps']:.2f}, p50 x{r['p50'] / first[s]['p50']:.2f}"
                for s, r in outcome["results"].items()
            )
            print(f"{label} vs {table[0][0]}: {ratios}")


if __name__ == "__main__":
    main()
