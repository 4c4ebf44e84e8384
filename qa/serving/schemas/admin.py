"""``POST /admin/reload``."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ReloadResponse(BaseModel):
    reloaded: bool = Field(description="True: the new index is serving. False: it was refused; the old one serves.")
    fingerprint: str | None = Field(description="Corpus fingerprint of the index serving now.")
    previous_fingerprint: str | None = Field(description="Corpus fingerprint of the index served before.")
    error: str | None = Field(description="Why the new index was refused; null when it was not.")
    took_ms: float = Field(description="Time to load, verify and warm up the new index.")
    at: str = Field(description="When the reload finished (UTC, ISO 8601).")
