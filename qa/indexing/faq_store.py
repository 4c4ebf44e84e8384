"""FAQ answers as first-class results. Every FAQ pair of the corpus (frontmatter and body,
merged by question) is stored with the vector of its *question*; a question that is a
close paraphrase of one gets that answer back as a ``faq`` result, with every place the
pair is written as its sources. Held-out evaluation indexes store none.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from qa.indexing.chunking import Chunk, chunk_from_json, chunk_id, chunk_to_json
from qa.ingest.documents import FAQ, Document
from qa.ingest.faqs import document_faqs
from qa.ingest.spans import LineIndex
from qa.text import join_path

FAQS_FILE = "faqs.jsonl"
FAQS_FAISS = "faqs.faiss"
FAQ_HEADING = "FAQ"


@dataclass(frozen=True)
class FaqEntry:
    question: str
    places: tuple[Chunk, ...]  # one per copy in the document, the body's first

    @property
    def primary(self) -> Chunk:
        return self.places[0]


def _place(doc: Document, faq: FAQ, question: str, lines: LineIndex) -> Chunk | None:
    if faq.start is None or faq.end is None:
        return None
    heading_path = (doc.title, FAQ_HEADING, question)
    line_start, line_end = lines.lines_of(faq.start, faq.end)
    return Chunk(
        id="faq-" + chunk_id(doc.doc_id, faq.start, faq.end, faq.answer),
        doc_id=doc.doc_id,
        ordinal=-1,
        title=doc.title,
        heading_path=heading_path,
        text=faq.answer,
        start=faq.start,
        end=faq.end,
        line_start=line_start,
        line_end=line_end,
        path=doc.path,
        part=1,
        parts=1,
        context=join_path(heading_path),
        last_modified=doc.last_modified,
        source_url=doc.source_url,
        is_banned=doc.is_banned,
        faq=True,
    )


def faq_entries(documents: Iterable[Document]) -> list[FaqEntry]:
    entries = []
    for doc in documents:
        lines = LineIndex(doc.source_text)
        for group in document_faqs(doc):
            question = group[0].question
            # The body's copy first: it is what a reader should be sent to; frontmatter YAML second.
            ordered = sorted(group, key=lambda faq: faq.origin != "body")
            places = tuple(p for p in (_place(doc, faq, question, lines) for faq in ordered) if p is not None)
            if places:
                entries.append(FaqEntry(question, places))
    return entries


class FaqStore:
    def __init__(self, entries: list[FaqEntry], vectors: faiss.Index) -> None:
        if vectors.ntotal != len(entries):
            raise ValueError(f"{len(entries)} FAQ entries but {vectors.ntotal} vectors")
        self.entries = entries
        self._vectors = vectors

    @classmethod
    def build(cls, entries: list[FaqEntry], question_vectors: np.ndarray) -> FaqStore:
        index = faiss.IndexFlatIP(question_vectors.shape[1])
        if len(entries):
            index.add(question_vectors)
        return cls(entries, index)

    def save(self, directory: Path) -> None:
        with (Path(directory) / FAQS_FILE).open("w", encoding="utf-8") as handle:
            for entry in self.entries:
                row = {"question": entry.question, "places": [chunk_to_json(p) for p in entry.places]}
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        faiss.write_index(self._vectors, str(Path(directory) / FAQS_FAISS))

    @classmethod
    def load(cls, directory: Path) -> FaqStore:
        entries = []
        for line in (Path(directory) / FAQS_FILE).read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            entries.append(FaqEntry(row["question"], tuple(chunk_from_json(p) for p in row["places"])))
        return cls(entries, faiss.read_index(str(Path(directory) / FAQS_FAISS)))

    def __len__(self) -> int:
        return len(self.entries)

    def best(self, vector: np.ndarray, allowed_docs: set[str] | None = None) -> tuple[FaqEntry, float] | None:
        """The FAQ whose question is closest to the query vector (among allowed documents)."""
        if not self.entries:
            return None
        scores, rows = self._vectors.search(vector, min(len(self.entries), 20))
        for row, score in zip(rows[0], scores[0], strict=True):
            if row < 0:
                continue
            entry = self.entries[int(row)]
            if allowed_docs is None or entry.primary.doc_id in allowed_docs:
                return entry, float(score)
        return None
