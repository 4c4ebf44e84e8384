"""``answer_id``: what a chat answer was, signed, so that feedback can name it without the
service storing every answer.

An id carries a digest of the question, the ids of the passages the answer cited (in citation
order) and the fingerprint of the index that answered, and an HMAC-SHA256 over them with the
service's secret. Feedback naming an id the service did not issue (or one altered) is refused.
The secret is ``QA_FEEDBACK_SECRET``, or one made once and kept in the data directory (so that
workers and restarts agree).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

SECRET_FILE = "answer-id.secret"
_SIGNATURE_CHARS = 22  # 128 bits of the HMAC, base64url


def question_digest(question: str) -> str:
    return hashlib.sha256(" ".join(question.split()).encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class AnswerRef:
    question_digest: str
    chunk_ids: tuple[str, ...]
    fingerprint: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class AnswerIds:
    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the answer-id secret must be at least 16 bytes")
        self._secret = secret

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._secret, payload.encode("ascii"), hashlib.sha256).digest())[:_SIGNATURE_CHARS]

    def issue(self, question: str, chunk_ids: tuple[str, ...] | list[str], fingerprint: str) -> str:
        body = json.dumps([question_digest(question), list(chunk_ids), fingerprint[:16]], separators=(",", ":"))
        payload = _b64(body.encode("utf-8"))
        return f"{payload}.{self._sign(payload)}"

    def read(self, answer_id: str) -> AnswerRef | None:
        """What the id names, or None if this service did not issue it."""
        payload, _, signature = answer_id.partition(".")
        if not payload or not hmac.compare_digest(signature.encode("ascii", "replace"), self._sign(payload).encode()):
            return None
        try:
            digest, chunk_ids, fingerprint = json.loads(_unb64(payload))
        except (ValueError, TypeError):
            return None
        return AnswerRef(str(digest), tuple(map(str, chunk_ids)), str(fingerprint))


def load_secret(configured: str, data_dir: Path) -> bytes:
    """The configured secret, else the one kept in ``data_dir`` (made once, mode 0600)."""
    if configured:
        return configured.encode("utf-8")
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / SECRET_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "w") as handle:  # first worker to get here writes it; the others read it
        handle.write(secrets.token_urlsafe(32))
    return path.read_bytes().strip()
