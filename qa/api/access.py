"""Who may call a route, and how often: API keys with roles, and per-client rate limits.

A route declares the role it needs (``Access("query")``); ``deps.py`` has the aliases. With
keys configured (``QA_API_KEYS``) a request must send one, as ``X-API-Key: <key>`` or
``Authorization: Bearer <key>``: none or an unknown one gets 401, a key whose role does not
reach the route gets 403. With no keys the API is open, except admin routes, which then answer
loopback clients only (behind a reverse proxy on the same host every client looks local: configure
keys there). With ``QA_RATE_LIMIT`` each key (a public ``query`` key: each address using it; client
IP when keys are off) has a token bucket; an empty one gets 429 with ``Retry-After``. A request with
a wrong key spends its address's tokens too.
"""

from __future__ import annotations

import ipaddress
import math
from typing import Annotated

from fastapi import Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from qa.api.errors import ApiError, Forbidden
from qa.keys import ApiKey, KeyRing
from qa.serving.metrics import Metrics
from qa.serving.ratelimit import RateLimiter

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key (QA_API_KEYS).")
bearer = HTTPBearer(auto_error=False, description="An API key sent as a bearer token.")
SEND_KEY = "send it as the X-API-Key header or as Authorization: Bearer <key>"


def is_loopback(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1
    return bool((mapped or address).is_loopback)


def bucket(key: ApiKey | None, host: str) -> str:
    """Whose rate limit a request counts against: a query key is public (every reader of the
    widget sends it), so its readers are told apart by address; other keys, and addresses when
    keys are off, have one bucket each."""
    if key is None:
        return f"ip:{host}"
    return f"key:{key.name}:ip:{host}" if key.role == "query" else f"key:{key.name}"


def rate_limited(limiter: RateLimiter, metrics: Metrics, client: str, kind: str) -> None:
    wait = limiter.check(client)
    if wait > 0:
        metrics.rate_limited.labels(kind).inc()
        seconds = max(1, math.ceil(wait))
        raise ApiError(
            429,
            "rate_limited",
            f"over the rate limit of {limiter.rate:g} requests per second (bursts of {limiter.burst:g}) "
            f"for this {'key' if kind == 'key' else 'address'}; retry after {seconds} s",
            {"Retry-After": str(seconds)},
        )


def presented_key(request: Request) -> str | None:
    """The key a request sends, from either header (for routes that do not declare security)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return request.headers.get("x-api-key") or (token.strip() if scheme.lower() == "bearer" else None) or None


def check_access(request: Request, role: str | None, presented: str | None) -> ApiKey | None:
    """The key for ``role`` (None: a public route), after the caller's rate limit; raises 401,
    403 or 429 as ``ApiError``."""
    keyring: KeyRing = request.app.state.keyring
    metrics: Metrics = request.app.state.metrics
    host = request.client.host if request.client else ""
    limiter: RateLimiter | None = request.app.state.limiter
    try:
        key = _authenticate(keyring, role, presented, host, metrics)
    except ApiError as refused:
        if limiter is not None and refused.status == 401:  # guessing keys costs the address its tokens
            rate_limited(limiter, metrics, f"ip:{host}", "ip")
        raise
    if limiter is not None:
        rate_limited(limiter, metrics, bucket(key, host), "key" if key else "ip")
    return key


def _authenticate(
    keyring: KeyRing, role: str | None, presented: str | None, host: str, metrics: Metrics
) -> ApiKey | None:
    if not keyring.enabled:
        if role == "admin" and not is_loopback(host):
            metrics.auth_refused.labels("403").inc()
            raise Forbidden(
                f"admin routes answer only loopback clients when no API keys are configured, not "
                f"{host or 'an unknown client'}; set QA_API_KEYS with an admin key"
            )
        return None
    key = keyring.identify(presented)
    if role is None:
        return key  # public: a valid key only names the caller for its rate limit
    if key is None:
        metrics.auth_refused.labels("401").inc()
        reason = "this API needs a key" if not presented else "the API key is not valid"
        raise ApiError(401, "unauthorized", f"{reason}; {SEND_KEY}", {"WWW-Authenticate": 'Bearer realm="qa"'})
    if not key.allows(role):
        metrics.auth_refused.labels("403").inc()
        raise Forbidden(f"a {key.role!r} key may not use this route; it needs a key with the {role!r} role")
    return key


class Access:
    """A dependency for a route that needs ``role``; it declares both ways of sending a key in
    the OpenAPI schema (the docs' Authorize button). Returns the key, or None when keys are off."""

    def __init__(self, role: str) -> None:
        self.role = role

    def __call__(
        self,
        request: Request,
        header_key: Annotated[str | None, Security(api_key_header)],
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
    ) -> ApiKey | None:
        return check_access(request, self.role, header_key or (credentials.credentials if credentials else None))


def public_access(request: Request) -> ApiKey | None:
    """A dependency for a public route: no key needed, but the rate limit applies (to the key
    when a valid one is sent, else to the address)."""
    return check_access(request, None, presented_key(request))
