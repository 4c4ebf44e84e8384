"""API keys: parsing with messages that name the entry but never the key, roles, lookup."""

from __future__ import annotations

import pytest

from qa.keys import KeyRing

A = "a" * 16
B = "b-2_c.d~e+f/g=h1"


def test_parse_and_identify() -> None:
    ring = KeyRing.parse(f" query:{A} , admin:{B},")
    assert ring.enabled and len(ring) == 2
    assert ring.roles() == {"query": 1, "metrics": 0, "admin": 1}
    query, admin = ring.identify(A), ring.identify(B)
    assert query is not None and query.role == "query" and query.allows("query") and not query.allows("admin")
    assert admin is not None and all(admin.allows(role) for role in ("query", "metrics", "admin"))
    assert ring.identify("a" * 17) is None and ring.identify("") is None and ring.identify(None) is None
    assert query.name.startswith("key-") and A not in query.name
    assert A not in repr(ring) and B not in repr(ring)


def test_empty_setting_means_no_keys() -> None:
    assert not KeyRing.parse("").enabled and not KeyRing.parse(" , ").enabled


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (f"reader:{A}", "entry 1 has an unknown role 'reader'"),
        (f"{B}:admin", "entry 1 has an unknown role;"),  # written backwards: the key is not echoed
        (f"query:{A},{B}", "entry 2 is not role:key"),
        ("query:tooshort", "at least 16 characters"),
        ("query:has spaces in this key!", "at least 16 characters"),
        (f"query:{A},admin:{A}", "configured twice"),
    ],
)
def test_bad_entries_are_named_without_the_key(text: str, fragment: str) -> None:
    with pytest.raises(ValueError) as raised:
        KeyRing.parse(text)
    assert fragment in str(raised.value)
    for secret in (A, B, "tooshort", "has spaces"):
        assert secret not in str(raised.value)
