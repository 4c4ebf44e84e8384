"""BM25 (bm25s) over the same contextual text the dense side embeds: the title › heading
path line, then the chunk's text. Headings carry much of a section's meaning ("Dosage",
"Side Effects"); a BM25 over bare chunk text loses it.

Tokens: lower-cased words of two or more characters, English stopwords removed, Snowball
English stems (PyStemmer). Stored with bm25s's own format (``.npy`` arrays and JSON,
loaded with ``allow_pickle=False``), and beside it each chunk's token ids (``tokens.npy``,
``token_offsets.npy``), which only a rebuild reads: a chunk whose text is unchanged takes its
tokens from there instead of being tokenized again (``TokenReuse``). BM25's statistics (document
frequencies, average length) are always recomputed over the whole corpus by bm25s.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qa.indexing.sentences import source_digest

BM25_DIR = "bm25"
TOKENS_FILE = "tokens.npy"
TOKEN_OFFSETS_FILE = "token_offsets.npy"
VOCAB_FILE = "vocab.index.json"  # bm25s's own


@functools.cache
def rules_digest() -> str:
    """A digest of what decides a text's tokens: the code of ``tokenize`` and ``_stemmer``, the
    Python version and the bm25s and PyStemmer versions (random without source code: nothing is
    then reused). A rebuild reuses stored tokens only when it is unchanged."""
    parts = [source_digest(tokenize, _stemmer.__wrapped__)]
    parts += [f"{package}={importlib.metadata.version(package)}" for package in ("bm25s", "PyStemmer")]
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class TokenRows:
    """Each chunk's token ids in the index's vocabulary: chunk i's are ``ids[offsets[i]:offsets[i+1]]``."""

    ids: np.ndarray  # int32
    offsets: np.ndarray  # int64, (chunks + 1,)


@dataclass(frozen=True)
class TokenReuse:
    """An earlier index's tokens, by the text they were made from."""

    stems: list[str]  # the earlier vocabulary: id -> stem
    ids: np.ndarray
    rows: dict[str, tuple[int, int]]  # text -> its slice of ``ids``

    @classmethod
    def load(cls, directory: Path, texts: Sequence[str]) -> TokenReuse:
        """The tokens stored in ``directory`` (an index's ``bm25/``) for its chunks' ``texts``;
        ValueError or OSError when they do not fit."""
        vocab = json.loads((Path(directory) / VOCAB_FILE).read_text(encoding="utf-8"))
        stems = [""] * len(vocab)
        for stem, i in vocab.items():
            stems[i] = stem
        ids = np.load(Path(directory) / TOKENS_FILE, allow_pickle=False)
        offsets = np.load(Path(directory) / TOKEN_OFFSETS_FILE, allow_pickle=False)
        if offsets.shape != (len(texts) + 1,) or offsets[0] != 0 or offsets[-1] != len(ids):
            raise ValueError(f"token offsets do not describe {len(texts)} chunks and {len(ids)} tokens")
        if np.any(np.diff(offsets) < 0) or (len(ids) and not 0 <= ids.min() <= ids.max() < len(stems)):
            raise ValueError("token ids or offsets out of range")
        rows = {text: (int(offsets[i]), int(offsets[i + 1])) for i, text in enumerate(texts)}
        return cls(stems, ids, rows)


@functools.cache
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    import bm25s

    return bm25s.tokenize(list(texts), stopwords="en", stemmer=_stemmer(), return_ids=False, show_progress=False)


_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # bm25s's default token pattern


@functools.cache
def _stop_words() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN  # what ``stopwords="en"`` removes

    return frozenset(STOPWORDS_EN)


def query_tokens(text: str) -> list[str]:
    """``tokenize([text])[0]`` for one question, without bm25s's per-call set-up (vocabularies,
    progress bars; about 0.3 ms of each query): the same lower-casing, token pattern, stop words
    and stems. A property test holds the two equal."""
    stop = _stop_words()
    return _stemmer().stemWords([word for word in _TOKEN.findall(text.lower()) if word not in stop])


def _token_ids(texts: Sequence[str], reuse: TokenReuse | None) -> tuple[TokenRows, list[str]]:
    """Every text's token ids in one vocabulary (id -> stem), with only the texts ``reuse`` lacks
    tokenized; the vocabulary holds exactly the stems the texts use."""
    stems = list(reuse.stems) if reuse else []
    kept = [reuse.rows.get(text) if reuse else None for text in texts]
    fresh = tokenize([text for text, old in zip(texts, kept, strict=True) if old is None])
    vocab = {stem: i for i, stem in enumerate(stems)}
    new = iter(fresh)
    parts = []
    for old in kept:
        if old is not None:
            parts.append(reuse.ids[old[0] : old[1]])  # type: ignore[union-attr]
        else:
            parts.append(np.array([vocab.setdefault(t, len(vocab)) for t in next(new)], dtype=np.int32))
    stems += list(vocab)[len(stems) :]
    counts = np.array([len(p) for p in parts], dtype=np.int64)
    flat = np.concatenate(parts).astype(np.int32) if parts else np.zeros(0, np.int32)
    used = np.unique(flat)  # drop stems no text uses any more (and bm25s's empty token)
    remap = np.zeros(len(stems), dtype=np.int32)
    remap[used] = np.arange(len(used), dtype=np.int32)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return TokenRows(remap[flat], offsets), [stems[u] for u in used]


class Bm25Index:
    def __init__(self, model: Any, tokens: TokenRows | None = None) -> None:
        self._model = model
        self._vocab: dict[str, int] = model.vocab_dict
        self.tokens = tokens  # each text's token ids, kept for the next rebuild (None when loaded)

    @classmethod
    def build(cls, texts: Sequence[str], reuse: TokenReuse | None = None) -> Bm25Index:
        """Index ``texts``; with ``reuse``, texts an earlier index had are not tokenized again (the
        same stems and scores either way; stem ids may be numbered differently)."""
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)
        tokens, stems = _token_ids(texts, reuse)
        ids = [row.tolist() for row in np.split(tokens.ids, tokens.offsets[1:-1])] if len(texts) else []
        model = bm25s.BM25()
        model.index((ids, {stem: i for i, stem in enumerate(stems)}), show_progress=False)
        return cls(model, tokens)

    def save(self, directory: Path) -> None:
        self._model.save(str(directory), show_progress=False)
        if self.tokens is not None:
            np.save(Path(directory) / TOKENS_FILE, self.tokens.ids)
            np.save(Path(directory) / TOKEN_OFFSETS_FILE, self.tokens.offsets)

    @classmethod
    def load(cls, directory: Path) -> Bm25Index:
        import bm25s

        return cls(bm25s.BM25.load(str(directory), allow_pickle=False, show_progress=False))

    @property
    def size(self) -> int:
        return int(self._model.scores["num_docs"])

    def knows(self, word: str) -> bool:
        """Whether the word (after stemming) occurs anywhere in the indexed text."""
        return any(token in self._vocab for token in query_tokens(word))

    def scores(self, query: str, mask: np.ndarray | None = None) -> np.ndarray:
        """BM25 score of every chunk (0 where ``mask`` is False)."""
        tokens = [t for t in query_tokens(query) if t in self._vocab]
        if not tokens:
            return np.zeros(self.size, dtype=np.float32)
        weights = None if mask is None else mask.astype(np.float32)
        return np.asarray(self._model.get_scores(tokens, weight_mask=weights), dtype=np.float32)
