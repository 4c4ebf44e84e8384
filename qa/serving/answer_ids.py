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
        """A new id for each answer given (a random nonce), so that a cap on feedback per answer
        is per answer, not per question."""
        nonce = secrets.token_urlsafe(6)
        body = json.dumps([question_digest(question), list(chunk_ids), fingerprint[:16], nonce], separators=(",", ":"))
        payload = _b64(body.encode("utf-8"))
        return f"{payload}.{self._sign(payload)}"

    def read(self, answer_id: str) -> AnswerRef | None:
        """What the id names, or None if this service did not issue it."""
        payload, _, signature = answer_id.partition(".")
        if not payload or not hmac.compare_digest(signature.encode("ascii", "replace"), self._sign(payload).encode()):
            return None
        try:
            digest, chunk_ids, fingerprint, _nonce = json.loads(_unb64(payload))
        except (ValueError, TypeError):
            return None
        return AnswerRef(str(digest), tuple(map(str, chunk_ids)), str(fingerprint))


MIN_SECRET_BYTES = 16


def load_secret(configured: str, data_dir: Path) -> bytes:
    """The configured secret, else the one kept in ``data_dir``: made once (mode 0600) and put in
    place with a hard link, so that a reader never sees it half-written; a file too short to be
    one (a crash of an older version) is replaced. Raises OSError when ``data_dir`` is not writable."""
    if configured:
        return configured.encode("utf-8")
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / SECRET_FILE
    for _ in range(3):
        try:
            kept = path.read_bytes().strip()
        except FileNotFoundError:
            kept = b""
        if len(kept) >= MIN_SECRET_BYTES:
            return kept
        tmp = data_dir / f".{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(32))
            handle.flush()
            os.fsync(handle.fileno())
        try:
            if kept:  # too short: replace it
                os.replace(tmp, path)
            else:
                os.link(tmp, path)  # the first process to get here wins; the others read its secret
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    return path.read_bytes().strip()
