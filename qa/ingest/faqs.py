"""Clean the ``faqs`` frontmatter entries of monographs into ``{question, answer}`` pairs.

Real entries are messy: a ``q`` may carry its own answer glued on after ``?**`` and a
blank line (``**A:** ...``), and an ``a`` may start with ``A:**``. Entries that cannot be
made into a pair are reported as warnings, never dropped silently.
"""

from __future__ import annotations

import re

from qa.ingest.documents import FAQ, Document
from qa.text import collapse_space, is_faq_heading

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


def clean_faqs(raw: object, spans: list[tuple[int, int]] | None = None) -> tuple[list[FAQ], list[str]]:
    """Frontmatter ``faqs`` value -> (clean pairs, warnings naming each entry that was left out).
    ``spans`` gives each entry's place in the source file, in order."""
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
        start, end = spans[number - 1] if spans and number <= len(spans) else (None, None)
        pairs.append(FAQ(question=question, answer=answer, origin="frontmatter", start=start, end=end))
    return pairs, warnings


_QUESTION_NUMBER = re.compile(r"^\s*(?:Q(?:uestion)?\s*\d*\s*[:.)-]\s*)", re.I)
_INLINE_Q = re.compile(r"^[ \t]*(?:\*\*|__)?[ \t]*Q(?:uestion)?\s*\d*\s*[:.]", re.M | re.I)
_WORD = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")


def question_key(question: str) -> str:
    """Comparison key for questions: lower-case words only."""
    return " ".join(_WORD.findall(question.casefold()))


def body_faq_pairs(doc: Document) -> list[FAQ]:
    """Question/answer pairs written in the body's FAQ sections, with their spans."""
    pairs: list[FAQ] = []
    for section in doc.sections:
        if not section.is_faq or not section.body.text:
            continue
        text = section.body.text
        heading = section.headings[-1]
        if not is_faq_heading(heading):  # a subsection per question: the heading asks it
            question = _QUESTION_NUMBER.sub("", heading).strip()
            answer = clean_answer(text)
            if question and answer:
                start, end = section.body.source_span(0, len(text))
                pairs.append(FAQ(question, answer, "body", start, end))
            continue
        starts = [m.start() for m in _INLINE_Q.finditer(text)]
        for begin, end in zip(starts, [*starts[1:], len(text)], strict=True):
            block = text[begin:end].rstrip()
            question, answer = split_question(_QUESTION_NUMBER.sub("", block.lstrip(" \t*_")))
            if question and answer:
                span = section.body.source_span(begin, begin + len(block))
                pairs.append(FAQ(question, answer, "body", *span))
    return pairs


def document_faqs(doc: Document) -> list[list[FAQ]]:
    """Every FAQ pair of a document, frontmatter and body merged by question: one group of
    copies per question, frontmatter copy first."""
    groups: dict[str, list[FAQ]] = {}
    for faq in [*doc.faqs, *body_faq_pairs(doc)]:
        groups.setdefault(question_key(faq.question), []).append(faq)
    return list(groups.values())
