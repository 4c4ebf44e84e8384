"""The FAQ evaluation set: every FAQ pair in the corpus, with the body section(s) that
answer it, labelled automatically from the answer (never from the question).

Sources: cleaned frontmatter ``faqs`` and FAQ sections in the body (a subsection per
question, or ``Q:``/``A:`` paragraphs), merged when they ask the same question. A
document whose title is itself a question adds one item whose gold is that document.

Labelling: each top-level body section (FAQ sections excluded) is scored by the share of
the answer's content words it contains, each word weighted by how rare it is among the
document's sections (so the drug's own name counts for little). The best section is gold;
others within ``CLOSE_MARGIN`` of it are further gold. An answer whose best section holds
less than ``ANSWERABLE_MIN`` of it is "not answerable from the body": kept in the file and
reported, not scored. A reviewer's ``gold_override`` survives regeneration.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qa.ingest.corpus import Corpus
from qa.ingest.documents import FAQ, Document
from qa.ingest.faqs import document_faqs, question_key

ANSWERABLE_MIN = 0.5
CLOSE_MARGIN = 0.1
MAX_GOLD = 3
LABEL_METHOD = "idf-weighted share of the answer's content words found in the section"

_WORD = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")
_STOPWORDS = frozenset(
    "a an the and or but if of to in on at by for with without from into onto as is are was were be been being "
    "it its this that these those there their them they he she his her you your we our us i me my can could "
    "should would will shall may might must do does did done has have had not no nor so than then too very "
    "what which who whom whose when where why how all any both each few more most other some such only own "
    "same also just about above after again against below between during before under over up down out off "
    "once here further while because until per via".split()
)


def _terms(text: str) -> set[str]:
    terms = set()
    for word in _WORD.findall(text.casefold()):
        if len(word) < 2 or word in _STOPWORDS:
            continue
        if len(word) > 4 and word.endswith("ies"):
            word = word[:-3] + "y"
        elif len(word) > 4 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        terms.add(word)
    return terms


@dataclass(frozen=True)
class Label:
    gold: tuple[str, ...]
    scores: dict[str, float]
    answerable: bool


def label_answer(answer: str, sections: dict[str, str]) -> Label:
    """Score every section against the answer; pick gold as described in the module doc."""
    answer_terms = _terms(answer)
    section_terms = {name: _terms(text) for name, text in sections.items()}
    if not answer_terms or not sections:
        return Label((), {}, False)
    n = len(sections)

    def idf(term: str) -> float:
        df = sum(term in terms for terms in section_terms.values())
        return math.log((n + 1) / (df + 0.5))

    weights = {term: idf(term) for term in answer_terms}
    total = sum(weights.values())
    scores = {
        name: round(sum(weights[t] for t in answer_terms & terms) / total, 3) for name, terms in section_terms.items()
    }
    best = max(scores.values())
    ranked = sorted(scores, key=lambda name: -scores[name])
    gold = tuple(name for name in ranked if scores[name] >= best - CLOSE_MARGIN)[:MAX_GOLD]
    return Label(gold, scores, best >= ANSWERABLE_MIN)


def top_sections(doc: Document) -> dict[str, str]:
    """Top-level body sections (first heading below the title) with their headings and text; FAQ sections left out."""
    texts: dict[str, list[str]] = defaultdict(list)
    for section in doc.sections:
        if section.headings and not section.is_faq:
            texts[section.headings[0]] += [section.headings[-1], section.body.text]  # headings are text too
    return {name: "\n\n".join(parts).strip() for name, parts in texts.items() if any(parts[1::2])}


def _item_id(prefix: str, doc_id: str, question: str) -> str:
    return f"{prefix}:{doc_id}:{hashlib.sha1(question_key(question).encode()).hexdigest()[:8]}"


def _faq_row(doc: Document, faq: FAQ, sources: list[str], sections: dict[str, str]) -> dict[str, Any]:
    label = label_answer(faq.answer, sections)
    return {
        "id": _item_id("faq", doc.doc_id, faq.question),
        "question": faq.question,
        "answer": faq.answer,
        "doc": doc.doc_id,
        "section": label.gold[0] if label.answerable else None,
        "alt_gold": [{"doc": doc.doc_id, "section": s} for s in label.gold[1:]] if label.answerable else [],
        "answerable": label.answerable,
        "sources": sources,
        "label": {"method": LABEL_METHOD, "scores": label.scores},
        "gold_override": None,
    }


@dataclass
class FaqSet:
    rows: list[dict[str, Any]]
    merged_across_documents: int = 0
    orphaned_overrides: list[str] = field(default_factory=list)

    @property
    def unanswerable(self) -> list[dict[str, Any]]:
        return [row for row in self.rows if not row["answerable"]]


def build_faq_set(corpus: Corpus, overrides: dict[str, Any] | None = None) -> FaqSet:
    """All FAQ items of the corpus, labelled; ``overrides`` maps item id -> gold_override."""
    rows: list[dict[str, Any]] = []
    for doc in corpus.documents:
        sections = top_sections(doc)
        for group in document_faqs(doc):
            rows.append(_faq_row(doc, group[0], list(dict.fromkeys(f.origin for f in group)), sections))
        if doc.title.rstrip().endswith("?"):
            rows.append(
                {
                    "id": _item_id("title", doc.doc_id, doc.title),
                    "question": doc.title,
                    "doc": doc.doc_id,
                    "section": "*",
                    "alt_gold": [],
                    "answerable": True,
                    "sources": ["title"],
                    "label": {"method": "the document's title is a question: any section of the document counts"},
                    "gold_override": None,
                }
            )
    faq_set = FaqSet(_merge_across_documents(rows))
    faq_set.merged_across_documents = len(rows) - len(faq_set.rows)
    overrides = overrides or {}
    for row in faq_set.rows:
        if row["id"] in overrides:
            row["gold_override"] = overrides[row["id"]]
    faq_set.orphaned_overrides = sorted(set(overrides) - {row["id"] for row in faq_set.rows})
    return faq_set


def _merge_across_documents(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same question asked in several documents is one item; the others' golds count too."""
    first: dict[str, dict[str, Any]] = {}
    out = []
    for row in rows:
        key = question_key(row["question"])
        if key not in first:
            first[key] = row
            out.append(row)
            continue
        keep = first[key]
        if row["answerable"]:
            extra = [{"doc": row["doc"], "section": row["section"]}, *row["alt_gold"]]
            if keep["answerable"]:
                keep["alt_gold"] = keep["alt_gold"] + extra
            else:
                keep.update(doc=row["doc"], section=row["section"], alt_gold=row["alt_gold"], answerable=True)
        keep["sources"] = sorted(set(keep["sources"]) | {f"also:{row['doc']}"})
    return out


def read_overrides(path: Path) -> dict[str, Any]:
    """``gold_override`` values by item id from an existing FAQ file (unreadable lines are ignored)."""
    overrides: dict[str, Any] = {}
    if not Path(path).is_file():
        return overrides
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict) and row.get("gold_override") is not None and "id" in row:
            overrides[str(row["id"])] = row["gold_override"]
    return overrides


def write_faq_set(faq_set: FaqSet, path: Path) -> None:
    """Write one item per line, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        for row in faq_set.rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def _gold_view(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(r["id"], r["doc"], r["section"], json.dumps(r["alt_gold"]), r["answerable"]) for r in rows]


@dataclass
class FaqItems:
    """The FAQ gold set to evaluate, and what the user should know about where it came from."""

    lines: list[str]
    notes: list[str]


def faq_items(corpus: Corpus, faq_file: Path | None) -> FaqItems:
    """The FAQ set of ``corpus``. With ``faq_file`` (the reviewed file for this corpus): create
    it when missing, evaluate it as written, and warn when the corpus no longer gives the same
    labels. Without: build the set in memory."""
    if faq_file is None:
        fresh = build_faq_set(corpus)
        notes = [f"FAQ set built in memory from {corpus.root} ({len(fresh.rows)} items)"]
        return FaqItems([json.dumps(r) for r in fresh.rows], notes)
    faq_file = Path(faq_file)
    fresh = build_faq_set(corpus, read_overrides(faq_file))
    if not faq_file.is_file():
        write_faq_set(fresh, faq_file)
        notes = [f"wrote {faq_file} ({len(fresh.rows)} items, {len(fresh.unanswerable)} not answerable); review it"]
        return FaqItems([json.dumps(r) for r in fresh.rows], notes)
    lines = faq_file.read_text(encoding="utf-8").splitlines()
    notes = []
    try:
        current = [json.loads(line) for line in lines if line.strip()]
        stale = _gold_view(current) != _gold_view(fresh.rows)
    except (json.JSONDecodeError, KeyError, TypeError):
        stale = True
    if stale:
        notes.append(f"{faq_file} no longer matches the corpus; run `qa eval build-faq` and review the labels")
    return FaqItems(lines, notes)
