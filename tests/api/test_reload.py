"""Hot index swaps while serving: POST /admin/reload and the directory watcher.

A live server on loopback (uvicorn in a thread, the fake embedder) answers a stream of
questions from several client threads while a new index is built into the served directory
and swapped in. Every answer must be complete and come from one index or the other."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from qa.api import create_app
from qa.indexing.build import build_index
from qa.indexing.manifest import FAISS_FILE
from qa.settings import Settings
from tests.conftest import FAKE_CHUNKING, SEED_CORPUS
from tests.fakes import FakeEmbedder
from tests.live import live_server

OTHER_DOC = """---
title: Zolmitriptan
---

## Usage

Zolmitriptan treats migraine attacks with or without aura in adults.

## Dosage

Take 2.5 mg at the first sign of a migraine; a second dose may follow after two hours.
"""


def other_corpus(root: Path) -> Path:
    corpus = root / "other-corpus"
    corpus.mkdir()
    (corpus / "zolmitriptan.md").write_text(OTHER_DOC, encoding="utf-8")
    return corpus


@pytest.fixture()
def served(tmp_path: Path, fake_index_dir: Path) -> Iterator[tuple[str, Settings]]:
    """A server on a loopback port over a copy of the seed index, watching nothing (reloads are explicit)."""
    index_dir = tmp_path / "index"
    shutil.copytree(fake_index_dir, index_dir)
    settings = Settings(
        corpus_dir=SEED_CORPUS, index_dir=index_dir, max_chunk_tokens=48, chunk_overlap_tokens=8, watch_seconds=0
    )
    with live_server(lambda port: create_app(settings, embedder=FakeEmbedder()), ready_within=30) as url:
        yield url, settings


def hammer(url: str, stop: threading.Event, answers: list[dict], failures: list[str]) -> None:
    with httpx.Client(base_url=url, timeout=30) as client:
        while not stop.is_set():
            response = client.post("/query", json={"question": "what is the dose for a migraine?", "k": 3})
            if response.status_code != 200:
                failures.append(f"{response.status_code}: {response.text}")
            else:
                answers.append(response.json())


def test_a_swap_under_load_drops_no_request_and_mixes_no_index(served: tuple[str, Settings], tmp_path: Path) -> None:
    url, settings = served
    before = httpx.get(f"{url}/ready").json()["fingerprint"]
    answers: list[dict] = []
    failures: list[str] = []
    stop = threading.Event()
    clients = [threading.Thread(target=hammer, args=(url, stop, answers, failures)) for _ in range(4)]
    for client in clients:
        client.start()
    time.sleep(0.3)
    # `qa index` into the served directory while it serves: an atomic rename of a new build.
    build_index(other_corpus(tmp_path), settings.index_dir, FakeEmbedder(), FAKE_CHUNKING)
    swap = httpx.post(f"{url}/admin/reload", timeout=30).json()
    time.sleep(0.3)
    stop.set()
    for client in clients:
        client.join(timeout=30)

    assert failures == []
    assert swap["reloaded"] is True and swap["error"] is None and swap["previous_fingerprint"] == before
    after = swap["fingerprint"]
    assert after != before
    docs = {before: {p.stem for p in SEED_CORPUS.iterdir()}, after: {"zolmitriptan"}}
    served_by = {a["index"]["fingerprint"] for a in answers}
    assert served_by == {before, after}  # answers came from both sides of the swap
    for answer in answers:
        # Every passage of an answer comes from the index that the answer names: none half-loaded.
        assert answer["results"], answer
        assert {hit["doc_id"] for hit in answer["results"]} <= docs[answer["index"]["fingerprint"]], answer
    ready = httpx.get(f"{url}/ready").json()
    assert ready["fingerprint"] == after and ready["reloads"] == {"ok": 1, "refused": 0}


def test_a_corrupt_new_index_is_refused_and_the_old_one_keeps_serving(
    served: tuple[str, Settings], tmp_path: Path
) -> None:
    url, settings = served
    before = httpx.get(f"{url}/ready").json()["fingerprint"]
    build_index(other_corpus(tmp_path), settings.index_dir, FakeEmbedder(), FAKE_CHUNKING)
    faiss_file = settings.index_dir / FAISS_FILE
    faiss_file.write_bytes(faiss_file.read_bytes()[:100])  # truncated

    outcome = httpx.post(f"{url}/admin/reload", timeout=30).json()
    assert outcome["reloaded"] is False and outcome["fingerprint"] == before
    assert "refused" in outcome["error"] and FAISS_FILE in outcome["error"]

    ready = httpx.get(f"{url}/ready")
    assert ready.status_code == 200
    body = ready.json()
    assert body["fingerprint"] == before and body["reloads"] == {"ok": 0, "refused": 1}
    assert body["last_reload"]["error"] == outcome["error"]
    answer = httpx.post(f"{url}/query", json={"question": "pomalidomide dose"}).json()
    assert answer["index"]["fingerprint"] == before and answer["results"]


def test_the_watcher_swaps_in_a_new_build_by_itself(fake_index_dir: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    shutil.copytree(fake_index_dir, index_dir)
    settings = Settings(
        corpus_dir=SEED_CORPUS, index_dir=index_dir, max_chunk_tokens=48, chunk_overlap_tokens=8, watch_seconds=0.05
    )
    with TestClient(create_app(settings, embedder=FakeEmbedder())) as client:
        deadline = time.monotonic() + 20
        while client.get("/ready").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        before = client.get("/ready").json()["fingerprint"]
        build_index(other_corpus(tmp_path), index_dir, FakeEmbedder(), FAKE_CHUNKING)
        while client.get("/ready").json()["fingerprint"] == before and time.monotonic() < deadline:
            time.sleep(0.05)
        ready = client.get("/ready").json()
    assert ready["fingerprint"] != before and ready["reloads"]["ok"] == 1


def test_admin_routes_refuse_clients_off_loopback(fake_settings: Settings) -> None:
    app = create_app(fake_settings, embedder=FakeEmbedder(), load_on_startup=False)
    with TestClient(app, client=("203.0.113.7", 40000)) as client:
        response = client.post("/admin/reload")
    assert response.status_code == 403
    assert "loopback" in response.json()["message"]
