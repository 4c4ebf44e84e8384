"""The one fake: a small deterministic embedder behind the same interface as the real one.

It hashes word tokens into a 64-dimensional bag-of-words vector, so texts that share words
are close, and it reads at most 48 tokens, so that unit tests exercise the token cap.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

_TOKEN = re.compile(r"\w+|[^\w\s]")


class FakeEmbedder:
    encoder = "fake"

    def __init__(self, dimension: int = 64, max_tokens: int = 48, model_id: str = "fake/hashing-bow") -> None:
        self._dimension = dimension
        self._max_tokens = max_tokens
        self._model_id = model_id
        self.calls = 0
        self.texts_embedded = 0
        self.seen: list[str] = []  # every text embedded, in order

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    def count_tokens(self, text: str) -> int:
        return len(_TOKEN.findall(text))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        self.texts_embedded += len(texts)
        self.seen += texts
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in _TOKEN.findall(text.lower())[: self._max_tokens]:
                digest = hashlib.blake2b(token.encode(), digest_size=8).digest()
                out[row, digest[0] % self._dimension] += 1.0 if digest[1] % 2 else -1.0
            norm = np.linalg.norm(out[row])
            if norm == 0:
                out[row, 0], norm = 1.0, 1.0
            out[row] /= norm
        return out
