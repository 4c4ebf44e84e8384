"""The document page: every passage marked, the document escaped, spans exact."""

from __future__ import annotations

import html
import re
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
        page = client.get("/documents/evil/view")
        assert client.get("/documents/nope/view").status_code == 404
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "<img" not in page.text and "&lt;img src=x onerror=alert(2)&gt; &amp; rest." in page.text
    (chunk,) = service.index.chunks
    assert f'<a id="{chunk.id}"></a>' in page.text and f'data-chunks="{chunk.id}"' in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]


def test_view_page_spans_are_the_cited_text(client: TestClient, fake_service: QAService) -> None:
    chunk = next(c for c in fake_service.index.chunks if c.doc_id == "pomalidomide-monograph")
    page = client.get("/documents/pomalidomide-monograph/view").text
    pieces = re.findall(rf'<span data-chunks="[^"]*\b{chunk.id}\b[^"]*">(.*?)</span>', page, re.S)
    assert html.unescape("".join(pieces)) == chunk.text
