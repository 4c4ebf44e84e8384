"""The pages of one document.

``render_page``: the document as a reader sees it (``/documents/{id}/view?passage=<chunk>``):
rendered Markdown or plain text without frontmatter, chrome or citation markers, a header with
the title and the last update, the cleaned FAQ pairs the body lacks as a FAQ list, and the
cited passage marked (``qa.serving.rendering``) and scrolled into view.

``render_document``: the source file's exact text (``?raw=1``, for checking offsets), every
character escaped. Each stretch of text is tagged with the ids of the passages covering
it; a few lines of script read the URL fragment and highlight that passage's stretches.
Without script, an anchor at each passage start still scrolls to it.
"""

from __future__ import annotations

import datetime as dt
import html
import itertools
import json
import re
from collections.abc import Iterable

from qa.indexing.chunking import Chunk
from qa.indexing.records import DocumentRecord
from qa.ingest.markdown import frontmatter_end
from qa.serving.rendering import render_markdown, render_plaintext
from qa.text import join_path

STYLE = """
body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#1b1b1b;background:#fafafa}
header{padding:1rem 1.5rem;background:#fff;border-bottom:1px solid #ddd}
h1{font-size:1.25rem;margin:0 0 .25rem}
.meta{color:#555;font-size:.875rem}
#cited{margin:.5rem 0 0;font-size:.9rem}
main{padding:1rem 1.5rem}
pre{white-space:pre-wrap;word-wrap:break-word;font:14px/1.55 ui-monospace,monospace;background:#fff;
padding:1rem;border:1px solid #ddd;border-radius:6px}
.hit{background:#ffe066;outline:2px solid #e0a800;border-radius:2px}
"""

SCRIPT = """
(function () {
  var titles = JSON.parse(document.getElementById("passages").textContent);
  var status = document.getElementById("cited");
  function show() {
    var id = decodeURIComponent(location.hash.slice(1));
    var parts = document.querySelectorAll("[data-chunks]");
    var first = null;
    for (var i = 0; i < parts.length; i++) {
      var on = id !== "" && parts[i].getAttribute("data-chunks").split(" ").indexOf(id) !== -1;
      parts[i].classList.toggle("hit", on);
      if (on && !first) { first = parts[i]; }
    }
    status.textContent = first ? "Highlighted: " + (titles[id] || id) : "";
    if (first) {
      first.setAttribute("tabindex", "-1");
      first.scrollIntoView({block: "center"});
      first.focus({preventScroll: true});
    }
  }
  window.addEventListener("hashchange", show);
  show();
})();
"""


def _json_for_script(data: object) -> str:
    """JSON that cannot close the <script> element it sits in."""
    return json.dumps(data, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_document(record: DocumentRecord, passages: Iterable[Chunk]) -> str:
    text = record.source_text
    places = sorted({(c.start, c.end, c.id): c for c in passages}.values(), key=lambda c: (c.start, c.end))
    cuts = sorted({0, len(text), *(c.start for c in places), *(c.end for c in places)})
    starts: dict[int, list[str]] = {}
    for chunk in places:
        starts.setdefault(chunk.start, []).append(chunk.id)
    body: list[str] = []
    for a, b in itertools.pairwise(cuts):
        body += [f'<a id="{html.escape(cid)}"></a>' for cid in starts.get(a, [])]
        covering = [c.id for c in places if c.start <= a and b <= c.end]
        piece = html.escape(text[a:b])
        if covering:
            body.append(f'<span data-chunks="{html.escape(" ".join(covering))}">{piece}</span>')
        else:
            body.append(piece)
    titles = {c.id: join_path(c.heading_path) for c in places}
    url = record.source_url if record.source_url and record.source_url.startswith(("https://", "http://")) else None
    meta = [html.escape(record.path)]
    if record.last_modified:
        meta.append(f"last modified {html.escape(record.last_modified)}")
    if url:
        meta.append(f'<a href="{html.escape(url)}" rel="noopener noreferrer">original</a>')
    return "\n".join(
        [
            "<!doctype html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{html.escape(record.title)}</title><style>{STYLE}</style></head><body>",
            f'<header><h1>{html.escape(record.title)}</h1><div class="meta">{" · ".join(meta)}</div>',
            '<p id="cited" role="status" aria-live="polite"></p></header>',
            f'<main><pre aria-label="Document text">{"".join(body)}</pre></main>',
            f'<script type="application/json" id="passages">{_json_for_script(titles)}</script>',
            f"<script>{SCRIPT}</script>",
            "</body></html>",
        ]
    )


PAGE_STYLE = """
body{font:17px/1.6 system-ui,sans-serif;margin:0;color:#1b1b1b;background:#fafafa}
header,main,footer{max-width:46rem;margin:0 auto;padding:1rem 1.25rem}
header{border-bottom:1px solid #ddd}
header h1{font-size:1.6rem;line-height:1.25;margin:0 0 .25rem}
.meta,footer{color:#555;font-size:.9rem}
.banned,.note{background:#fff4e5;border-left:4px solid #e07b00;padding:.5rem .75rem}
#status{font-size:.9rem;margin:.5rem 0 0}
h2{font-size:1.3rem;margin:1.6rem 0 .5rem}h3{font-size:1.1rem;margin:1.2rem 0 .4rem}
p,li,dd{overflow-wrap:anywhere}
table{display:block;overflow-x:auto;border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3rem .5rem}
pre,code{white-space:pre-wrap;font-size:.9em}
.plain p{white-space:pre-line}
dt{font-weight:600;margin-top:.8rem}dd{margin:0 0 .4rem 0}
mark{background:#ffe066;box-shadow:0 0 0 2px #ffe066;border-radius:2px}mark:focus{outline:none}
"""

PAGE_SCRIPT = """
(function () {
  var id = decodeURIComponent(location.hash.slice(1));
  if (id && id !== "cited" && /^[0-9a-f]{8,64}$/.test(id) && location.search.indexOf("passage=") === -1) {
    location.replace(location.pathname + "?passage=" + encodeURIComponent(id) + "#cited");
    return;
  }
  var cited = document.getElementById("cited");
  if (cited) {
    cited.scrollIntoView({block: "center"});
    cited.focus({preventScroll: true});
  }
})();
"""

_QUESTION_NUMBER = re.compile(r"^\s*q\s*\d+\s*[:.)]\s*", re.I)


def _question_key(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", _QUESTION_NUMBER.sub("", text).lower()).strip()


def _updated(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).strftime("%-d %B %Y")
    except ValueError:
        return value


def _faq_list(record: DocumentRecord, cited: Chunk | None) -> str:
    """The cleaned FAQ pairs of the frontmatter that the body does not show under a heading of
    its own, plus the cited one; its answer marked."""
    in_body = {_question_key(e.heading_path[-1]) for e in record.outline if e.heading_path}
    items = []
    for faq in record.faqs:
        is_cited = cited is not None and faq.start is not None and faq.start <= cited.start < (faq.end or 0)
        if faq.origin != "frontmatter" or (_question_key(faq.question) in in_body and not is_cited):
            continue
        answer = html.escape(faq.answer)
        if is_cited:
            answer = f'<mark id="cited" tabindex="-1">{answer}</mark>'
        items.append(f"<dt>{html.escape(faq.question)}</dt><dd>{answer}</dd>")
    if not items:
        return ""
    heading = '<h2 id="faqs">Frequently asked questions</h2>'
    return f'<section aria-labelledby="faqs">{heading}<dl>{"".join(items)}</dl></section>'


def render_page(record: DocumentRecord, cited: Chunk | None, note: str | None = None) -> str:
    """The readable page; ``cited`` (a passage or FAQ answer of this document) marked."""
    in_body = cited is not None and not (
        record.format == "markdown" and cited.start < frontmatter_end(record.source_text)
    )
    render = render_markdown if record.format == "markdown" else render_plaintext
    body, exact = render(record, cited if in_body else None)
    meta = []
    if updated := _updated(record.last_modified):
        meta.append(f"Last updated {html.escape(updated)}")
    url = record.source_url if record.source_url and record.source_url.startswith(("https://", "http://")) else None
    if url:
        meta.append(f'<a href="{html.escape(url)}" rel="noopener noreferrer">Original page</a>')
    status = ""
    if cited is not None:
        where = html.escape(join_path(cited.heading_path))
        status = f'<p id="status" role="status">Cited passage, highlighted below: {where}</p>'
        if not exact:
            note = "The cited passage is highlighted by its lines; its exact words could not be located."
    banned = '<p class="banned">This medicine is marked as banned.</p>' if record.is_banned else ""
    raw = f"?raw=1#{html.escape(cited.id)}" if cited is not None else "?raw=1"
    return "\n".join(
        [
            "<!doctype html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{html.escape(record.title)}</title><style>{PAGE_STYLE}</style></head><body>",
            f"<header><h1>{html.escape(record.title)}</h1>",
            f'<div class="meta">{" · ".join(meta)}</div>{banned}{status}',
            f'<p class="note">{html.escape(note)}</p>' if note else "",
            "</header>",
            f'<main class="{"plain" if record.format != "markdown" else "markdown"}">{body}',
            _faq_list(record, None if in_body else cited),
            "</main>",
            f'<footer><a href="{raw}">Exact source text</a> · {html.escape(record.path)}</footer>',
            f"<script>{PAGE_SCRIPT}</script>",
            "</body></html>",
        ]
    )
