"""BM25 (bm25s) over the same contextual text the dense side embeds: the title › heading
path line, then the chunk's text. Headings carry much of a section's meaning ("Dosage",
"Side Effects"); a BM25 over bare chunk text loses it.

Tokens: lower-cased words of two or more characters, English stopwords removed, Snowball
English stems (PyStemmer). Stored with bm25s's own format (``.npy`` arrays and JSON,
loaded with ``allow_pickle=False``).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

BM25_DIR = "bm25"


@functools.cache
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    import bm25s

    return bm25s.tokenize(list(texts), stopwords="en", stemmer=_stemmer(), return_ids=False, show_progress=False)


class Bm25Index:
    def __init__(self, model: Any) -> None:
        self._model = model
        self._vocab: dict[str, int] = model.vocab_dict

    @classmethod
    def build(cls, texts: Sequence[str]) -> Bm25Index:
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)
        tokens = bm25s.tokenize(list(texts), stopwords="en", stemmer=_stemmer(), show_progress=False)
        model = bm25s.BM25()
        model.index(tokens, show_progress=False)
        return cls(model)

    def save(self, directory: Path) -> None:
        self._model.save(str(directory), show_progress=False)

    @classmethod
    def load(cls, directory: Path) -> Bm25Index:
        import bm25s

        return cls(bm25s.BM25.load(str(directory), allow_pickle=False, show_progress=False))

    @property
    def size(self) -> int:
        return int(self._model.scores["num_docs"])

    def knows(self, word: str) -> bool:
        """Whether the word (after stemming) occurs anywhere in the indexed text."""
        return any(token in self._vocab for token in (tokenize([word])[0] or ["\x00"]))

    def scores(self, query: str, mask: np.ndarray | None = None) -> np.ndarray:
        """BM25 score of every chunk (0 where ``mask`` is False)."""
        tokens = [t for t in tokenize([query])[0] if t in self._vocab]
        if not tokens:
            return np.zeros(self.size, dtype=np.float32)
        weights = None if mask is None else mask.astype(np.float32)
        return np.asarray(self._model.get_scores(tokens, weight_mask=weights), dtype=np.float32)
