"""The widget end to end in Debian's chromium, driven by Playwright: the real service on a
loopback port with the seed corpus and the real model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa import cli
from qa.api import create_app
from qa.cli.common import CliContext
from qa.indexing.storage import load_index
from qa.serving.chat import NOT_COVERED
from qa.settings import Settings
from tests.api.test_document_view import expected_text
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
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the served app keeps readers' feedback."""
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="module")
def service_url(real_index_dir: Path, real_embedder, data_dir: Path) -> Iterator[str]:
    def make_app(port: int):
        settings = Settings(corpus_dir=SEED_CORPUS, index_dir=real_index_dir, port=port, data_dir=data_dir)
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


MARKED_STRETCH = """() => {
  const marks = document.querySelectorAll("mark");
  if (!marks.length) { return null; }
  const range = document.createRange();
  range.setStartBefore(marks[0]);
  range.setEndAfter(marks[marks.length - 1]);
  const outside = [];
  const walker = document.createTreeWalker(range.commonAncestorContainer, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (range.intersectsNode(node) && !node.parentElement.closest("mark")) { outside.push(node.data); }
  }
  return {text: range.toString(), outside: outside.join("")};
}"""


def check_document_page(view, index_dir: Path, artifacts: Path) -> None:
    """The cited document as a reader sees it: no frontmatter or markup, headings, the cited
    passage marked exactly, readable on a phone; screenshots at 1280 and 375 px."""
    assert "/documents/pomalidomide-monograph/view?passage=" in view.url and view.url.endswith("#cited")
    chunk_id = view.url.split("passage=")[1].split("#")[0]
    index = load_index(index_dir)
    places = [*index.chunks, *(p for entry in index.faqs.entries for p in entry.places)]  # passages, FAQ answers
    chunk = next(c for c in places if c.id == chunk_id)
    visible = view.locator("body").inner_text()
    assert "---" not in [line.strip() for line in visible.splitlines()]
    assert "**" not in visible and "title:" not in visible
    assert view.locator("main h2").first.is_visible()
    stretch = view.evaluate(MARKED_STRETCH)
    assert stretch is not None and not stretch["outside"].strip()  # nothing but marks in the stretch
    assert " ".join(stretch["text"].split()) == expected_text(chunk.text)
    assert view.locator("mark").first.is_visible()  # scrolled into view
    assert "Cited passage" in view.locator("#status").inner_text()
    center = "document.getElementById('cited').scrollIntoView({block: 'center'})"
    view.set_viewport_size({"width": 1280, "height": 900})
    view.evaluate(center)
    view.screenshot(path=str(artifacts / "document-view-1280.png"))
    view.set_viewport_size({"width": 375, "height": 812})
    view.evaluate(center)
    assert view.evaluate("document.documentElement.scrollWidth") <= 376  # no sideways scrolling
    view.screenshot(path=str(artifacts / "document-view-375.png"))


def check_feedback_becomes_a_gold_set(data_dir: Path, real_embedder, tmp_path: Path) -> None:
    """`qa feedback export` writes the helpful answer as a gold item and the unhelpful one for
    review; `qa eval --eval-file` scores the gold item."""
    gold, review = tmp_path / "feedback.jsonl", tmp_path / "feedback.review.jsonl"
    runner = CliRunner()
    real = CliContext(make_embedder=lambda settings: real_embedder)
    exported = runner.invoke(cli.main, ["feedback", "export", "--out", str(gold), "--data-dir", str(data_dir)])
    assert exported.exit_code == 0, exported.output
    (item,) = [json.loads(line) for line in gold.read_text().splitlines()]
    (flagged,) = [json.loads(line) for line in review.read_text().splitlines()]
    assert item["question"] == "What about during pregnancy?" and item["doc"] == "pomalidomide-monograph"
    assert flagged["helpful"] is False and "pomalidomide" in flagged["question"].lower()
    args = ["eval", "--corpus", str(SEED_CORPUS), "--eval-file", str(gold), "--reports", str(tmp_path / "reports")]
    args += ["--index", str(tmp_path / "eval-index"), "-q", "--strict"]
    scored = runner.invoke(cli.main, args, obj=real)
    assert scored.exit_code == 0, scored.output
    metrics = json.loads(next((tmp_path / "reports").rglob("metrics.json")).read_text())
    assert metrics["eval"]["scored"] == 1 and metrics["eval"]["problems"] == []


def test_widget_answers_streams_cites_and_opens_the_highlighted_source(
    browser, service_url: str, real_index_dir: Path, real_embedder, data_dir: Path, artifacts: Path, tmp_path: Path
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
    check_document_page(view, real_index_dir, artifacts)

    # Feedback: "No" on the first answer, "Yes" on the follow-up; then export and score it.
    for bubble_, choice in ((bubble, "No"), (follow_up, "Yes")):
        assert "Good match" in bubble_.locator(".match").inner_text()
        bubble_.get_by_role("button", name=choice).click()
        bubble_.get_by_text("Thank you for your feedback.").wait_for()
    page.screenshot(path=str(artifacts / "widget-feedback.png"))
    check_feedback_becomes_a_gold_set(data_dir, real_embedder, tmp_path)

    page.locator("#qa-input").focus()
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
    assert bubble.locator(".match").inner_text() == "Not covered by the documents."
    assert bubble.get_by_role("button", name="Yes").count() == 0  # nothing to judge
    page.screenshot(path=str(artifacts / "widget-not-covered.png"))
    weak = ask(page, "can I eat grapefruit with pomalidomide", 1)  # a weak match for the bundled model
    assert weak.get_attribute("data-match") == "weak"
    assert weak.locator(".match").inner_text() == "Weak match: these passages may not answer your question."


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


def host_page(page, url: str, key: str | None, attributes: str = "") -> None:
    """A page of the site that embeds the widget, served at the service's origin."""
    attribute = (f' data-key="{key}"' if key else "") + attributes
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


def test_widget_takes_a_title_and_colour_and_fills_a_phone_screen(browser, keyed_url: str, artifacts: Path) -> None:
    page = browser.new_page(viewport={"width": 375, "height": 740})
    host_page(page, keyed_url, WIDGET_KEY, ' data-title="Pharmacy questions" data-accent="#8a1538"')
    launcher = page.get_by_role("button", name="Open the drug information chat")
    assert launcher.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(138, 21, 56)"
    launcher.click()
    dialog = page.get_by_role("dialog", name="Pharmacy questions chat")
    assert dialog.locator("h2").inner_text() == "Pharmacy questions"
    box = dialog.bounding_box()
    assert box is not None and box["x"] == 0 and box["width"] == 375  # the whole width on a narrow screen
    ask(page, "What is the recommended dose of pomalidomide for myeloma?", 0)
    assert "not medical advice" in dialog.locator(".disclaimer").inner_text()
    page.screenshot(path=str(artifacts / "widget-375.png"))
    page.close()
