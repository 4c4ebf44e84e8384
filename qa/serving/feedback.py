"""Readers' feedback on chat answers, kept in SQLite (WAL), and its export as a gold set.

A record holds the question, whether the answer helped, the citation it is about (if any),
the cited passages' documents and sections as they were when the feedback came, and the index
fingerprint; never an address, a user id or anything else about the reader. At most
``per_answer`` records are kept per answer.

``export`` turns helpful answers into gold-set lines (``{id, question, doc, section,
alt_gold}``, the format of ``qa eval --eval-file``): a helpful citation, or all the citations
of a helpful answer, become its gold sections. Unhelpful answers, and helpful ones whose
passages are unknown, are listed for a person to review, never guessed into the gold set.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DB_FILE = "feedback.sqlite3"
SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    answer_id TEXT NOT NULL,
    question TEXT NOT NULL,
    helpful INTEGER NOT NULL,
    citation INTEGER,
    cited TEXT NOT NULL,        -- JSON: [{chunk_id, doc, section, heading_path}], in citation order
    fingerprint TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_answer ON feedback (answer_id);
"""


class FeedbackLimit(Exception):
    """The answer already has as much feedback as is kept."""


class FeedbackUnavailable(Exception):
    """The store cannot take feedback now (locked, full, failing)."""


@dataclass(frozen=True)
class Cited:
    chunk_id: str
    doc: str | None  # None when the passage is no longer in the index
    section: str | None  # None for an FAQ answer, too
    heading_path: tuple[str, ...] = ()
    kind: str = "passage"  # or "faq"


class FeedbackStore:
    def __init__(self, path: Path, *, per_answer: int = 5) -> None:
        self.path = Path(path)
        self.per_answer = per_answer
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        try:
            db.execute("PRAGMA synchronous=NORMAL")
            yield db
        finally:
            db.close()

    def record(
        self,
        *,
        answer_id: str,
        question: str,
        helpful: bool,
        citation: int | None,
        cited: Sequence[Cited],
        fingerprint: str,
    ) -> int:
        """Store one piece of feedback; its id. Raises FeedbackLimit past ``per_answer``."""
        rows = json.dumps([vars(c) | {"heading_path": list(c.heading_path)} for c in cited], ensure_ascii=False)
        with self._lock, self._connect() as db:
            try:
                db.execute("BEGIN IMMEDIATE")  # the count and the insert together, across processes
                (count,) = db.execute("SELECT COUNT(*) FROM feedback WHERE answer_id = ?", (answer_id,)).fetchone()
                if count >= self.per_answer:
                    raise FeedbackLimit(f"this answer already has {count} pieces of feedback, the most kept")
                cursor = db.execute(
                    "INSERT INTO feedback (answer_id, question, helpful, citation, cited, fingerprint) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (answer_id, question, int(helpful), citation, rows, fingerprint),
                )
                db.execute("COMMIT")
            except sqlite3.OperationalError as exc:  # locked past the timeout, disk full, I/O error
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise FeedbackUnavailable(f"feedback cannot be stored right now ({exc}); try again shortly") from exc
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        return int(cursor.lastrowid or 0)

    def counts(self) -> dict[str, int]:
        with self._connect() as db:
            rows = db.execute("SELECT helpful, COUNT(*) FROM feedback GROUP BY helpful").fetchall()
        counts = {"helpful": 0, "unhelpful": 0}
        for helpful, n in rows:
            counts["helpful" if helpful else "unhelpful"] = n
        return counts

    def rows(self) -> list[dict[str, Any]]:
        with self._connect() as db:
            db.row_factory = sqlite3.Row
            rows = db.execute("SELECT * FROM feedback ORDER BY id").fetchall()
        return [{**dict(r), "helpful": bool(r["helpful"]), "cited": json.loads(r["cited"])} for r in rows]


def export(rows: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(gold-set lines, lines for review) from stored feedback."""
    gold: dict[tuple[str, tuple[tuple[str, str], ...]], dict[str, Any]] = {}
    review: list[dict[str, Any]] = []
    for row in rows:
        cited = row["cited"]
        chosen = [cited[row["citation"] - 1]] if row["citation"] and row["citation"] <= len(cited) else cited
        chosen = [c for c in chosen if c.get("kind", "passage") == "passage"]  # FAQ answers are not sections
        sections = [(c["doc"], c["section"]) for c in chosen if c["doc"] and c["section"]]
        if not row["helpful"] or not sections or len(sections) < len(chosen):
            reason = (
                "the reader said the answer did not help"
                if not row["helpful"]
                else "a cited passage is unknown"
                if len(sections) < len(chosen)
                else "only FAQ answers were cited, and they are not sections"
            )
            review.append({"feedback_id": row["id"], "question": row["question"], "helpful": row["helpful"],
                           "citation": row["citation"], "cited": cited, "reason": reason,
                           "fingerprint": row["fingerprint"], "created_at": row["created_at"]})  # fmt: skip
            continue
        unique = tuple(dict.fromkeys(sections))
        key = (" ".join(row["question"].lower().split()), unique)
        if key in gold:
            gold[key]["votes"] += 1
            continue
        (doc, section), *alternatives = unique
        gold[key] = {
            "id": f"feedback-{row['id']}",
            "question": row["question"],
            "doc": doc,
            "section": section,
            "alt_gold": [{"doc": d, "section": s} for d, s in alternatives],
            "source": "feedback",
            "votes": 1,
            "fingerprint": row["fingerprint"],
        }
    return list(gold.values()), review
