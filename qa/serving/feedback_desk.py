"""Feedback for one service: answer ids for chat answers, and checked feedback records.

Made on first use, so that a service that never answers a chat creates no data directory."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from qa.errors import InvalidQueryError
from qa.serving.answer_ids import AnswerIds, load_secret, question_digest
from qa.serving.feedback import DB_FILE, Cited, FeedbackStore
from qa.serving.service import QAService
from qa.settings import Settings

logger = logging.getLogger(__name__)


class FeedbackDesk:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._ids: AnswerIds | None = None
        self._store: FeedbackStore | None = None

    @property
    def ids(self) -> AnswerIds:
        with self._lock:
            if self._ids is None:
                secret = load_secret(self._settings.feedback_secret.get_secret_value(), self._settings.data_dir)
                self._ids = AnswerIds(secret)
            return self._ids

    @property
    def store(self) -> FeedbackStore:
        with self._lock:
            if self._store is None:
                path = self._settings.data_dir / DB_FILE
                self._store = FeedbackStore(path, per_answer=self._settings.feedback_per_answer)
            return self._store

    def counts(self) -> dict[str, int] | None:
        """Stored feedback by kind, or None while there is no store yet."""
        if self._store is None and not (self._settings.data_dir / DB_FILE).is_file():
            return None
        return self.store.counts()

    def answer_id(self, service: QAService, question: str, chunk_ids: Sequence[str]) -> str | None:
        """The answer's id, or None (logged) when ids cannot be made: a chat answer never fails
        for want of a feedback id."""
        try:
            return self.ids.issue(question, list(chunk_ids), service.index.fingerprint)
        except OSError as exc:
            logger.error("no answer ids, so no feedback: the secret in %s cannot be read or made (%s)",
                         self._settings.data_dir, exc)  # fmt: skip
            return None

    def record(self, service: QAService, *, question: str, answer_id: str, helpful: bool, citation: int | None) -> int:
        """Check the feedback against the answer it names, then store it; its id."""
        ref = self.ids.read(answer_id)
        if ref is None:
            raise InvalidQueryError("answer_id is not one this service issued; send the answer_id of a /chat answer")
        if question_digest(question) != ref.question_digest:
            raise InvalidQueryError("question is not the question of that answer; send the question as asked")
        if citation is not None and citation > len(ref.chunk_ids):
            raise InvalidQueryError(f"citation {citation} is not in that answer, which has {len(ref.chunk_ids)}")
        cited = []
        for chunk_id in ref.chunk_ids:
            found = service.place(chunk_id)
            if found is None:  # no longer in the serving index
                cited.append(Cited(chunk_id, None, None))
                continue
            place, kind = found
            path = tuple(place.heading_path)
            # A gold section is a top-level section of the body; an FAQ answer is not one.
            section = None if kind == "faq" else (path[1] if len(path) > 1 else "*")
            cited.append(Cited(chunk_id, place.doc_id, section, path, kind))
        return self.store.record(
            answer_id=answer_id,
            question=question,
            helpful=helpful,
            citation=citation,
            cited=cited,
            fingerprint=ref.fingerprint,
        )
