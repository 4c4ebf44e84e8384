"""The document pages: the readable page (frontmatter and markup gone, the cited passage marked
exactly, phone-ready) and the exact-source page (every passage tagged, spans exact); both
escape the document."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from pathlib import Path

from fastapi.testclient import TestClient

from qa.api import create_app, get_service
from qa.indexing.build import build_index
from qa.indexing.storage import load_index
from qa.serving.service import QAService
from qa.settings import Settings
from tests.conftest import FAKE_CHUNKING
from tests.fakes import FakeEmbedder


def test_view_page_marks_every_passage_and_escapes_the_document(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "evil.md").write_text(
        "---\ntitle: <script>alert(1)</script>\n---\n## Use\n\nTake <img src=x onerror=alert(2)> & rest.\n"
    )
    build_index(corpus, tmp_path / "index", FakeEmbedder(), FAKE_CHUNKING)
    service = QAService(load_index(tmp_path / "index"), FakeEmbedder())
    app = create_app(Settings(corpus_dir=corpus, index_dir=tmp_path / "index"), load_on_startup=False)
    app.dependency_overrides[get_service] = lambda: service
    with TestClient(app) as client:
        page = client.get("/documents/evil/view?raw=1")
        readable = client.get("/documents/evil/view")
        assert client.get("/documents/nope/view").status_code == 404
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "<img" not in page.text and "&lt;img src=x onerror=alert(2)&gt; &amp; rest." in page.text
    (chunk,) = service.index.chunks
    assert f'<a id="{chunk.id}"></a>' in page.text and f'data-chunks="{chunk.id}"' in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert readable.status_code == 200 and "default-src 'none'" in readable.headers["content-security-policy"]
    assert "<script>alert" not in readable.text and "<img" not in readable.text
    assert "&lt;img src=x onerror=alert(2)&gt; &amp; rest." in readable.text


def test_view_page_spans_are_the_cited_text(client: TestClient, fake_service: QAService) -> None:
    chunk = next(c for c in fake_service.index.chunks if c.doc_id == "pomalidomide-monograph")
    page = client.get("/documents/pomalidomide-monograph/view?raw=1").text
    pieces = re.findall(rf'<span data-chunks="[^"]*\b{chunk.id}\b[^"]*">(.*?)</span>', page, re.S)
    assert html.unescape("".join(pieces)) == chunk.text


class _Page(HTMLParser):
    """Visible text by element, and the marked text: from the first <mark> to the last, with
    nothing but whitespace between marks."""

    BLOCKS = frozenset({"p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "td", "th", "dt", "dd", "pre"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.parts: list[tuple[bool, str]] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append(tag)
        if tag not in {"meta", "br"}:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()
        if tag in self.BLOCKS:
            self.parts.append((False, "\n"))

    def handle_data(self, data: str) -> None:
        if not {"script", "style", "title"} & set(self.stack):
            self.parts.append(("mark" in self.stack, data))

    def visible(self) -> str:
        return "".join(text for _, text in self.parts)

    def marked(self) -> tuple[str, bool]:
        where = [i for i, (marked, _) in enumerate(self.parts) if marked]
        if not where:
            return "", True
        stretch = self.parts[where[0] : where[-1] + 1]
        only_marks = all(marked or not text.strip() for marked, text in stretch)
        return " ".join("".join(text for _, text in stretch).split()), only_marks


def expected_text(chunk_text: str, markdown: bool = True) -> str:
    """The passage as it reads rendered: Markdown without emphasis markers, heading hashes or list
    markers; plain text as it is."""
    if not markdown:
        return " ".join(chunk_text.split())
    text = re.sub(r"\*\*|__", "", chunk_text)
    text = re.sub(r"^\s*(#+|[-*+]|\d+[.)])\s+", "", text, flags=re.M)
    return " ".join(text.split())


def parsed(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    return parser


def test_readable_page_marks_exactly_each_cited_passage(client: TestClient, fake_service: QAService) -> None:
    chunks = [
        p
        for doc_id in ("pomalidomide-monograph", "pomalidomide-infection-article")
        for p in fake_service.places(doc_id)
    ]
    assert any(c.id.startswith("faq-") for c in chunks)  # FAQ answers are cited too
    for chunk in chunks:
        response = client.get(f"/documents/{chunk.doc_id}/view", params={"passage": chunk.id})
        page = parsed(response.text)
        marked, only_marks = page.marked()
        assert only_marks, chunk.id
        assert marked == expected_text(chunk.text, chunk.path.endswith(".md")), chunk.id
        assert response.text.count('id="cited"') == 1
        assert "Cited passage" in response.text


def test_readable_page_hides_frontmatter_and_markup(client: TestClient) -> None:
    response = client.get("/documents/pomalidomide-monograph/view")
    page = parsed(response.text)
    lines = [line.strip() for line in page.visible().splitlines()]
    assert "---" not in lines and not any(line.startswith(("title:", "faqs:", "is_banned:")) for line in lines)
    assert "**" not in page.visible() and "## " not in page.visible()
    assert "h2" in page.tags and "<mark" not in response.text
    assert "Last updated 22 September 2025" in response.text
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in response.text
    assert "script-src 'sha256-" in response.headers["content-security-policy"]


def test_plain_text_page_shows_headings_and_paragraphs_without_chrome(client: TestClient) -> None:
    page = parsed(client.get("/documents/pomalidomide-infection-article/view").text)
    assert "h2" in page.tags or "h3" in page.tags
    assert "p" in page.tags
    visible = page.visible()
    assert "Rationale for Discontinuation" in visible
    assert "recovery. 1" not in visible  # numbered citation markers are left out


def test_unknown_passage_shows_the_document_with_a_note(client: TestClient) -> None:
    response = client.get("/documents/pomalidomide-monograph/view", params={"passage": "0123456789abcdef"})
    assert response.status_code == 200
    assert "no longer in this document" in response.text and "<mark" not in response.text
    too_long = client.get("/documents/pomalidomide-monograph/view", params={"passage": "x" * 65})
    assert too_long.status_code == 422
