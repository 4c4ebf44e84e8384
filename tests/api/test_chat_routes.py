"""POST /chat over HTTP (JSON and SSE), CORS, the widget script and the demo page."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from fastapi.testclient import TestClient

from qa.api import create_app, get_service
from qa.api.routes.chat import chat_events
from qa.serving.chat import NOT_COVERED, Message, retrieve
from qa.serving.feedback_desk import FeedbackDesk
from qa.serving.service import QAService
from qa.settings import Settings
from tests.conftest import ROOT

WIDGET = (ROOT / "qa" / "api" / "web" / "widget.js").read_text()


def user(text: str) -> dict:
    return {"role": "user", "content": text}


def sse(text: str) -> list[tuple[str, dict]]:
    events = []
    for frame in text.strip().split("\n\n"):
        name = re.search(r"^event: (.*)$", frame, re.M).group(1)
        data = json.loads(re.search(r"^data: (.*)$", frame, re.M).group(1))
        events.append((name, data))
    return events


# ------------------------------------------------------------------ HTTP
def test_chat_json(client: TestClient) -> None:
    body = client.post("/chat", json={"messages": [user("pomalidomide dosage myeloma")], "k": 3}).json()
    assert set(body) == {
        "question", "answer", "sentences", "citations", "match", "note", "disclaimer", "context", "entities", "took_ms",
        "answer_id",
    }  # fmt: skip
    citation = body["citations"][0]
    assert citation["link"] == f"/documents/{citation['doc_id']}/view?passage={citation['chunk_id']}#cited"
    page = client.get(citation["link"].split("#")[0])
    assert page.status_code == 200 and '<mark id="cited"' in page.text


def test_chat_streams_events_in_order(client: TestClient) -> None:
    messages = [
        user("What is the dose of pomalidomide?"),
        {"role": "assistant", "content": "..."},
        user("And in pregnancy?"),
    ]
    with client.stream(
        "POST", "/chat", json={"messages": messages}, headers={"Accept": "text/event-stream"}
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse(response.read().decode())
    names = [name for name, _ in events]
    assert names[0] == "meta" and names[-2:] == ["citations", "done"]
    assert set(names[1:-2]) == {"answer"}
    assert events[0][1]["context"] == {"carried_over": ["Pomalidomide"], "from_message": 0}
    cited = {c["number"] for c in events[-2][1]["citations"]}
    assert events[-2][1]["answer_id"].count(".") == 1  # for POST /feedback
    assert {data["citation"] for name, data in events if name == "answer"} <= cited


def test_stream_of_a_question_not_covered(client: TestClient) -> None:
    response = client.post(
        "/chat", json={"messages": [user("What is the dose of atorvastatin?")]}, headers={"Accept": "text/event-stream"}
    )
    events = sse(response.text)
    assert [name for name, _ in events] == ["meta", "answer", "citations", "done"]
    assert events[0][1]["match"] == "none"
    assert events[1][1] == {"text": NOT_COVERED, "citation": None}
    assert events[2][1]["citations"] == []


def test_a_client_that_leaves_costs_no_further_work(fake_service: QAService, fake_settings) -> None:
    turn = retrieve(fake_service, [Message("user", "pomalidomide dosage myeloma")], 5)
    calls_before = fake_service.embedder.calls

    async def gone() -> bool:
        return True

    async def collect() -> list[str]:
        desk = FeedbackDesk(fake_settings)
        return [event async for event in chat_events(fake_service, desk, turn, gone)]

    events = asyncio.run(collect())
    assert len(events) == 1 and events[0].startswith("event: meta")
    assert fake_service.embedder.calls == calls_before  # the answer was never composed


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"messages": []}, "messages is empty"),
        ({}, "messages is required"),
        ({"messages": [{"role": "system", "content": "x"}]}, "messages.0.role must be 'user' or 'assistant'"),
        ({"messages": [{"role": "user", "content": 5}]}, "messages.0.content must be a JSON string"),
        ({"messages": [{"role": "user", "content": "  "}]}, "messages.0.content is empty"),
        ({"messages": [{"role": "user", "content": "x" * 2001}]}, "2001 characters"),
        ({"messages": [{"role": "assistant", "content": "yo"}]}, "messages has no user message"),
        ({"messages": [user("hi")] * 41}, "at most 40"),
        ({"messages": [user("hi")], "k": 0}, "k must be at least 1"),
        ({"messages": [user("hi")], "k": 21}, "k must be at most 20"),
        ({"messages": [{"role": "user", "content": "hi", "name": "x"}]}, "unknown field 'messages.0.name'"),
        ({"messages": "hi"}, "messages must be a JSON list"),
    ],
)
def test_bad_chat_requests_get_422(client: TestClient, body: dict, fragment: str) -> None:
    response = client.post("/chat", json=body)
    assert response.status_code == 422, response.text
    assert fragment in response.json()["message"]


# ------------------------------------------------------------------ CORS
def test_cors_allows_listed_origins_only(fake_settings: Settings, fake_service: QAService) -> None:
    app = create_app(
        fake_settings.model_copy(update={"cors_origins": ["https://pharmacy.example"]}), load_on_startup=False
    )
    app.dependency_overrides[get_service] = lambda: fake_service
    with TestClient(app) as client:
        preflight = client.options(
            "/chat",
            headers={
                "Origin": "https://pharmacy.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://pharmacy.example"
        refused = client.options(
            "/chat", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
        )
        assert "access-control-allow-origin" not in refused.headers
        simple = client.post("/chat", json={"messages": [user("dose")]}, headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in simple.headers
        allowed = client.post("/query", json={"question": ""}, headers={"Origin": "https://pharmacy.example"})
        assert allowed.status_code == 422  # errors carry CORS headers too, so the widget can read them
        assert allowed.headers["access-control-allow-origin"] == "https://pharmacy.example"


def test_default_origins_are_the_service_and_local_development() -> None:
    origins = Settings(port=8123).allowed_origins()
    assert "http://127.0.0.1:8123" in origins and "http://localhost:5173" in origins
    assert all(o.startswith(("http://localhost:", "http://127.0.0.1:")) for o in origins)


# ------------------------------------------------------------------ widget, demo, view page
def test_widget_script_is_served_small_and_never_parses_html(client: TestClient) -> None:
    response = client.get("/widget.js")
    assert response.headers["content-type"].startswith("application/javascript")
    assert response.text == WIDGET
    assert len(WIDGET) < 12_000
    assert "innerHTML" not in WIDGET and "insertAdjacentHTML" not in WIDGET and "document.write" not in WIDGET
    assert 'role: "dialog"' in WIDGET and '"aria-label"' in WIDGET and '"aria-expanded"' in WIDGET
    assert "import " not in WIDGET and "require(" not in WIDGET  # no dependencies


def test_demo_page_hosts_the_widget(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert '<script src="/widget.js" defer></script>' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
