from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from qa import cli
from qa.cli.common import CliContext
from tests.conftest import SEED_CORPUS
from tests.live import free_port


@pytest.fixture()
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture()
def with_real_embedder(real_embedder) -> CliContext:
    """Reuse the session's loaded model instead of loading it again for each command."""
    return CliContext(make_embedder=lambda settings: real_embedder)


@pytest.mark.integration
def test_index_then_ask(runner: CliRunner, tmp_path: Path, with_real_embedder) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(SEED_CORPUS, corpus)
    (corpus / "broken.md").write_text("---\ntitle: [x\n---\n## A\n\nb\n")
    index = tmp_path / "index"

    args = ["index", "--corpus", str(corpus), "--index", str(index), "--quiet"]
    result = runner.invoke(cli.main, args, obj=with_real_embedder)
    assert result.exit_code == 0, result.output
    assert "Indexed 2 documents into" in result.output
    assert "chunks/s" in result.output
    assert "skipped files: 1" in result.output
    assert "broken.md: invalid YAML frontmatter at line 2" in result.output
    assert "site chrome dropped" in result.output

    args = ["ask", "pomalidomide dose for myeloma", "-k", "2", "--index", str(index)]
    result = runner.invoke(cli.main, args, obj=with_real_embedder)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("match: ")
    assert "\n1. " in result.output and "recognised: Pomalidomide" in result.output
    assert "pomalidomide-monograph.md:" in result.output

    args = ["ask", "pomalidomide dose", "--json", "-k", "2", "--index", str(index)]
    result = runner.invoke(cli.main, args, obj=with_real_embedder)
    body = json.loads(result.stdout)
    assert len(body["results"]) == 2
    assert body["results"][0]["source"]["line_start"] >= 1


def test_ask_without_an_index_explains_how_to_build_one(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(cli.main, ["ask", "dose?", "--index", str(tmp_path / "none")])
    assert result.exit_code == 1
    assert "Error: no index at" in result.output and "qa index" in result.output
    assert "Traceback" not in result.output


def test_bad_setting_exits_2_naming_the_variable(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_BATCH_SIZE", "lots")
    result = runner.invoke(cli.main, ["ask", "dose?"])
    assert result.exit_code == 2
    assert "QA_BATCH_SIZE='lots'" in result.output


def test_k_out_of_range_is_a_usage_error(runner: CliRunner) -> None:
    result = runner.invoke(cli.main, ["ask", "dose?", "-k", "0"])
    assert result.exit_code == 2
    assert "1<=x<=50" in result.output


def test_empty_question_is_refused(runner: CliRunner, fake_index_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.fakes import FakeEmbedder

    fake = CliContext(make_embedder=lambda settings: FakeEmbedder())
    result = runner.invoke(cli.main, ["ask", "   ", "--index", str(fake_index_dir)], obj=fake)
    assert result.exit_code == 1
    assert "the question is empty" in result.output


@pytest.mark.integration
def test_serve_builds_the_missing_index_then_answers(tmp_path: Path) -> None:
    """The README's run command, end to end: a real process, a real port, the real model."""
    port = free_port()
    index = tmp_path / "index"
    env = {**os.environ, "QA_LOG_LEVEL": "warning"}
    command = [sys.executable, "-m", "qa.cli", "serve", "--port", str(port), "--corpus", str(SEED_CORPUS)]
    process = subprocess.Popen(
        [*command, "--index", str(index)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 120
        ready = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2)
                if ready.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        assert ready is not None and ready.status_code == 200, process.stdout.read() if process.poll() else ready
        response = httpx.post(
            f"http://127.0.0.1:{port}/query",
            json={"question": "Should I stop Imnovid during an infection?"},
            timeout=30,
        )
        assert response.status_code == 200
        top3 = [r["doc_id"] for r in response.json()["results"][:3]]
        assert "pomalidomide-infection-article" in top3
        assert (index / "manifest.json").is_file()
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.integration
def test_serve_with_two_workers_answers_from_both(real_index_dir: Path, onnx_cache: Path) -> None:
    """`qa serve --workers 2`: two processes over one memory-mapped index, answering together."""
    port = free_port()
    env = {**os.environ, "QA_LOG_LEVEL": "warning", "QA_CACHE_DIR": str(onnx_cache)}
    command = [sys.executable, "-m", "qa.cli", "serve", "--port", str(port), "--corpus", str(SEED_CORPUS)]
    process = subprocess.Popen(
        [*command, "--index", str(real_index_dir), "--workers", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        answers = []
        while time.monotonic() < deadline and len(answers) < 20 and process.poll() is None:
            try:
                # A new connection each time, so that both workers take some; each loads the
                # index in the background and answers 503 until it has.
                response = httpx.post(f"{url}/query", json={"question": "pomalidomide dose"}, timeout=30)
                if response.status_code == 200:
                    answers.append(response.json())
                else:
                    assert response.status_code == 503, response.text
                    time.sleep(0.2)
            except httpx.TransportError:
                time.sleep(0.5)
        assert process.poll() is None, process.stdout.read()
        assert len(answers) == 20 and all(a["results"] for a in answers)
        workers = [
            int(p) for task in Path(f"/proc/{process.pid}/task").glob("*/children") for p in task.read_text().split()
        ]
        assert len(workers) >= 2, workers
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
