"""Gold sets: evaluation questions with the sections that answer them.

One JSON object per line: ``{id, question, doc, section, alt_gold?}``. ``doc`` is a
document id (the corpus file's stem); ``section`` is the text of the section's top-level
heading below the title (the ``##`` heading in monographs and MedQuAD), or ``"*"`` for any
section of ``doc``; ``alt_gold`` lists further ``{doc, section}`` pairs that also count.
Other fields (``qtype``, ``answer``, ...) are kept. FAQ-set lines may also carry
``answerable: false`` and a reviewer's ``gold_override``.

A retrieved passage is correct at section level when its document is a gold document and
it lies in (so overlaps) a gold section; at document level when its document is gold.
Headings match without regard to case, emphasis markers or a trailing colon.

Problems (bad JSON, missing fields, unknown documents or sections) never stop a run:
each is reported with its line and id, and the item is scored only if a valid gold
remains.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from qa.errors import QAError
from qa.indexing.chunking import Chunk
from qa.indexing.lexicon import normalize
from qa.indexing.records import DocumentRecord
from qa.ingest.documents import Document
from qa.text import heading_key

ANY_SECTION = "*"


class EvalFileError(QAError):
    """The evaluation file as a whole cannot be used (missing, empty)."""


@dataclass(frozen=True)
class Gold:
    doc: str
    section: str  # heading text, or "*" for any section of the document


@dataclass(frozen=True)
class EvalItem:
    id: str
    question: str
    golds: tuple[Gold, ...]
    qtype: str | None = None
    answerable: bool = True
    line: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Problem:
    line: int | None
    item_id: str | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else "item"
        return f"{where}" + (f" (id {self.item_id})" if self.item_id else "") + f": {self.message}"


def section_of(chunk: Chunk) -> str | None:
    """The top-level section a chunk belongs to: the first heading below the title."""
    return chunk.heading_path[1] if len(chunk.heading_path) > 1 else None


def _gold(raw: object, what: str) -> Gold:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{what} must be an object with 'doc' and 'section'")
    doc, section = raw.get("doc"), raw.get("section")
    if not isinstance(doc, str) or not doc.strip():
        raise ValueError(f"{what}: 'doc' must be a non-empty string")
    if not isinstance(section, str) or not section.strip():
        raise ValueError(f"{what}: 'section' must be a non-empty string (a heading, or \"*\")")
    return Gold(doc.strip(), section.strip())


def parse_item(data: object, line: int | None) -> EvalItem:
    """One decoded JSON line -> EvalItem, or ValueError naming what is wrong."""
    if not isinstance(data, dict):
        raise ValueError("each line must be a JSON object")
    item_id = data.get("id")
    if not isinstance(item_id, str | int) or isinstance(item_id, bool) or str(item_id).strip() == "":
        raise ValueError("missing 'id'")
    question = data.get("question")
    if not isinstance(question, str) or not question.strip():
        raise ValueError("'question' must be a non-empty string")
    override = data.get("gold_override")
    answerable = data.get("answerable", True) is not False
    source: Mapping[str, Any] = data
    if override is not None:
        if not isinstance(override, Mapping):
            raise ValueError("'gold_override' must be an object")
        answerable = override.get("answerable", True) is not False
        source = {**data, **override} if "section" in override else data
    golds: list[Gold] = []
    if answerable:  # an unanswerable FAQ item is reported, not scored, so it needs no gold
        golds.append(_gold(source, "gold"))
        alternatives = source.get("alt_gold") or []
        if not isinstance(alternatives, list):
            raise ValueError("'alt_gold' must be a list of {doc, section} objects")
        golds += [_gold(alt, f"alt_gold[{i}]") for i, alt in enumerate(alternatives)]
    known = {"id", "question", "doc", "section", "alt_gold", "qtype", "answerable", "gold_override"}
    return EvalItem(
        id=str(item_id),
        question=question.strip(),
        golds=tuple(golds),
        qtype=str(data["qtype"]) if data.get("qtype") is not None else None,
        answerable=answerable,
        line=line,
        extra={k: v for k, v in data.items() if k not in known},
    )


def parse_lines(lines: Iterable[str]) -> tuple[list[EvalItem], list[Problem]]:
    items: list[EvalItem] = []
    problems: list[Problem] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(Problem(number, None, f"not valid JSON ({exc.msg} at column {exc.colno})"))
            continue
        item_id = str(data.get("id")) if isinstance(data, dict) and data.get("id") is not None else None
        try:
            item = parse_item(data, number)
        except ValueError as exc:
            problems.append(Problem(number, item_id, str(exc)))
            continue
        if item.id in seen:
            problems.append(Problem(number, item.id, "repeats an id used on an earlier line; left out"))
            continue
        seen.add(item.id)
        items.append(item)
    return items, problems


def load_eval_file(path: Path) -> tuple[list[EvalItem], list[Problem]]:
    path = Path(path)
    if not path.is_file():
        raise EvalFileError(f"evaluation file {path} does not exist; pass --eval-file with a JSONL gold set")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise EvalFileError(f"evaluation file {path} is not UTF-8 (byte offset {exc.start})") from None
    items, problems = parse_lines(text.splitlines())
    if not items:
        detail = f"; {len(problems)} unusable lines, first: {problems[0]}" if problems else ""
        raise EvalFileError(f"evaluation file {path} has no usable questions{detail}")
    return items, problems


class GoldIndex:
    """Which documents and top-level sections exist, for checking golds before a run."""

    def __init__(self, sections: Mapping[str, Iterable[str]]) -> None:
        self._names = {doc_id: list(dict.fromkeys(names)) for doc_id, names in sections.items()}
        self._sections = {doc_id: {heading_key(n) for n in names} for doc_id, names in self._names.items()}

    @classmethod
    def from_records(cls, documents: Mapping[str, DocumentRecord]) -> GoldIndex:
        return cls(
            {
                doc_id: [entry.heading_path[1] for entry in record.outline if len(entry.heading_path) > 1]
                for doc_id, record in documents.items()
            }
        )

    @classmethod
    def from_documents(cls, documents: Iterable[Document]) -> GoldIndex:
        return cls({doc.doc_id: [s.headings[0] for s in doc.sections if s.headings] for doc in documents})

    def check(self, items: Iterable[EvalItem]) -> tuple[list[EvalItem], list[Problem]]:
        """Drop golds whose document or section is not in the index; report each one."""
        kept: list[EvalItem] = []
        problems: list[Problem] = []
        for item in items:
            valid = []
            for gold in item.golds:
                if gold.doc not in self._sections:
                    problems.append(Problem(item.line, item.id, f"gold doc {gold.doc!r} is not in the corpus"))
                elif gold.section != ANY_SECTION and heading_key(gold.section) not in self._sections[gold.doc]:
                    shown = ", ".join(repr(n) for n in self._names[gold.doc][:8])
                    message = f"doc {gold.doc!r} has no section {gold.section!r} (it has {shown})"
                    problems.append(Problem(item.line, item.id, message))
                else:
                    valid.append(gold)
            if item.answerable and not valid:
                continue  # nothing left to score against; already reported
            kept.append(replace(item, golds=tuple(valid)))
        return kept, problems


def judge(chunk: Chunk, golds: Iterable[Gold]) -> tuple[bool, bool]:
    """(correct at section level, correct at document level)."""
    section = section_of(chunk)
    section_ok = doc_ok = False
    for gold in golds:
        if chunk.doc_id != gold.doc:
            continue
        doc_ok = True
        if gold.section == ANY_SECTION or (section is not None and heading_key(section) == heading_key(gold.section)):
            section_ok = True
    return section_ok, doc_ok


def section_lines(record: DocumentRecord) -> dict[str, list[tuple[int, int]]]:
    """Each top-level section's lines in the source file, by heading key: the heading's line to the
    last line of its text and of its subsections (a label may head several sections)."""
    out: dict[str, list[tuple[int, int]]] = {}
    current: list[int] | None = None
    for entry in record.outline:
        if entry.line_start is None or entry.line_end is None:
            continue
        if len(entry.heading_path) == 2:
            current = [entry.line_start, entry.line_end]
            out.setdefault(heading_key(entry.heading_path[1]), []).append((current[0], current[1]))
        elif len(entry.heading_path) > 2 and current is not None:
            ranges = out[heading_key(entry.heading_path[1])]
            ranges[-1] = (ranges[-1][0], max(ranges[-1][1], entry.line_end))
    return out


def judge_lines(
    doc_id: str, lines: tuple[int, int], golds: Iterable[Gold], sections: Mapping[str, list[tuple[int, int]]]
) -> tuple[bool, bool]:
    """``judge`` for a passage known only by its document and its lines (first, last; 1-based): as
    for our passages, correct at section level when it overlaps a gold section. For passages cut
    by another pipeline, which may span several sections (``eval/bench_peer.py``)."""
    first, last = lines
    section_ok = doc_ok = False
    for gold in golds:
        if doc_id != gold.doc:
            continue
        doc_ok = True
        ranges = sections.get(heading_key(gold.section), []) if gold.section != ANY_SECTION else [(first, last)]
        if any(a <= last and first <= b for a, b in ranges):
            section_ok = True
    return section_ok, doc_ok


class Recognises(Protocol):
    lexicon: Any  # with ``vocabulary``: the corpus's words

    def recognise(self, question: str) -> Sequence[Any]: ...


def absent_here(negatives: Sequence[EvalItem], recogniser: Recognises) -> tuple[list[EvalItem], list[EvalItem]]:
    """Split off the ``absent-drug`` questions whose ``drug`` this corpus mentions after all, which
    would not be negatives here: (kept, left out). Mentioned means recognised by name, or written in
    the corpus's text (every word of it in the corpus vocabulary: the rule the questions were chosen
    by, a search of every file, ``eval/README.md``)."""
    kept, present = [], []
    vocabulary = recogniser.lexicon.vocabulary
    for item in negatives:
        drug = item.extra.get("drug")
        named = item.extra.get("category") == "absent-drug" and isinstance(drug, str) and drug.strip()
        words = normalize(str(drug)).split()  # the lexicon's words
        in_text = bool(words) and all(w in vocabulary for w in words)
        if named and (in_text or any(m.rule == "name" for m in recogniser.recognise(str(drug)))):
            present.append(item)
        else:
            kept.append(item)
    return kept, present


def load_negatives(path: Path) -> list[EvalItem]:
    """Questions the corpus cannot answer: one ``{id, question, ...}`` per line."""
    path = Path(path)
    if not path.is_file():
        raise EvalFileError(f"file of unanswerable questions {path} does not exist")
    items = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            question = data["question"].strip()
            assert question
        except (json.JSONDecodeError, KeyError, AttributeError, TypeError, AssertionError):
            raise EvalFileError(f"{path} line {number}: expected an object with a non-empty 'question'") from None
        extra = {k: v for k, v in data.items() if k not in {"id", "question"}}
        # Uncategorised: named by the file (and its folder, which names the set).
        extra.setdefault("category", f"{path.parent.name}/{path.stem}" if path.parent.name else path.stem)
        items.append(EvalItem(str(data.get("id", number)), question, (), answerable=False, line=number, extra=extra))
    if not items:
        raise EvalFileError(f"file of unanswerable questions {path} is empty")
    return items
