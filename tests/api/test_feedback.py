"""Readers' feedback: answer ids, POST /feedback (checked, capped, nothing personal kept), the
metrics, and `qa feedback export` into a gold set that `qa eval --eval-file` scores."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from qa import cli
from qa.api import create_app, get_service
from qa.cli.common import CliContext
from qa.serving.answer_ids import AnswerIds, load_secret
from qa.serving.feedback import DB_FILE, export
from qa.serving.service import QAService
from qa.settings import Settings
from tests.fakes import FakeEmbedder

QUESTION = "What is the dose of pomalidomide for myeloma?"


def chat(client: TestClient, question: str = QUESTION) -> dict:
    response = client.post("/chat", json={"messages": [{"role": "user", "content": question}]})
    assert response.status_code == 200
    return response.json()


def stored(settings: Settings) -> int:
    database = settings.data_dir / DB_FILE
    if not database.is_file():
        return 0
    with sqlite3.connect(database) as db:
        return int(db.execute("SELECT COUNT(*) FROM feedback").fetchone()[0])


# ------------------------------------------------------------------ answer ids
def test_answer_ids_round_trip_and_refuse_forgeries(tmp_path: Path) -> None:
    ids = AnswerIds(load_secret("", tmp_path))
    answer_id = ids.issue("What is X?", ["c1", "c2"], "f" * 64)
    ref = ids.read(answer_id)
    assert ref is not None and ref.chunk_ids == ("c1", "c2") and ref.fingerprint == "f" * 16
    payload, signature = answer_id.split(".")
    assert ids.read(payload + "." + signature[::-1]) is None
    assert ids.read(answer_id.replace(payload, payload[:-2] + "AA")) is None
    assert ids.read("not-an-id") is None
    assert AnswerIds(load_secret("", tmp_path)).read(answer_id) == ref  # the kept secret is reused
    assert AnswerIds(b"another secret of 32 bytes......").read(answer_id) is None
    assert (tmp_path / "answer-id.secret").stat().st_mode & 0o077 == 0


# ------------------------------------------------------------------ POST /feedback
def test_feedback_is_stored_with_the_cited_sections_and_counted(client: TestClient, fake_settings: Settings) -> None:
    answer = chat(client)
    assert answer["citations"] and answer["answer_id"]
    response = client.post("/feedback", json={"question": QUESTION, "answer_id": answer["answer_id"], "helpful": True})
    assert response.status_code == 201, response.text
    assert response.json()["recorded"] is True
    second = {"question": QUESTION, "answer_id": answer["answer_id"], "helpful": False, "citation": 1}
    assert client.post("/feedback", json=second).status_code == 201
    with sqlite3.connect(fake_settings.data_dir / DB_FILE) as db:
        columns = {row[1] for row in db.execute("PRAGMA table_info(feedback)")}
        (cited,) = db.execute("SELECT cited FROM feedback WHERE helpful = 1").fetchone()
    assert columns == {"id", "created_at", "answer_id", "question", "helpful", "citation", "cited", "fingerprint"}
    first = json.loads(cited)[0]
    assert first["chunk_id"] == answer["citations"][0]["chunk_id"]
    assert first["doc"] == answer["citations"][0]["doc_id"] and first["section"]

    families = {f.name: f for f in text_string_to_metric_families(client.get("/metrics").text)}
    received = {s.labels["helpful"]: s.value for s in families["qa_feedback"].samples if s.name.endswith("_total")}
    records = {s.labels["verdict"]: s.value for s in families["qa_feedback_records"].samples}
    assert received == {"true": 1.0, "false": 1.0} and records == {"helpful": 1.0, "unhelpful": 1.0}


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"answer_id": "eyJmb3JnZWQiOjF9.AAAAAAAAAAAAAAAAAAAAAA"}, "not one this service issued"),
        ({"answer_id": "no dots or spaces allowed"}, "answer_id"),
        ({"helpful": "yes"}, "helpful"),
        ({"helpful": 1}, "helpful"),
        ({"citation": "1"}, "citation"),
        ({"citation": 0}, "citation must be at least 1"),
        ({"citation": 9}, "citation 9 is not in that answer"),
        ({"question": "x" * 2001}, "the limit is 2000"),
        ({"question": "What is the dose of aspirin?"}, "not the question of that answer"),
        ({"question": "   "}, "question is empty"),
        ({"extra": "field"}, "unknown field 'extra'"),
    ],
)
def test_bad_feedback_gets_422_and_writes_nothing(
    client: TestClient, fake_settings: Settings, change: dict, fragment: str
) -> None:
    answer = chat(client)
    body = {"question": QUESTION, "answer_id": answer["answer_id"], "helpful": True, **change}
    response = client.post("/feedback", json=body)
    assert response.status_code == 422, response.text
    assert fragment in response.json()["message"]
    assert stored(fake_settings) == 0


def test_feedback_per_answer_is_capped(fake_settings: Settings, fake_service: QAService) -> None:
    settings = Settings(**{**fake_settings.model_dump(), "feedback_per_answer": 2})
    app = create_app(settings, load_on_startup=False)
    app.dependency_overrides[get_service] = lambda: fake_service
    with TestClient(app) as client:
        answer = chat(client)
        body = {"question": QUESTION, "answer_id": answer["answer_id"], "helpful": True}
        statuses = [client.post("/feedback", json=body).status_code for _ in range(3)]
        other = chat(client, "pomalidomide and pregnancy")
        fresh = client.post("/feedback", json={**body, "question": other["question"], "answer_id": other["answer_id"]})
    assert statuses == [201, 201, 409]
    assert fresh.status_code == 201
    assert stored(settings) == 3


# ------------------------------------------------------------------ export
def row(n: int, question: str, helpful: bool, cited: list[tuple[str | None, str | None]], citation: int | None = None):
    return {
        "id": n,
        "question": question,
        "helpful": helpful,
        "citation": citation,
        "cited": [{"chunk_id": f"c{i}", "doc": d, "section": s, "heading_path": []} for i, (d, s) in enumerate(cited)],
        "fingerprint": "f",
        "created_at": "2026-12-01T00:00:00Z",
    }


def test_export_makes_gold_from_helpful_answers_and_lists_the_rest() -> None:
    rows = [
        row(1, "dose?", True, [("a", "Dosage"), ("a", "Usage")]),
        row(2, "Dose?", True, [("a", "Dosage"), ("a", "Usage")]),  # the same item again: one line, two votes
        row(3, "pregnancy?", True, [("a", "Dosage"), ("a", "Pregnancy")], citation=2),
        row(4, "kidneys?", False, [("a", "Dosage")]),
        row(5, "liver?", True, [(None, None)]),  # its passage is no longer in the index
        row(6, "dose again?", True, [("a", None)]),  # an FAQ answer only
    ]
    rows[-1]["cited"][0]["kind"] = "faq"
    gold, review = export(rows)
    assert [(g["question"], g["doc"], g["section"], g["votes"]) for g in gold] == [
        ("dose?", "a", "Dosage", 2),
        ("pregnancy?", "a", "Pregnancy", 1),
    ]
    assert gold[0]["alt_gold"] == [{"doc": "a", "section": "Usage"}] and gold[1]["alt_gold"] == []
    assert [(r["question"], r["reason"]) for r in review] == [
        ("kidneys?", "the reader said the answer did not help"),
        ("liver?", "a cited passage is unknown"),
        ("dose again?", "only FAQ answers were cited, and they are not sections"),
    ]


def test_exported_feedback_is_scored_by_qa_eval(
    client: TestClient, fake_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for question, helpful in ((QUESTION, True), ("pomalidomide and pregnancy", False)):
        answer = chat(client, question)
        body = {"question": answer["question"], "answer_id": answer["answer_id"], "helpful": helpful}
        assert client.post("/feedback", json=body).status_code == 201
    out = tmp_path / "feedback.jsonl"
    runner = CliRunner()
    args = ["feedback", "export", "--out", str(out), "--data-dir", str(fake_settings.data_dir)]
    exported = runner.invoke(cli.main, args)
    assert exported.exit_code == 0, exported.output
    assert "1 gold items" in exported.output and "1 for review" in exported.output
    assert len((tmp_path / "feedback.review.jsonl").read_text().splitlines()) == 1

    monkeypatch.setenv("QA_MAX_CHUNK_TOKENS", "48")
    monkeypatch.setenv("QA_CHUNK_OVERLAP_TOKENS", "8")
    fake = CliContext(make_embedder=lambda settings: FakeEmbedder())
    args = ["eval", "--corpus", str(fake_settings.corpus_dir), "--eval-file", str(out), "-q", "--strict"]
    args += ["--reports", str(tmp_path / "reports"), "--index", str(tmp_path / "eval-index")]
    scored = runner.invoke(cli.main, args, obj=fake)
    assert scored.exit_code == 0, scored.output
    metrics = json.loads(next((tmp_path / "reports").rglob("metrics.json")).read_text())
    assert metrics["eval"]["scored"] == 1 and metrics["eval"]["problems"] == []
    assert all(r["questions"] == 1 for r in metrics["retrievers"].values())


def test_export_without_feedback_says_where_it_looked(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli.main, ["feedback", "export", "--out", str(tmp_path / "x.jsonl"), "--data-dir",
                                           str(tmp_path / "none")])  # fmt: skip
    assert result.exit_code == 2
    assert "no feedback at" in result.output and "POST /feedback" in result.output
