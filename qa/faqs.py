"""Clean the ``faqs`` frontmatter entries of monographs into ``{question, answer}`` pairs.

Real entries are messy: a ``q`` may carry its own answer glued on after ``?**`` and a
blank line (``**A:** ...``), and an ``a`` may start with ``A:**``. Entries that cannot be
made into a pair are reported as warnings, never dropped silently.
"""

from __future__ import annotations

import re

from qa.documents import FAQ
from qa.text import collapse_space

# "A:" with a closing bold marker (``A:**``/``**A:**``), anywhere; or "A:"/"Answer:" opening a line.
_GLUED_ANSWER = re.compile(
    r"(?:\*\*|__)?[ \t]*\b(?:A|Answer)[ \t]*:[ \t]*(?:\*\*|__)"
    r"|^[ \t]*(?:\*\*|__)?[ \t]*(?:A|Answer)[ \t]*:",
    re.M,
)
_LEADING_ANSWER = re.compile(r"^\s*(?:\*\*|__)?\s*(?:A|Answer)\s*[:.]\s*(?:\*\*|__)?\s*")
_LEADING_QUESTION = re.compile(r"^\s*(?:\*\*|__)?\s*(?:Q\d*|Question)\s*\d*\s*[:.]\s*(?:\*\*|__)?\s*")
_EMPHASIS = re.compile(r"\*\*|__")


def _clean(text: str) -> str:
    return collapse_space(_EMPHASIS.sub("", text))


def split_question(raw: str) -> tuple[str, str]:
    """Split a ``q`` field into (question, answer glued onto it, possibly empty)."""
    match = _GLUED_ANSWER.search(raw)
    if match is None:
        question, glued = raw, ""
    else:
        question, glued = raw[: match.start()], raw[match.end() :]
    question = _LEADING_QUESTION.sub("", question)
    return _clean(question), _clean(glued)


def clean_answer(raw: str) -> str:
    return _clean(_LEADING_ANSWER.sub("", raw))


def clean_faqs(raw: object) -> tuple[list[FAQ], list[str]]:
    """Frontmatter ``faqs`` value -> (clean pairs, warnings naming each entry that was left out)."""
    if raw is None:
        return [], []
    if not isinstance(raw, list):
        return [], [f"faqs: expected a list of {{q, a}} entries, got {type(raw).__name__}"]
    pairs: list[FAQ] = []
    warnings: list[str] = []
    seen: set[str] = set()
    for number, entry in enumerate(raw, start=1):
        if not isinstance(entry, dict):
            warnings.append(f"faqs entry {number}: expected a mapping with q and a, left out")
            continue
        q_raw = entry.get("q", entry.get("question"))
        a_raw = entry.get("a", entry.get("answer"))
        question, glued = split_question(str(q_raw)) if q_raw is not None else ("", "")
        answer = clean_answer(str(a_raw)) if a_raw is not None else ""
        answer = answer or glued
        if not question:
            warnings.append(f"faqs entry {number}: no question text, left out")
            continue
        if not answer:
            warnings.append(f"faqs entry {number} ({question!r}): no answer text, left out")
            continue
        key = question.casefold()
        if key in seen:
            warnings.append(f"faqs entry {number} ({question!r}): repeats an earlier question, merged")
            continue
        seen.add(key)
        pairs.append(FAQ(question=question, answer=answer))
    return pairs, warnings
