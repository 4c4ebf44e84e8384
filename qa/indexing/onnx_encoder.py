"""The ONNX Runtime encoder: the same model as ``SentenceTransformerEmbedder``, without torch
at query time.

Texts are tokenised with the model's own ``tokenizer.json`` (the Rust ``tokenizers`` library,
which sentence-transformers uses too), sorted by length and batched so that little padding
is computed, run through the cached export (``qa.indexing.onnx_export``), then mean-pooled
over real tokens and L2-normalised, as the model's sentence-transformers modules do. On
all-MiniLM-L6-v2 the fp32 export gives the torch vectors to a cosine of 1.0000 (checked by a
test); ``onnx-int8`` does not, and indexes record which encoder built them
(``qa.indexing.probes``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from qa.errors import ModelError
from qa.indexing.adapter import resolve_adapter
from qa.indexing.embedding import (
    BUNDLED_MODEL_ID,
    BUNDLED_SHA256,
    SentenceTransformerEmbedder,
    resolve_model,
    verify_bundled_weights,
)
from qa.indexing.onnx_export import INPUTS, ensure_export, weights_sha256

ENCODERS = ("torch", "onnx", "onnx-int8")


def _pooling_is_mean(model_dir: Path) -> bool:
    config = model_dir / "1_Pooling" / "config.json"
    if not config.is_file():
        return False
    settings = json.loads(config.read_text(encoding="utf-8"))
    return bool(settings.get("pooling_mode_mean_tokens")) and not any(
        settings.get(k) for k in ("pooling_mode_cls_token", "pooling_mode_max_tokens")
    )


class OnnxEmbedder:
    """A mean-pooling sentence-transformers model run by onnxruntime; loaded lazily, offline."""

    def __init__(
        self,
        model: str = "all-MiniLM-L6-v2",
        *,
        adapter: str = "none",
        quantize: bool = False,
        cache_dir: Path = Path("~/.cache/drugqa"),
        batch_size: int = 16,
        threads: int = 0,
    ) -> None:
        self._name = model
        self._adapter_setting = adapter
        self._resolved = resolve_model(model)
        self._adapter = resolve_adapter(adapter)
        self._quantize = quantize
        self._cache_dir = Path(cache_dir)
        self._batch_size = batch_size
        self._threads = threads
        self._lock = threading.Lock()
        self._session: Any = None
        self._tokenizer: Any = None
        self._counter: Any = None
        self._max_length = 256
        self._dimension = 0
        self.export_path: Path | None = None

    @property
    def encoder(self) -> str:
        return "onnx-int8" if self._quantize else "onnx"

    @property
    def model_id(self) -> str:
        return self._resolved.model_id + (self._adapter.tag if self._adapter else "")

    @property
    def loaded(self) -> bool:
        return self._session is not None

    def _load(self) -> None:
        if self._session is not None:
            return
        with self._lock:
            if self._session is None:
                self._load_session()

    def _load_session(self) -> None:
        location = Path(self._resolved.location)
        if not location.is_dir():
            raise ModelError(f"QA_ENCODER=onnx needs a local model directory; {self._name!r} is not one")
        if not _pooling_is_mean(location):
            raise ModelError(f"{location} does not use mean pooling; QA_ENCODER=onnx supports only that: use torch")
        if self._resolved.model_id == BUNDLED_MODEL_ID:
            verify_bundled_weights(str(location))
            weights = BUNDLED_SHA256
        else:
            weights = weights_sha256(str(location))
        torch_embedder = SentenceTransformerEmbedder(self._name, adapter=self._adapter_setting)
        self.export_path = ensure_export(
            torch_embedder.load,
            model_id=self.model_id,
            weights_sha=weights,
            quantize=self._quantize,
            cache_dir=self._cache_dir,
        )
        import onnxruntime as ort
        from tokenizers import Tokenizer

        config = json.loads((location / "sentence_bert_config.json").read_text(encoding="utf-8"))
        self._max_length = int(config.get("max_seq_length", 256))
        tokenizer = Tokenizer.from_file(str(location / "tokenizer.json"))
        tokenizer.no_padding()
        tokenizer.enable_truncation(self._max_length)
        counter = Tokenizer.from_file(str(location / "tokenizer.json"))  # counts the whole text
        counter.no_padding()
        counter.no_truncation()
        self._counter = counter
        options = ort.SessionOptions()
        options.intra_op_num_threads = self._threads
        options.log_severity_level = 3
        # ONNX Runtime's threads otherwise spin for a while after each call, taking the cores from
        # the NumPy work (the exact scan) that follows every question: 13.9 -> 7.1 ms per MedQuAD
        # query (eval/profile_query.py).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = ort.InferenceSession(str(self.export_path), options, providers=["CPUExecutionProvider"])
        self._dimension = int(json.loads((location / "config.json").read_text(encoding="utf-8"))["hidden_size"])
        self._tokenizer = tokenizer
        self._session = session

    @property
    def dimension(self) -> int:
        self._load()
        return self._dimension

    @property
    def max_tokens(self) -> int:
        self._load()
        return self._max_length - 2  # [CLS] and [SEP]

    def count_tokens(self, text: str) -> int:
        self._load()
        return len(self._counter.encode(text, add_special_tokens=False).ids)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self._load()
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        if not texts:
            return out
        encodings = self._tokenizer.encode_batch(list(texts))
        order = np.argsort([len(e.ids) for e in encodings], kind="stable")
        for start in range(0, len(order), self._batch_size):
            rows = order[start : start + self._batch_size]
            out[rows] = self._run([encodings[i] for i in rows])
        return out

    def _run(self, encodings: list[Any]) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        arrays = {name: np.zeros((len(encodings), width), dtype=np.int64) for name in INPUTS}
        for row, encoding in enumerate(encodings):
            n = len(encoding.ids)
            arrays["input_ids"][row, :n] = encoding.ids
            arrays["attention_mask"][row, :n] = 1
            arrays["token_type_ids"][row, :n] = encoding.type_ids
        hidden = self._session.run(None, arrays)[0]
        mask = arrays["attention_mask"][..., None].astype(np.float32)
        pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
