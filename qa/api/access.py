"""Who may call a route, and how often: API keys with roles, and per-client rate limits.

A route declares the role it needs (``Access("query")``); ``deps.py`` has the aliases. With
keys configured (``QA_API_KEYS``) a request must send one, as ``X-API-Key: <key>`` or
``Authorization: Bearer <key>``: none or an unknown one gets 401, a key whose role does not
reach the route gets 403. With no keys the API is open, except admin routes, which then answer
loopback clients only. With ``QA_RATE_LIMIT`` each key (or client IP, when keys are off) has a
token bucket; an empty one gets 429 with ``Retry-After``.
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
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
    key = _authenticate(keyring, role, presented, host, metrics)
    limiter: RateLimiter | None = request.app.state.limiter
    if limiter is not None:
        wait = limiter.check(f"key:{key.name}" if key else f"ip:{host}")
        if wait > 0:
            metrics.rate_limited.labels("key" if key else "ip").inc()
            seconds = max(1, math.ceil(wait))
            raise ApiError(
                429,
                "rate_limited",
                f"over the rate limit of {limiter.rate:g} requests per second (bursts of {limiter.burst:g}) "
                f"for this {'key' if key else 'address'}; retry after {seconds} s",
                {"Retry-After": str(seconds)},
            )
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
