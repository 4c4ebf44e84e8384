"""API keys and their roles (``QA_API_KEYS``), framework-free.

The setting is a comma-separated list of ``role:key`` entries, for example
``query:pk_widget_4f9c2a7d1e8b,admin:sk_ops_Zr1Lq8Vt0mYw3nB5``. Roles:

- ``query``: ``/query`` and ``/chat`` (a widget's public key);
- ``metrics``: ``/metrics`` (a Prometheus scraper);
- ``admin``: everything, ``/admin/*`` included.

Keys are compared in constant time: every configured key's SHA-256 is compared with the
presented key's, with no early exit, so timing says nothing about how much of a key matched.
A key is never logged; an ``ApiKey`` carries only its role and a short digest that names it in
logs and rate limits.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

ROLES = ("query", "metrics", "admin")
GRANTS: dict[str, frozenset[str]] = {
    "query": frozenset({"query"}),
    "metrics": frozenset({"metrics"}),
    "admin": frozenset(ROLES),
}
MIN_KEY_CHARS = 16
_KEY = re.compile(r"^[A-Za-z0-9._~+/=-]+$")
MAKE_ONE = "python -c 'import secrets; print(secrets.token_urlsafe(24))'"


@dataclass(frozen=True)
class ApiKey:
    role: str
    name: str  # "key-" and the first 8 hex digits of the key's SHA-256: safe to log

    def allows(self, role: str) -> bool:
        return role in GRANTS[self.role]


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


class KeyRing:
    """The configured keys; empty means the API is open (see ``enabled``)."""

    def __init__(self, entries: list[tuple[str, str]] | None = None) -> None:
        self._keys = [(_digest(key), ApiKey(role, "key-" + _digest(key).hex()[:8])) for role, key in entries or []]

    @classmethod
    def parse(cls, text: str) -> KeyRing:
        """``role:key[,role:key...]``; a ValueError names the bad entry by number, never the key."""
        entries: list[tuple[str, str]] = []
        seen: set[str] = set()
        for number, raw in enumerate((part.strip() for part in text.split(",")), start=1):
            if not raw:
                continue
            role, sep, key = raw.partition(":")
            role, key = role.strip().lower(), key.strip()
            where = f"entry {number}"
            if not sep or not key:
                raise ValueError(f"{where} is not role:key; write e.g. query:<key>,admin:<key>")
            if role not in ROLES:
                shown = f" {role!r}" if role.isalpha() and len(role) <= 12 else ""  # never what may be a key
                raise ValueError(
                    f"{where} has an unknown role{shown}; write role:key with a role of {', '.join(ROLES)}"
                )
            if len(key) < MIN_KEY_CHARS or not _KEY.match(key):
                raise ValueError(
                    f"the key of {where} must be at least {MIN_KEY_CHARS} characters of letters, digits and "
                    f"._~+/=-; make one with {MAKE_ONE}"
                )
            if key in seen:
                raise ValueError(f"the key of {where} is configured twice; give each key one role")
            seen.add(key)
            entries.append((role, key))
        return cls(entries)

    @property
    def enabled(self) -> bool:
        return bool(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def roles(self) -> dict[str, int]:
        counts = dict.fromkeys(ROLES, 0)
        for _, key in self._keys:
            counts[key.role] += 1
        return counts

    def identify(self, presented: str | None) -> ApiKey | None:
        """The key ``presented`` is, or None; compares against every key in constant time."""
        if not presented:
            return None
        digest = _digest(presented)
        found: ApiKey | None = None
        for known, key in self._keys:
            if hmac.compare_digest(known, digest):
                found = key
        return found

    def __repr__(self) -> str:  # never the keys themselves
        return f"KeyRing({self.roles()})"
