from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from qa.api import create_app, get_service
from qa.serving.service import QAService
from qa.settings import Settings
from tests.fakes import FakeEmbedder


def wait_ready(client: TestClient, seconds: float = 20) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        response = client.get("/ready")
        if response.status_code == 200:
            return response.json()
        time.sleep(0.05)
    raise AssertionError(f"not ready after {seconds} s: {response.json()}")


# ------------------------------------------------------------------ status
def test_startup_loads_the_index_in_the_background_then_reports_ready(fake_settings: Settings) -> None:
    app = create_app(fake_settings, embedder=FakeEmbedder())
    with TestClient(app) as client:
        assert client.get("/health").json()["status"] == "ok"
        ready = wait_ready(client)
    assert ready["ready"] is True
    assert ready["documents"] == 2 and ready["chunks"] > 0
    assert ready["model"] == "fake/hashing-bow"
    assert ready["stale"] == []


def test_not_ready_without_an_index_says_why(tmp_path: Path) -> None:
    settings = Settings(corpus_dir=tmp_path, index_dir=tmp_path / "missing")
    app = create_app(settings, embedder=FakeEmbedder())
    with TestClient(app) as client:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            body = client.get("/ready").json()
            if "qa index" in body["message"]:
                break
            time.sleep(0.05)
        response = client.get("/ready")
        assert response.status_code == 503
        assert response.headers["retry-after"] == "5"
        assert "no index at" in response.json()["message"]
        query = client.post("/query", json={"question": "dose?"})
        assert query.status_code == 503
        assert client.get("/health").status_code == 200


def test_stale_index_is_reported_by_ready(fake_settings: Settings, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "other.md").write_text("## A\n\nb\n")
    app = create_app(fake_settings.model_copy(update={"corpus_dir": corpus}), embedder=FakeEmbedder())
    with TestClient(app) as client:
        assert any("changed" in reason for reason in wait_ready(client)["stale"])


# ------------------------------------------------------------------ /query
def test_query_returns_attributed_passages(client: TestClient, fake_service: QAService) -> None:
    response = client.post("/query", json={"question": "  Should I stop Imnovid during an infection?  ", "k": 3})
    assert response.status_code == 200
    body = response.json()
    assert body["question"] == "Should I stop Imnovid during an infection?"
    assert body["mode"] == "multiview" and body["match"] in {"strong", "weak", "none"}
    assert body["entities"] == [
        {
            "name": "Pomalidomide",
            "matched_text": "Imnovid",
            "doc_ids": ["pomalidomide-infection-article", "pomalidomide-monograph"],
        }
    ]
    assert [r["rank"] for r in body["results"]] == [1, 2, 3]
    assert body["index"] == {"fingerprint": fake_service.index.fingerprint, "model": "fake/hashing-bow"}
    assert body["took_ms"] >= 0
    for result in body["results"]:
        assert set(result) == {
            "rank",
            "type",
            "similarity",
            "sources",
            "score",
            "text",
            "chunk_id",
            "doc_id",
            "title",
            "heading_path",
            "source",
            "source_url",
            "last_modified",
            "is_banned",
        }
        assert set(result["source"]) == {"path", "start", "end", "line_start", "line_end"}
        record = fake_service.index.documents[result["doc_id"]]
        source = record.source_text[result["source"]["start"] : result["source"]["end"]]
        assert source.startswith(result["text"][:20])
        assert result["heading_path"][0] == result["title"]


def test_query_k_defaults_to_five(client: TestClient) -> None:
    assert len(client.post("/query", json={"question": "pomalidomide dose"}).json()["results"]) == 5


def test_k_larger_than_the_index_returns_everything(client: TestClient, fake_service: QAService) -> None:
    results = client.post("/query", json={"question": "pomalidomide", "k": 50}).json()["results"]
    assert len(results) == min(50, len(fake_service.index.chunks))


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"question": ""}, "question is empty"),
        ({"question": "   \n\t "}, "question is empty"),
        ({"question": "x" * 2001}, "2001 characters; the limit is 2000"),
        ({"question": "dose?", "k": 0}, "k must be at least 1, got 0"),
        ({"question": "dose?", "k": 51}, "k must be at most 50, got 51"),
        ({"question": "dose?", "k": -3}, "k must be at least 1"),
        ({"question": "dose?", "k": "5"}, "k must be a whole number"),
        ({"question": "dose?", "k": 2.5}, "k must be a whole number"),
        ({"question": "dose?", "k": True}, "k must be a whole number"),
        ({"question": "dose?", "k": None}, "k must be a whole number"),
        ({"question": 42}, "question must be a JSON string, got int"),
        ({"question": ["dose?"]}, "question must be a JSON string, got list"),
        ({"question": None}, "question must be a JSON string"),
        ({}, "question is required"),
        ({"question": "dose?", "top_k": 3}, "unknown field 'top_k'"),
        (
            {"question": "dose?", "mode": "semantic"},
            "mode must be one of multiview, hybrid, dense, bm25, got 'semantic'",
        ),
        ({"question": "dose?", "filters": ["x"]}, "filters must be an object"),
        ({"question": "dose?", "filters": {"doc_ids": "x"}}, "filters.doc_ids must be a JSON list"),
        ({"question": "dose?", "filters": {"doc": ["x"]}}, "unknown field 'filters.doc'"),
        ({"question": "dose?", "filters": {"sections": [""]}}, "filters.sections.0 is empty"),
        (["dose?"], "must be a JSON object"),
        ("dose?", "must be a JSON object"),
    ],
)
def test_bad_query_gets_422_with_an_actionable_message(client: TestClient, body: object, fragment: str) -> None:
    response = client.post("/query", json=body)
    assert response.status_code == 422, response.text
    payload = response.json()
    assert payload["error"] == "invalid_request"
    assert fragment in payload["message"], payload
    assert "Traceback" not in response.text


@pytest.mark.parametrize(
    ("filters", "fragment"),
    [({"doc_ids": ["aspirin"]}, "no document 'aspirin'"), ({"sections": ["Nope"]}, "no section is headed 'Nope'")],
)
def test_filter_naming_what_the_index_lacks_gets_404(client: TestClient, filters: dict, fragment: str) -> None:
    response = client.post("/query", json={"question": "dose?", "filters": filters})
    assert response.status_code == 404, response.text
    assert response.json()["error"] == "not_found"
    assert fragment in response.json()["message"]


def test_malformed_json_gets_422(client: TestClient) -> None:
    response = client.post("/query", content=b'{"question": "dose?"', headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert "not valid JSON" in response.json()["message"]


def test_missing_body_gets_422(client: TestClient) -> None:
    response = client.post("/query")
    assert response.status_code == 422
    assert "required" in response.json()["message"]


def test_oversized_body_gets_413(client: TestClient) -> None:
    response = client.post("/query", json={"question": "x" * 100_000})
    assert response.status_code == 413
    assert "shorter question" in response.json()["message"]


def test_unknown_route_and_wrong_method_are_json_errors(client: TestClient) -> None:
    missing = client.get("/nope")
    assert missing.status_code == 404 and "/docs" in missing.json()["message"]
    wrong = client.get("/query")
    assert wrong.status_code == 405 and "GET is not allowed" in wrong.json()["message"]


def test_server_fault_is_a_clean_500_without_traceback(fake_settings: Settings) -> None:
    class Broken:
        def ask(self, *args, **kwargs):
            raise RuntimeError("boom")

    app = create_app(fake_settings, load_on_startup=False)
    app.dependency_overrides[get_service] = lambda: Broken()
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post("/query", json={"question": "dose?"})
    assert response.status_code == 500
    assert response.json() == {"error": "internal", "message": "internal error; the server log has the details"}


# ------------------------------------------------------------------ /documents
def test_documents_lists_ids_titles_and_chunk_counts(client: TestClient, fake_service: QAService) -> None:
    body = client.get("/documents").json()
    assert body["total"] == 2
    by_id = {d["doc_id"]: d for d in body["documents"]}
    assert by_id["pomalidomide-monograph"]["title"] == "Pomalidomide"
    assert by_id["pomalidomide-infection-article"]["format"] == "plaintext"
    assert sum(d["chunks"] for d in body["documents"]) == len(fake_service.index.chunks)


def test_document_detail_has_metadata_faqs_outline_and_dropped_chrome(client: TestClient) -> None:
    monograph = client.get("/documents/pomalidomide-monograph").json()
    assert monograph["is_banned"] is False
    assert len(monograph["faqs"]) == 10
    outline = [tuple(o["heading_path"]) for o in monograph["outline"]]
    assert ("Pomalidomide", "Dosage", "Standard Dosage", "Special Cases") in outline
    assert ("Pomalidomide", "Dosage") in outline  # a heading with no text of its own still shows
    article = client.get("/documents/pomalidomide-infection-article").json()
    assert {d["rule"] for d in article["dropped"]} >= {"disclaimer", "promotion", "review-status"}
    assert article["last_modified"] == "2025-08-05"


def test_unknown_document_gets_404(client: TestClient) -> None:
    response = client.get("/documents/aspirin")
    assert response.status_code == 404
    assert response.json()["message"] == "no document with id 'aspirin'; GET /documents lists the ids"


# ------------------------------------------------------------------ OpenAPI
def test_openapi_documents_every_field(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert client.get("/docs").status_code == 200
    schemas = spec["components"]["schemas"]
    ours = [name for name in schemas if name not in {"HTTPValidationError", "ValidationError"}]
    assert {"QueryRequest", "QueryResponse", "Passage", "DocumentDetail", "ErrorResponse", "Ready"} <= set(ours)
    for name in ours:
        for field, schema in schemas[name]["properties"].items():
            described = schema.get("description") or "$ref" in schema or "allOf" in schema
            assert described, f"{name}.{field} has no description"
    k = schemas["QueryRequest"]["properties"]["k"]
    assert (k["minimum"], k["maximum"], k["default"]) == (1, 50, 5)
    assert "422" in spec["paths"]["/query"]["post"]["responses"]


def test_mode_filters_and_faq_results_over_http(client: TestClient) -> None:
    body = client.post(
        "/query",
        json={
            "question": "antibiotics",
            "k": 3,
            "mode": "bm25",
            "filters": {"doc_ids": ["pomalidomide-infection-article"]},
        },
    ).json()
    assert body["mode"] == "bm25"
    assert {r["doc_id"] for r in body["results"]} == {"pomalidomide-infection-article"}
    faq = client.post("/query", json={"question": "What is the recommended dosage for Pomalidomide?"}).json()
    first = faq["results"][0]
    assert first["type"] == "faq"
    assert len(first["sources"]) >= 2 and first["sources"][0]["source"] == first["source"]
    assert all(r["type"] == "passage" for r in faq["results"][1:])


def test_ready_reports_the_calibration(client: TestClient) -> None:
    ready = client.get("/ready").json()
    assert ready["calibrated"] is False  # nothing is calibrated for the fake model
    assert "qa eval --calibrate" in ready["calibration_note"]
