"""Sentences of a passage: the units the sentence view embeds and chat answers quote."""

from __future__ import annotations

import functools
import hashlib
import inspect
import re
import secrets
import sys
from collections.abc import Sequence

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


def sentence_context(title: str, heading_path: Sequence[str]) -> str:
    """The label each sentence of a chunk is embedded with: the section's own heading; the title
    for a chunk of the document's lead."""
    return heading_path[-1] if len(heading_path) > 1 else title


def chunk_sentences(title: str, heading_path: Sequence[str], text: str) -> list[str]:
    """What the sentence view embeds for one chunk: each sentence with its heading as context."""
    context = sentence_context(title, heading_path)
    return [f"{context}: {sentence}" for sentence in _sentences(text)]


def sentences_key(title: str, heading_path: Sequence[str], text: str) -> str:
    """Everything ``chunk_sentences`` reads, as one string: chunks with the same key have the same
    sentences (while ``rules_digest`` is unchanged)."""
    return f"{sentence_context(title, heading_path)}\x00{text}"


@functools.cache
def rules_digest() -> str:
    """A digest of the rules above (the code of the functions that make a chunk's sentences, the
    patterns, flags and limit they use, and the Python version, whose ``re`` and Unicode tables
    they rely on): an index records it, and a rebuild reuses an earlier index's sentence rows
    chunk by chunk only when it is unchanged. Without source code (a build that ships bytecode
    only) it is a fresh random value, so nothing is reused: safe, only slower."""
    code = source_digest(_sentences.__wrapped__, sentence_context, chunk_sentences)
    rules = [code, str(MIN_WORDS), *(f"{p.pattern}/{p.flags}" for p in (_SENTENCE_END, _LIST_MARKER))]
    return hashlib.sha256("\0".join(rules).encode("utf-8")).hexdigest()[:16]


def source_digest(*functions: object) -> str:
    """sha256 over the functions' source and the Python version; a random value when the source
    cannot be read."""
    try:
        parts = [inspect.getsource(f) for f in functions]  # type: ignore[arg-type]
    except (OSError, TypeError):
        return "nosource-" + secrets.token_hex(8)
    parts.append("python {}.{}".format(*sys.version_info[:2]))
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()
