"""What operators rely on: /metrics in Prometheus format, API keys and roles, rate limits,
request ids and JSON logs, the body limit on chunked bodies, and 405 with Allow."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from qa.api import create_app
from qa.serving.logs import configure_logging
from qa.settings import Settings
from tests.fakes import FakeEmbedder

QUERY_KEY = "query-key-0123456789abcdef"
ADMIN_KEY = "admin-key-0123456789abcdef"
METRICS_KEY = "metrics-key-0123456789abcdef"
KEYS = f"query:{QUERY_KEY},admin:{ADMIN_KEY},metrics:{METRICS_KEY}"
QUESTION = {"question": "What is the dose of pomalidomide?", "k": 3}


def serving_client(settings: Settings, **client_args: object) -> TestClient:
    """The app on ``settings``, its index loaded through the holder (the real serving path)
    with the fake embedder."""
    app = create_app(settings, load_on_startup=False)
    app.state.holder.load(settings, FakeEmbedder())
    assert app.state.holder.service is not None, app.state.holder.error
    return TestClient(app, raise_server_exceptions=False, **client_args)  # type: ignore[arg-type]


def with_(settings: Settings, **changes: object) -> Settings:
    return Settings(**{**settings.model_dump(), **changes})


def metric_samples(text: str) -> dict[str, list]:
    families = {f.name: f for f in text_string_to_metric_families(text)}
    return {name: family.samples for name, family in families.items()}


def value(samples: list, name: str, **labels: str) -> float:
    return sum(s.value for s in samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))


# ------------------------------------------------------------------ metrics
def test_metrics_after_a_few_queries_parse_and_add_up(fake_settings: Settings) -> None:
    with serving_client(with_(fake_settings, api_keys=KEYS), client=("127.0.0.1", 5000)) as client:
        headers = {"X-API-Key": QUERY_KEY}
        for _ in range(3):
            assert client.post("/query", json=QUESTION, headers=headers).status_code == 200
        chat = {"messages": [{"role": "user", "content": "pomalidomide dose"}]}
        assert client.post("/chat", json=chat, headers=headers).status_code == 200
        assert client.post("/query", json={"question": ""}, headers=headers).status_code == 422
        reload = client.post("/admin/reload", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
        assert reload.status_code == 200 and reload.json()["reloaded"] is True
        response = client.get("/metrics", headers={"X-API-Key": METRICS_KEY})
        service = client.app.state.holder.service  # type: ignore[attr-defined]
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = metric_samples(response.text)

    requests = samples["qa_http_requests"]
    assert value(requests, "qa_http_requests_total", route="/query", method="POST", status="200") == 3
    assert value(requests, "qa_http_requests_total", route="/query", status="422") == 1
    latency = samples["qa_http_request_duration_seconds"]
    assert value(latency, "qa_http_request_duration_seconds_count", route="/query", status="200") == 3
    assert value(latency, "qa_http_request_duration_seconds_bucket", route="/query", status="200", le="+Inf") == 3

    answers = samples["qa_answers"]
    assert value(answers, "qa_answers_total", endpoint="query") == 3
    assert value(answers, "qa_answers_total", endpoint="chat") == 1
    assert {s.labels["match"] for s in answers} <= {"strong", "weak", "none"}

    assert value(samples["qa_encoder_batch_texts"], "qa_encoder_batch_texts_count") >= 4  # one per question at least
    assert value(samples["qa_encoder_batch_seconds"], "qa_encoder_batch_seconds_sum") > 0
    assert value(samples["qa_index_reloads"], "qa_index_reloads_total", outcome="ok") == 1

    assert value(samples["qa_index_documents"], "qa_index_documents") == len(service.index.documents)
    assert value(samples["qa_index_chunks"], "qa_index_chunks") == len(service.index.chunks)
    assert value(samples["qa_index_build_seconds"], "qa_index_build_seconds") > 0
    (info,) = samples["qa_index_info"]
    assert info.labels["fingerprint"] == service.index.fingerprint
    assert info.labels["model"] == service.index.model_id
    assert value(samples["process_resident_memory_bytes"], "process_resident_memory_bytes") > 0


def test_metrics_label_routes_by_template_not_by_path(client: TestClient) -> None:
    for doc in ("a", "b", "c"):
        client.get(f"/documents/no-such-{doc}")
    client.get("/no/such/route")
    text = client.get("/metrics").text
    routes = {s.labels.get("route") for s in metric_samples(text)["qa_http_requests"]}
    assert "/documents/{doc_id:path}" in routes and "unmatched" in routes
    assert not any(r and "no-such" in r for r in routes)


# ------------------------------------------------------------------ keys and roles
@pytest.fixture()
def keyed(fake_settings: Settings) -> Iterator[TestClient]:
    with serving_client(with_(fake_settings, api_keys=KEYS)) as client:
        yield client


def test_no_key_gets_401_saying_how_to_send_one(keyed: TestClient) -> None:
    response = keyed.post("/query", json=QUESTION)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert "X-API-Key" in response.json()["message"]
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_wrong_key_gets_401_and_is_not_echoed(keyed: TestClient) -> None:
    response = keyed.post("/query", json=QUESTION, headers={"X-API-Key": "not-a-key-0123456789"})
    assert response.status_code == 401
    assert "not valid" in response.json()["message"]
    assert "not-a-key" not in response.text


@pytest.mark.parametrize("how", ["header", "bearer"])
def test_query_key_may_query_either_way(keyed: TestClient, how: str) -> None:
    headers = {"X-API-Key": QUERY_KEY} if how == "header" else {"Authorization": f"Bearer {QUERY_KEY}"}
    assert keyed.post("/query", json=QUESTION, headers=headers).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "key", "status"),
    [
        ("POST", "/admin/reload", QUERY_KEY, 403),
        ("GET", "/metrics", QUERY_KEY, 403),
        ("POST", "/query", METRICS_KEY, 403),
        ("GET", "/metrics", METRICS_KEY, 200),
        ("GET", "/metrics", ADMIN_KEY, 200),
        ("POST", "/query", ADMIN_KEY, 200),
    ],
)
def test_roles(keyed: TestClient, method: str, path: str, key: str, status: int) -> None:
    body = QUESTION if path == "/query" else None
    response = keyed.request(method, path, json=body, headers={"X-API-Key": key})
    assert response.status_code == status, response.text
    if status == 403:
        assert "role" in response.json()["message"]


def test_public_routes_need_no_key(keyed: TestClient) -> None:
    assert keyed.get("/health").status_code == 200
    assert keyed.get("/ready").status_code == 200
    assert keyed.get("/documents").status_code == 200


def test_admin_key_reloads_from_off_loopback(fake_settings: Settings) -> None:
    with serving_client(with_(fake_settings, api_keys=KEYS), client=("203.0.113.7", 40000)) as client:
        assert client.post("/admin/reload", headers={"X-API-Key": ADMIN_KEY}).json()["reloaded"] is True
        assert client.post("/admin/reload").status_code == 401


def test_binding_off_loopback_without_keys_warns_loudly(
    fake_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(with_(fake_settings, host="0.0.0.0"), load_on_startup=False)
    with caplog.at_level(logging.WARNING), TestClient(app):
        pass
    assert any("NO API KEYS" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)


# ------------------------------------------------------------------ rate limits
def test_a_burst_over_the_limit_gets_429_with_retry_after(fake_settings: Settings) -> None:
    # One token per 100 s after a burst of 3: the 4th request in a row is over, however slow the machine.
    settings = with_(fake_settings, api_keys=KEYS, rate_limit=0.01, rate_burst=3)
    with serving_client(settings) as client:
        headers = {"X-API-Key": QUERY_KEY}
        statuses = [client.post("/query", json=QUESTION, headers=headers).status_code for _ in range(4)]
        refused = client.post("/query", json=QUESTION, headers=headers)
        other_key = client.post("/query", json=QUESTION, headers={"X-API-Key": ADMIN_KEY})
        metrics = client.get("/metrics", headers={"X-API-Key": ADMIN_KEY})
    assert statuses == [200, 200, 200, 429]
    assert refused.status_code == 429 and refused.json()["error"] == "rate_limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 100
    assert "retry after" in refused.json()["message"]
    assert other_key.status_code == 200  # each key has its own bucket
    assert value(metric_samples(metrics.text)["qa_rate_limited"], "qa_rate_limited_total", client="key") == 2


def test_without_keys_the_limit_is_per_address(fake_settings: Settings) -> None:
    settings = with_(fake_settings, rate_limit=0.01, rate_burst=2)
    with serving_client(settings, client=("192.0.2.1", 1)) as first, serving_client(settings) as other_app:
        assert [first.get("/documents").status_code for _ in range(3)] == [200, 200, 429]
        assert other_app.get("/documents").status_code == 200
        assert first.get("/health").status_code == 200  # probes are never limited


# ------------------------------------------------------------------ request ids and logs
@pytest.fixture()
def json_log() -> Iterator[io.StringIO]:
    """Logging configured as `qa serve` does with QA_LOG_FORMAT=json, into a buffer."""
    root, ours = logging.getLogger(), logging.getLogger("qa")
    saved = (list(root.handlers), root.level, ours.level)
    configure_logging("info", "json")
    buffer = io.StringIO()
    root.handlers[0].setStream(buffer)  # type: ignore[attr-defined]
    yield buffer
    root.handlers[:], root.level, ours.level = saved


def log_lines(buffer: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def test_request_id_is_kept_or_made_and_returned(client: TestClient) -> None:
    given = client.post("/query", json=QUESTION, headers={"X-Request-ID": "trace-42.a"})
    assert given.headers["x-request-id"] == "trace-42.a"
    made = client.post("/query", json=QUESTION)
    odd = client.post("/query", json=QUESTION, headers={"X-Request-ID": "bad id\twith spaces"})
    assert len(made.headers["x-request-id"]) == 32
    assert odd.headers["x-request-id"] != "bad id\twith spaces"


def test_json_logs_carry_the_request_id_but_not_the_question_or_key(
    fake_settings: Settings, json_log: io.StringIO
) -> None:
    with serving_client(with_(fake_settings, api_keys=KEYS)) as client:
        client.post("/query", json=QUESTION, headers={"X-Request-ID": "req-1", "X-API-Key": QUERY_KEY})
    lines = log_lines(json_log)
    (access,) = [line for line in lines if line["logger"] == "qa.access"]
    assert access["request_id"] == "req-1"
    assert access["route"] == "/query" and access["status"] == 200 and access["duration_ms"] > 0
    assert {"time", "level", "message"} <= set(access)
    text = json_log.getvalue()
    assert QUESTION["question"] not in text
    assert QUERY_KEY not in text


def test_questions_are_logged_only_when_allowed(fake_settings: Settings, json_log: io.StringIO) -> None:
    with serving_client(with_(fake_settings, log_questions=True)) as client:
        client.post("/query", json=QUESTION, headers={"X-Request-ID": "req-2"})
    (line,) = [line for line in log_lines(json_log) if line["logger"] == "qa.questions"]
    assert line["question"] == QUESTION["question"] and line["request_id"] == "req-2"
    assert line["match"] in {"strong", "weak", "none"}


# ------------------------------------------------------------------ HTTP contract details
def test_chunked_body_over_the_limit_gets_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"question": "'
        for _ in range(80):
            yield b"x" * 1024
        yield b'"}'

    response = client.post("/query", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"


def test_small_chunked_body_is_answered(client: TestClient) -> None:
    body = json.dumps(QUESTION).encode()
    response = client.post("/query", content=iter([body[:10], body[10:]]), headers={"Content-Type": "application/json"})
    assert response.status_code == 200


@pytest.mark.parametrize(("method", "path", "allowed"), [("TRACE", "/query", "POST"), ("DELETE", "/health", "GET")])
def test_405_names_the_allowed_methods(client: TestClient, method: str, path: str, allowed: str) -> None:
    response = client.request(method, path)
    assert response.status_code == 405
    assert allowed in response.headers["allow"]
    assert allowed in response.json()["message"]


def test_settings_never_echo_a_bad_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from qa.errors import ConfigError
    from qa.settings import load_settings

    monkeypatch.setenv("QA_API_KEYS", "query:short-secret")
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert "QA_API_KEYS" in str(raised.value) and "at least 16" in str(raised.value)
    assert "short-secret" not in str(raised.value)


# ------------------------------------------------------------------ found in review
def test_readers_sharing_the_public_query_key_have_buckets_of_their_own(fake_settings: Settings) -> None:
    settings = with_(fake_settings, api_keys=KEYS, rate_limit=0.01, rate_burst=2)
    headers = {"X-API-Key": QUERY_KEY}
    with serving_client(settings, client=("192.0.2.1", 1)) as reader:
        app = reader.app
        assert [reader.post("/query", json=QUESTION, headers=headers).status_code for _ in range(3)] == [200, 200, 429]
        with TestClient(app, client=("192.0.2.2", 1)) as other_reader:
            assert other_reader.post("/query", json=QUESTION, headers=headers).status_code == 200


def test_wrong_keys_spend_the_address_tokens(fake_settings: Settings) -> None:
    settings = with_(fake_settings, api_keys=KEYS, rate_limit=0.01, rate_burst=2)
    with serving_client(settings) as client:
        statuses = [client.post("/query", json=QUESTION, headers={"X-API-Key": "x" * 20}).status_code for _ in range(3)]
    assert statuses == [401, 401, 429]


def test_an_unexpected_error_is_a_500_that_carries_the_request_id(
    fake_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    from qa.api import get_service

    def broken() -> None:
        raise RuntimeError("simulated bug")

    app = create_app(fake_settings, load_on_startup=False)
    app.dependency_overrides[get_service] = broken
    with caplog.at_level(logging.ERROR), TestClient(app, raise_server_exceptions=False) as client:
        response = client.post("/query", json=QUESTION, headers={"X-Request-ID": "trace-500"})
    assert response.status_code == 500 and response.json()["error"] == "internal"
    assert "simulated bug" not in response.text
    assert response.headers["x-request-id"] == "trace-500"
    assert any(r.getMessage() == "unhandled error" and r.exc_info for r in caplog.records)


def test_a_broken_feedback_database_does_not_take_metrics_down(fake_settings: Settings) -> None:
    fake_settings.data_dir.mkdir(parents=True)
    (fake_settings.data_dir / "feedback.sqlite3").write_bytes(b"this is not a database" * 100)
    with serving_client(fake_settings) as client:
        response = client.get("/metrics")
    assert response.status_code == 200
    names = {family.name for family in text_string_to_metric_families(response.text)}
    assert "qa_index_documents" in names and "qa_feedback_records" not in names


def test_chat_answers_without_an_answer_id_when_feedback_cannot_be_kept(
    fake_settings: Settings, tmp_path: Path
) -> None:
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the data directory should be")
    with serving_client(with_(fake_settings, data_dir=blocked / "data")) as client:
        response = client.post("/chat", json={"messages": [{"role": "user", "content": "pomalidomide dose"}]})
    assert response.status_code == 200
    assert response.json()["answer_id"] is None and response.json()["answer"]
