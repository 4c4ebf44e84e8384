"""HTML page of one document with a cited span highlighted (``/documents/{id}/view#<chunk>``).

The page shows the source file's exact text (the text the offsets refer to), every
character escaped. Each stretch of text is tagged with the ids of the passages covering
it; a few lines of script read the URL fragment and highlight that passage's stretches.
Without script, an anchor at each passage start still scrolls to it.
"""

from __future__ import annotations

import html
import itertools
import json
from collections.abc import Iterable

from qa.indexing.chunking import Chunk
from qa.indexing.records import DocumentRecord
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
