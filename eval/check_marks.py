"""Does the readable document page mark exactly the cited passage? For passages of an index
(a random sample, or all), render each document page with the passage cited and compare the
marked text with the passage's own text as it reads rendered; print the count that differ.

    python eval/check_marks.py --index index/default
    python eval/check_marks.py --index index/eval/corpus-af7874b7-full --sample 3000

The marked text is the page's text from the first <mark> to the last; anything but whitespace
outside a mark inside that stretch counts as a difference.
"""

from __future__ import annotations

import argparse
import random
import re
from html.parser import HTMLParser
from pathlib import Path

from qa.indexing.storage import load_index
from qa.serving.rendering import normalise, render_markdown, render_plaintext, rendered_text

BLOCKS = frozenset({"p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "td", "th", "dt", "dd"})


class Marks(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.parts: list[tuple[bool, str]] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.depth += tag == "mark"

    def handle_endtag(self, tag: str) -> None:
        if tag == "mark":
            self.depth -= 1
        elif tag in BLOCKS:
            self.parts.append((False, "\n"))

    def handle_data(self, data: str) -> None:
        self.parts.append((self.depth > 0, data))

    def marked(self) -> tuple[str, bool]:
        where = [i for i, (marked, _) in enumerate(self.parts) if marked]
        if not where:
            return "", True
        stretch = self.parts[where[0] : where[-1] + 1]
        return normalise("".join(text for _, text in stretch)), all(m or not t.strip() for m, t in stretch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--sample", type=int, help="passages drawn at random (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    index = load_index(args.index)
    chunks = list(index.chunks)
    if args.sample:
        chunks = random.Random(args.seed).sample(chunks, min(args.sample, len(chunks)))
    differ = inexact = emphasis = 0
    for chunk in chunks:
        record = index.documents[chunk.doc_id]
        markdown = record.format == "markdown"
        body, exact = (render_markdown if markdown else render_plaintext)(record, chunk)
        marks = Marks()
        marks.feed(body)
        got, only_marks = marks.marked()
        expected = rendered_text(chunk.text) if markdown else normalise(chunk.text)
        inexact += not exact
        if got == expected and only_marks:
            continue
        if only_marks and bare(got) == bare(expected):
            emphasis += 1  # the same words; a '*' shows as text on one side and as emphasis on the other
            continue
        differ += 1
        print(f"{chunk.id} ({chunk.doc_id}): marked {got[:80]!r}, passage {expected[:80]!r}")
    print(
        f"{args.index}: {len(chunks)} passages; marked text differs for {differ}, only in '*'/'_' for "
        f"{emphasis}; marked by lines for {inexact}"
    )


def bare(text: str) -> str:
    return normalise(re.sub(r"[*_]", "", text))


if __name__ == "__main__":
    main()
