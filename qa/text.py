"""Small pure helpers for cleaning heading and metadata text."""

from __future__ import annotations

import re

_EMPHASIS = re.compile(r"(\*\*|__|\*|_)")
_SPACE = re.compile(r"\s+")
_TRAILING_PUNCT = re.compile(r"[\s:：]+$")
_FAQ_HEADING = re.compile(r"\bFAQs?\b|frequently asked questions|common questions", re.I)


def collapse_space(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def strip_emphasis(text: str) -> str:
    """Remove Markdown emphasis markers (``**``, ``__``, ``*``, ``_``) around words."""
    return _EMPHASIS.sub("", text)


def clean_heading(text: str) -> str:
    """``**Adults:**`` -> ``Adults``; emphasis markers and trailing colons go, inner text stays."""
    text = collapse_space(strip_emphasis(text))
    return _TRAILING_PUNCT.sub("", text)


def heading_key(text: str) -> str:
    """Comparison key for headings: cleaned, case-folded."""
    return clean_heading(text).casefold()


def join_path(parts: tuple[str, ...] | list[str]) -> str:
    return " › ".join(parts)


def is_faq_heading(text: str) -> bool:
    """``FAQs (Frequently Asked Questions)``, ``FAQ``, ``Common questions``."""
    return bool(_FAQ_HEADING.search(text))
