"""The widget end to end in Debian's chromium, driven by Playwright: the real service on a
loopback port with the seed corpus and the real model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from qa.api import create_app
from qa.serving.chat import NOT_COVERED
from qa.settings import Settings
from tests.conftest import SEED_CORPUS
from tests.live import live_server

pytestmark = pytest.mark.integration

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def service_url(real_index_dir: Path, real_embedder) -> Iterator[str]:
    def make_app(port: int):
        settings = Settings(corpus_dir=SEED_CORPUS, index_dir=real_index_dir, port=port)
        return create_app(settings, embedder=real_embedder)

    with live_server(make_app) as url:
        yield url


@pytest.fixture()
def browser(chromium: str):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


def ask(page, question: str, turn: int):
    page.fill("#qa-input", question)
    page.press("#qa-input", "Enter")
    bubble = page.locator(".msg.bot").nth(turn)
    bubble.locator(".answer").wait_for()
    page.wait_for_function(
        "n => { const b = document.querySelector('#drug-qa-widget').shadowRoot.querySelectorAll('.msg.bot')[n];"
        " return b && b.getAttribute('aria-busy') === 'false'; }",
        arg=turn,
    )
    return bubble


def test_widget_answers_streams_cites_and_opens_the_highlighted_source(
    browser, service_url: str, artifacts: Path
) -> None:
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    page = context.new_page()
    page.goto(service_url + "/")
    launcher = page.get_by_role("button", name="Open the drug information chat")
    launcher.focus()
    page.keyboard.press("Enter")  # keyboard, not a mouse click
    assert launcher.get_attribute("aria-expanded") == "true"
    assert page.get_by_role("dialog", name="Drug information chat").is_visible()

    bubble = ask(page, "What is the recommended dose of pomalidomide for myeloma?", 0)
    answer = bubble.locator(".answer").inner_text()
    assert "4 mg" in answer and "[1]" in answer
    assert bubble.get_attribute("data-match") == "strong"
    links = bubble.locator("ol.citations a")
    assert links.count() >= 1
    assert links.first.inner_text().startswith("Pomalidomide › ")
    page.screenshot(path=str(artifacts / "widget-answer.png"))

    follow_up = ask(page, "What about during pregnancy?", 1)
    assert "Pomalidomide" in follow_up.locator(".context").inner_text()
    assert "pregnan" in follow_up.locator(".answer").inner_text().lower()
    assert any("Pregnancy" in text for text in follow_up.locator("ol.citations a").all_inner_texts())
    page.screenshot(path=str(artifacts / "widget-follow-up.png"))

    with context.expect_page() as opened:
        links.first.click()
    view = opened.value
    view.wait_for_load_state()
    assert "/documents/pomalidomide-monograph/view#" in view.url
    highlighted = view.locator(".hit")
    assert highlighted.count() >= 1
    assert highlighted.first.is_visible()
    assert view.locator("#cited").inner_text().startswith("Highlighted: Pomalidomide › ")
    cited = " ".join(highlighted.all_inner_texts())
    assert any(word in cited for word in ("mg", "dose", "dosage"))
    view.screenshot(path=str(artifacts / "document-view.png"))

    page.keyboard.press("Escape")
    assert launcher.get_attribute("aria-expanded") == "false"
    context.close()


def test_widget_says_plainly_when_the_documents_do_not_cover_a_question(
    browser, service_url: str, artifacts: Path
) -> None:
    page = browser.new_page()
    page.goto(service_url + "/")
    page.get_by_role("button", name="Open the drug information chat").click()
    bubble = ask(page, "What's the weather in Paris tomorrow?", 0)
    assert bubble.locator(".answer").inner_text() == NOT_COVERED
    assert bubble.get_attribute("data-match") == "none"
    assert bubble.locator("ol.citations").count() == 0
    page.screenshot(path=str(artifacts / "widget-not-covered.png"))


def test_widget_escapes_what_it_shows(browser, service_url: str) -> None:
    page = browser.new_page()
    page.goto(service_url + "/")
    page.get_by_role("button", name="Open the drug information chat").click()
    ask(page, "<img src=x onerror=window.__pwned=1> pomalidomide dose", 0)
    assert page.evaluate("window.__pwned") is None
    user = page.locator(".msg.user").first.inner_text()
    assert user.startswith("<img src=x")


WIDGET_KEY = "public-widget-key-0123456789"


@pytest.fixture(scope="module")
def keyed_url(real_index_dir: Path, real_embedder) -> Iterator[str]:
    def make_app(port: int):
        keys = f"query:{WIDGET_KEY},admin:admin-key-0123456789abcdef"
        settings = Settings(corpus_dir=SEED_CORPUS, index_dir=real_index_dir, port=port, api_keys=keys)
        return create_app(settings, embedder=real_embedder)

    with live_server(make_app) as url:
        yield url


def host_page(page, url: str, key: str | None) -> None:
    """A page of the site that embeds the widget, served at the service's origin."""
    attribute = f' data-key="{key}"' if key else ""
    html = f'<!doctype html><title>Host</title><script src="{url}/widget.js"{attribute} defer></script>'
    page.route(f"{url}/host.html", lambda route: route.fulfill(status=200, content_type="text/html", body=html))
    page.goto(f"{url}/host.html")


@pytest.mark.parametrize("key", [WIDGET_KEY, None])
def test_widget_sends_its_data_key(browser, keyed_url: str, key: str | None) -> None:
    page = browser.new_page()
    host_page(page, keyed_url, key)
    page.get_by_role("button", name="Open the drug information chat").click()
    answer = ask(page, "What is the recommended dose of pomalidomide for myeloma?", 0).locator(".answer").inner_text()
    if key:
        assert "4 mg" in answer
    else:
        assert "could not answer" in answer and "needs a key" in answer
    page.close()
