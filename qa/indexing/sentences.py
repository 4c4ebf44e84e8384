"""Sentences of a passage: the units the sentence view embeds and chat answers quote."""

from __future__ import annotations

import functools
import re

MIN_WORDS = 4
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\"'])")
_LIST_MARKER = re.compile(r"^\s*(?:[*•·\-–]|\d{1,2}[.)])\s+")


def sentences_of(text: str) -> list[str]:
    """Sentences and list items of a passage, markup dropped, whitespace collapsed."""
    return list(_sentences(text))


@functools.lru_cache(maxsize=65_536)  # builds and chat ask for the same passages again and again
def _sentences(text: str) -> tuple[str, ...]:
    out = []
    for line in text.splitlines():
        line = _LIST_MARKER.sub("", line.replace("**", "").replace("__", "")).strip()
        line = re.sub(r"^A:\s+", "", line)  # FAQ answers written as "A: ..."
        for sentence in _SENTENCE_END.split(line):
            sentence = " ".join(sentence.split())
            if len(sentence.split()) >= MIN_WORDS and not sentence.endswith(":"):
                out.append(sentence)
    return tuple(out)
