"""``GET /health`` and ``GET /ready``."""

from __future__ import annotations

from pydantic import BaseModel, Field

from qa.serving.schemas.admin import ReloadResponse


class Health(BaseModel):
    status: str = Field(description="Always 'ok' while the process serves requests.")
    version: str = Field(description="Package version.")


class Ready(BaseModel):
    ready: bool = Field(description="True: questions can be answered.")
    documents: int = Field(description="Documents in the loaded index.")
    chunks: int = Field(description="Passages in the loaded index.")
    model: str = Field(description="Embedding model of the loaded index.")
    fingerprint: str = Field(description="sha256 over the corpus files the index was built from.")
    stale: list[str] = Field(description="Why the index may be out of date with the corpus; empty when current.")
    calibrated: bool = Field(description="Whether the match signal has thresholds for this model (else never strong).")
    calibration_note: str = Field(description="Where the thresholds come from, or why there are none.")
    encoder: str = Field(description="What computes the question vectors: torch, onnx or onnx-int8.")
    reloads: dict[str, int] = Field(description="Hot index swaps since start: 'ok' and 'refused'.")
    last_reload: ReloadResponse | None = Field(description="The last reload's outcome; its error says why it failed.")
