"""The one settings object. Read once (environment variables prefixed ``QA_`` and an
optional ``.env`` file), validated, then passed to whatever needs it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from qa.errors import ConfigError
from qa.keys import KeyRing

_DEVICE = re.compile(r"^(cpu|mps|cuda(:\d+)?)$")
_ORIGIN = re.compile(r"^https?://[^/\s:]+(:\d{1,5})?$")


@dataclass(frozen=True)
class RetrievalSettings:
    """Defaults chosen on a development sample of MedQuAD (2,000 questions, seed 1) with
    ``eval/tune_fusion.py``; results are reported on another sample (seed 0)."""

    candidates: int = 100  # per ranker, before fusion
    fusion: str = "rrf"  # or "weighted"
    rrf_k: float = 60.0
    dense_weight: float = 3.0  # BM25 is much weaker on its own; equal weights cost ~0.04 MRR@10
    bm25_weight: float = 1.0
    entity_boost: float = 1.0  # in units of a weight-1 rank-1 RRF contribution
    faq_min_similarity: float = 0.8
    duplicate_threshold: float = 0.9
    # multiview: a heading line (or, in an ablation, a sentence) counts by how much it beats the k-th
    # best passage text.
    # k = 2 (the runner-up) was chosen among 1, 2, 3, 5 on MedQuAD seed 1; see README.
    view_margin_rank: int = 2
    # multiview+bm25docs (the previous default; an ablation since it cost real questions): BM25 ranks
    # documents only when its top document clearly owns the question's words
    # (runner-up's best BM25 score <= 0.9 of the top's). Chosen among 0.5, 0.7, 0.8, 0.9 and 1 on
    # MedQuAD seed 1 as the loosest gate that left its MRR@10 unchanged; see README.
    bm25_document_gate: float = 0.9


_R = RetrievalSettings()


class Settings(BaseSettings):
    """Service settings. Every field can be set as ``QA_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="QA_", env_file=".env", extra="ignore", validate_default=True)

    corpus_dir: Path = Field(Path("corpus"), description="Directory of documents to index.")
    index_dir: Path = Field(Path("index/default"), description="Directory the index lives in.")
    model: str = Field(
        "all-MiniLM-L6-v2",
        description=(
            "sentence-transformers model: 'all-MiniLM-L6-v2' (bundled, checked by sha256), "
            "a local model directory, or a model already in the Hugging Face cache. "
            "Nothing is ever downloaded."
        ),
    )
    model_adapter: str = Field(
        "bundled",
        description=(
            "Domain adapter merged into the model: 'bundled' (the MedQuAD-trained adapter in the package, checked "
            "by sha256; it lifts real consumer questions by about 0.04 Hit@1), 'none' (the plain model), or the "
            "path of an adapter file written by eval/train_adapter.py. Changing it makes the index stale."
        ),
    )
    encoder: Literal["torch", "onnx", "onnx-int8"] = Field(
        "onnx",
        description=(
            "What computes the vectors: 'onnx' (ONNX Runtime, fp32: torch's vectors, faster), 'torch' "
            "(sentence-transformers), or 'onnx-int8' (dynamic int8 quantisation: the same retrieval quality on "
            "average and 1.8x faster builds, but a question's vector depends on the questions batched with it; "
            "an index must be built with it). The ONNX export is made once from the bundled weights into QA_CACHE_DIR."
        ),
    )
    cache_dir: Path = Field(
        Path("~/.cache/drugqa"), description="Where derived model files (the ONNX export) are cached, with sha256."
    )
    encoder_threads: int = Field(
        0, ge=0, le=256, description="ONNX Runtime threads per encoder call (0: one per core, ONNX Runtime's default)."
    )
    blas_threads: int = Field(
        1,
        ge=0,
        le=256,
        description="`qa serve`: BLAS threads per NumPy call (the exact scan). Requests run concurrently, and "
        "multi-threaded BLAS calls from many request threads at once thrash the cores (0: leave BLAS's default).",
    )
    batch_max: int = Field(
        32,
        ge=1,
        le=1024,
        description="Micro-batching: most questions per encoder call (1: off).",
    )
    batch_wait_ms: float = Field(
        2.0, ge=0, le=100, description="Micro-batching: longest wait for a batch to fill, only while under load."
    )
    device: str = Field("cpu", description="torch device for the embedder: cpu, cuda, cuda:N, mps.")
    batch_size: int = Field(
        16,
        ge=1,
        le=4096,
        description="Embedding batch size (16 was fastest for the ONNX encoders here, among 8 to 128).",
    )
    max_chunk_tokens: int = Field(
        256,
        ge=32,
        le=8192,
        description=(
            "Upper bound on a chunk's word pieces, context line and special tokens included. "
            "Capped by the model's own window (256 for all-MiniLM-L6-v2)."
        ),
    )
    chunk_overlap_tokens: int = Field(
        32, ge=0, le=1024, description="Word pieces shared by consecutive pieces of a long section."
    )
    drug_dictionary: bool = Field(
        True,
        description=(
            "Build the drug lexicon with the names of the drug dictionary (drug-named-entity-recognition): "
            "brand names of the corpus's drugs, and the drugs it lacks. Changing it makes the index stale."
        ),
    )
    sentence_view: bool = Field(
        False,
        description=(
            "Also embed every sentence of every passage into the index (about 6x the texts to embed). The default "
            "retriever does not read it; the sentence-view ablations need it, and /chat quotes faster with it. "
            "Changing it makes the index stale."
        ),
    )
    fusion: str = Field(_R.fusion, description="How hybrid retrieval combines rankings: rrf or weighted.")
    rrf_k: float = Field(_R.rrf_k, gt=0, le=10_000, description="k of reciprocal-rank fusion: w / (k + rank).")
    dense_weight: float = Field(_R.dense_weight, ge=0, le=100, description="Weight of the dense ranking in fusion.")
    bm25_weight: float = Field(_R.bm25_weight, ge=0, le=100, description="Weight of the BM25 ranking in fusion.")
    entity_boost: float = Field(
        _R.entity_boost, ge=0, le=100, description="Boost for chunks of drugs named in the question (rank-1 RRF units)."
    )
    view_margin_rank: int = Field(
        _R.view_margin_rank,
        ge=1,
        le=50,
        description="multiview: views other than the passage text count by their margin over the k-th best text score.",
    )
    bm25_document_gate: float = Field(
        _R.bm25_document_gate,
        ge=0,
        le=1,
        description=(
            "multiview+bm25docs (an ablation, the previous default): BM25's ranking of documents is fused in only "
            "when the runner-up document's best BM25 score is at most this share of the top document's."
        ),
    )
    candidates: int = Field(_R.candidates, ge=10, le=10_000, description="Candidates per ranking before fusion.")
    faq_min_similarity: float = Field(
        _R.faq_min_similarity, ge=0, le=1.01, description="Cosine between question and an FAQ question to return it."
    )
    cors_origins: list[str] | None = Field(
        None,
        description=(
            "Origins allowed to call the API from a browser (the chat widget on another site): a comma-separated "
            "or JSON list of scheme://host[:port], or '*'. Default: the service's own origin and localhost "
            "development ports (3000, 5173, 8080)."
        ),
    )
    watch_seconds: float = Field(
        2.0,
        ge=0,
        le=3600,
        description="How often `qa serve` checks its index directory for a new build to swap in (0: never; "
        "POST /admin/reload still works).",
    )
    data_dir: Path = Field(
        Path("data"), description="Where `qa serve` keeps readers' feedback (SQLite) and the answer-id secret."
    )
    feedback_secret: SecretStr = Field(
        SecretStr(""),
        description="Secret that signs answer ids (shared by every server behind one load balancer). "
        "Empty: one made once and kept in QA_DATA_DIR.",
    )
    feedback_per_answer: int = Field(5, ge=1, le=100, description="Most pieces of feedback kept per answer.")
    host: str = Field("127.0.0.1", description="Address `qa serve` binds to.")
    port: int = Field(8000, ge=1, le=65535, description="Port `qa serve` listens on.")
    log_level: str = Field("info", description="critical, error, warning, info or debug.")
    log_format: Literal["text", "json"] = Field(
        "text", description="`qa serve` logs: 'text', or 'json' (one object per line, with the request id)."
    )
    log_questions: bool = Field(
        False, description="Log the text of questions (health data: off unless you need it and may keep it)."
    )
    api_keys: SecretStr = Field(
        SecretStr(""),
        description="API keys with roles, comma-separated role:key entries (roles: query, metrics, admin), "
        "e.g. query:<key>,admin:<key>. Empty: no keys; the API is open and admin routes answer loopback clients only.",
    )
    rate_limit: float = Field(
        0.0, ge=0, le=100_000, description="Requests per second per key (or IP without keys), per worker; 0: off."
    )
    rate_burst: int = Field(
        20, ge=1, le=100_000, description="Requests a client may make at once before the rate applies."
    )

    @field_validator("model")
    @classmethod
    def _model_not_blank(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must name a model, e.g. all-MiniLM-L6-v2")
        return value

    @field_validator("model_adapter")
    @classmethod
    def _adapter_known(cls, value: str) -> str:
        value = value.strip()
        if value.lower() in ("none", "bundled", ""):
            return value.lower() or "none"
        if not Path(value).expanduser().is_file():
            raise ValueError(f"{value!r} is not 'none', 'bundled' or the path of an adapter file")
        return value

    @field_validator("device")
    @classmethod
    def _device_known(cls, value: str) -> str:
        value = value.strip().lower()
        if not _DEVICE.match(value):
            raise ValueError(f"unknown torch device {value!r}; use cpu, cuda, cuda:N or mps")
        return value

    @field_validator("fusion")
    @classmethod
    def _fusion_known(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in {"rrf", "weighted"}:
            raise ValueError(f"unknown fusion {value!r}; use rrf or weighted")
        return value

    @field_validator("log_level")
    @classmethod
    def _level_known(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in {"critical", "error", "warning", "info", "debug"}:
            raise ValueError(f"unknown log level {value!r}; use critical, error, warning, info or debug")
        return value

    @field_validator("api_keys")
    @classmethod
    def _keys_parse(cls, value: SecretStr) -> SecretStr:
        KeyRing.parse(value.get_secret_value())  # a ValueError names the entry, never the key
        return value

    @field_validator("feedback_secret")
    @classmethod
    def _secret_long_enough(cls, value: SecretStr) -> SecretStr:
        if 0 < len(value.get_secret_value().encode("utf-8")) < 16:
            raise ValueError("must be empty or at least 16 bytes; make one with "
                             "python -c 'import secrets; print(secrets.token_urlsafe(32))'")  # fmt: skip
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip().startswith("["):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins_are_origins(cls, value: list[str] | None) -> list[str] | None:
        for origin in value or []:
            if origin != "*" and not _ORIGIN.match(origin):
                raise ValueError(
                    f"{origin!r} is not an origin; write scheme://host[:port] with no path, e.g. https://example.org"
                )
        return value

    def retrieval(self) -> RetrievalSettings:
        """The retrieval parameters, as the retrieval stage takes them."""
        return RetrievalSettings(
            candidates=self.candidates,
            fusion=self.fusion,
            rrf_k=self.rrf_k,
            dense_weight=self.dense_weight,
            bm25_weight=self.bm25_weight,
            entity_boost=self.entity_boost,
            faq_min_similarity=self.faq_min_similarity,
            view_margin_rank=self.view_margin_rank,
            bm25_document_gate=self.bm25_document_gate,
        )

    def keyring(self) -> KeyRing:
        return KeyRing.parse(self.api_keys.get_secret_value())

    def allowed_origins(self) -> list[str]:
        if self.cors_origins is not None:
            return self.cors_origins
        own = {f"http://{self.host}:{self.port}", f"http://localhost:{self.port}", f"http://127.0.0.1:{self.port}"}
        dev = {f"http://{name}:{port}" for name in ("localhost", "127.0.0.1") for port in (3000, 5173, 8080)}
        return sorted(own | dev)

    @model_validator(mode="after")
    def _overlap_fits(self) -> Settings:
        if self.chunk_overlap_tokens * 2 >= self.max_chunk_tokens:
            raise ValueError(
                f"chunk_overlap_tokens ({self.chunk_overlap_tokens}) must be less than half of "
                f"max_chunk_tokens ({self.max_chunk_tokens})"
            )
        return self


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment, apply explicit overrides, fail fast on bad values."""
    clean = {key: value for key, value in overrides.items() if value is not None}
    try:
        return Settings(**clean)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]) or "settings"
            name = f"QA_{field.upper()}" if field != "settings" else "settings"
            shown = None if field in {"api_keys", "feedback_secret"} else error.get("input")  # never echo a secret
            value = f"={shown!r}" if shown is not None and not isinstance(shown, dict) else ""
            problems.append(f"{name}{value}: {error['msg']}")
        raise ConfigError("invalid settings: " + "; ".join(problems)) from None
