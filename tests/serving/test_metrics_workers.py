"""With several worker processes, /metrics sums their counters (prometheus-client's
multiprocess mode): three processes write, one scrapes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

WORKER = """
from qa.serving.metrics import Metrics
metrics = Metrics()
metrics.observe_request("/query", "POST", 200, 0.01)
metrics.answered("query", "strong")
"""
SCRAPE = """
from qa.serving.metrics import Metrics
print(Metrics().exposition()[0].decode())
"""


def run(code: str, directory: Path) -> str:
    env = {"PROMETHEUS_MULTIPROC_DIR": str(directory), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_worker_counters_are_summed(tmp_path: Path) -> None:
    for _ in range(3):
        run(WORKER, tmp_path)
    samples = [s for family in text_string_to_metric_families(run(SCRAPE, tmp_path)) for s in family.samples]
    requests = [s for s in samples if s.name == "qa_http_requests_total" and s.labels["route"] == "/query"]
    answers = [s for s in samples if s.name == "qa_answers_total" and s.labels["match"] == "strong"]
    assert [s.value for s in requests] == [3.0]
    assert [s.value for s in answers] == [3.0]
    assert any(s.name == "qa_index_ready" and s.value == 0 for s in samples)  # from the scraping worker
