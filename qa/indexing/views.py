"""Further views of the passages, embedded beside the chunk vectors and stored in ``views/``.

- ``heading``: each chunk's ``title › heading path`` line alone, embedded once per unique path.
  A question that restates what a section is about ("What are the symptoms of X?") matches
  the heading better than any passage text; ``qa.retrieval`` lets the heading view count only
  by that margin, so that it decides where it is clearly right and is silent elsewhere.
- ``sentence``: each sentence of a chunk (``qa.indexing.sentences``) with its heading as context
  (``Dosage: Take 4 mg once daily.``), for questions one sentence answers. Stored as float16
  (half the size; cosines move by under 0.001), rows grouped by chunk; chat answers quote from it.

The manifest's ``views`` lists the views an index has. Arrays are ``.npy`` files, read with
``allow_pickle=False``; texts are JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.indexing.chunking import Chunk
from qa.indexing.sentences import chunk_sentences, rules_digest, sentences_key

VIEWS_DIR = "views"
HEADING = "heading"
SENTENCE = "sentence"
EmbedFn = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True)
class HeadingView:
    texts: list[str]  # unique heading lines
    vectors: np.ndarray  # (len(texts), dimension), unit rows
    of_chunk: np.ndarray  # (chunks,) row of each chunk's heading line

    def scores(self, question: np.ndarray) -> np.ndarray:
        """Cosine between the question vector and every chunk's heading line, per chunk."""
        return (self.vectors @ question)[self.of_chunk]

    def describe(self) -> dict[str, object]:
        return {"texts": len(self.texts), "embeds": "title › heading path of each chunk, once per unique path"}


def heading_lines(chunks: Sequence[Chunk]) -> tuple[list[str], np.ndarray]:
    """Unique heading lines (the chunk's context line: title › heading path) and each chunk's row."""
    texts: dict[str, int] = {}
    rows = [texts.setdefault(chunk.context, len(texts)) for chunk in chunks]
    return list(texts), np.asarray(rows, dtype=np.int32)


def build_heading_view(chunks: Sequence[Chunk], embed: EmbedFn) -> HeadingView:
    texts, rows = heading_lines(chunks)
    return HeadingView(texts, embed(texts), rows)


def save_heading_view(view: HeadingView, directory: Path) -> None:
    target = Path(directory) / VIEWS_DIR
    target.mkdir(exist_ok=True)
    np.save(target / "heading.npy", np.ascontiguousarray(view.vectors, dtype=np.float32))
    np.save(target / "heading_of_chunk.npy", view.of_chunk)
    (target / "heading.json").write_text(json.dumps(view.texts, ensure_ascii=False) + "\n", encoding="utf-8")


def load_heading_view(directory: Path, chunks: int, dimension: int) -> HeadingView:
    """The stored heading view, checked against the index's chunk count and dimension."""
    source = Path(directory) / VIEWS_DIR
    vectors = np.load(source / "heading.npy", allow_pickle=False, mmap_mode="r")
    of_chunk = np.load(source / "heading_of_chunk.npy", allow_pickle=False)
    texts = json.loads((source / "heading.json").read_text(encoding="utf-8"))
    if vectors.shape != (len(texts), dimension) or of_chunk.shape != (chunks,):
        raise ValueError(
            f"heading view has {vectors.shape} vectors for {len(texts)} lines and {of_chunk.shape[0]} chunk rows; "
            f"expected {dimension}-dimensional vectors and {chunks} rows"
        )
    if len(of_chunk) and not (of_chunk.min() >= 0 and of_chunk.max() < len(texts)):
        raise ValueError("heading view maps a chunk to a line it does not have")
    return HeadingView(texts, vectors, of_chunk)


# ---------------------------------------------------------------- sentences
@dataclass(frozen=True)
class SentenceView:
    vectors: np.ndarray  # (sentences, dimension) float16, unit rows, grouped by chunk in chunk order
    offsets: np.ndarray  # (chunks + 1,) int64: chunk i's sentences are rows offsets[i]:offsets[i + 1]

    def rows(self, chunk: int) -> slice:
        return slice(int(self.offsets[chunk]), int(self.offsets[chunk + 1]))

    def best(self, question: np.ndarray, chunks: np.ndarray) -> np.ndarray:
        """For each of ``chunks``, the best cosine between the question and one of its sentences
        (-inf for a chunk without sentences)."""
        out = np.full(len(chunks), -np.inf, dtype=np.float32)
        if not len(chunks):
            return out
        starts, counts = self.offsets[chunks], self.offsets[chunks + 1] - self.offsets[chunks]
        total = int(counts.sum())
        if not total:
            return out
        owner = np.repeat(np.arange(len(chunks)), counts)
        first = np.repeat(np.cumsum(counts) - counts, counts)  # where each chunk's run starts in the gather
        index = np.repeat(starts, counts) + (np.arange(total) - first)
        scores = self.vectors[index].astype(np.float32) @ question
        np.maximum.at(out, owner, scores)
        return out

    built: bool = True  # False: the index was built without the view (``empty_sentence_view``)

    def describe(self) -> dict[str, object]:
        if not self.built:
            return {"sentences": 0, "built": False, "embeds": "nothing (QA_SENTENCE_VIEW=false)"}
        return {
            "sentences": len(self.vectors),
            "embeds": "heading: sentence, for each sentence of each chunk",
            "rules": rules_digest(),
        }


def empty_sentence_view(chunks: int, dimension: int) -> SentenceView:
    """The sentence view of an index built without it: no rows for any chunk."""
    return SentenceView(np.zeros((0, dimension), dtype=np.float16), np.zeros(chunks + 1, dtype=np.int64), False)


@dataclass(frozen=True)
class SentenceReuse:
    """An earlier index's sentence rows, by what their chunk's sentences are made of
    (``sentences_key``: the same label and text give the same sentences while the rules are
    unchanged)."""

    vectors: np.ndarray  # the earlier sentence.npy (float16, memory-mapped)
    rows: dict[str, tuple[int, int]]  # sentences_key of a chunk -> its rows in ``vectors``

    def get(self, chunk: Chunk) -> tuple[int, int] | None:
        return self.rows.get(sentences_key(chunk.title, chunk.heading_path, chunk.text))


def sentence_texts(chunks: Sequence[Chunk]) -> tuple[list[str], np.ndarray]:
    """What the sentence view embeds, grouped by chunk, and the per-chunk offsets."""
    texts: list[str] = []
    offsets = [0]
    for chunk in chunks:
        texts += chunk_sentences(chunk.title, chunk.heading_path, chunk.text)
        offsets.append(len(texts))
    return texts, np.asarray(offsets, dtype=np.int64)


def build_sentence_view(chunks: Sequence[Chunk], embed: EmbedFn, reuse: SentenceReuse | None = None) -> SentenceView:
    """Embed every chunk's sentences, each distinct text once; with ``reuse``, a chunk the earlier
    index had takes its rows from there without being split again (a one-document rebuild of
    MedQuAD splits and embeds that document's sentences only)."""
    kept = [reuse.get(c) if reuse else None for c in chunks]
    fresh = [
        chunk_sentences(c.title, c.heading_path, c.text) if k is None else [] for c, k in zip(chunks, kept, strict=True)
    ]
    counts = [len(f) if k is None else k[1] - k[0] for f, k in zip(fresh, kept, strict=True)]
    offsets = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)]).astype(np.int64)
    texts = [t for f in fresh for t in f]
    unique = list(dict.fromkeys(texts))
    embedded = embed(unique) if unique else None
    dimension = embedded.shape[1] if embedded is not None else reuse.vectors.shape[1] if reuse else 1
    vectors = np.zeros((int(offsets[-1]), dimension), dtype=np.float16)
    position = {text: row for row, text in enumerate(unique)}
    for i, (own, old) in enumerate(zip(fresh, kept, strict=True)):
        if old is not None:
            vectors[offsets[i] : offsets[i + 1]] = reuse.vectors[old[0] : old[1]]  # type: ignore[union-attr]
        elif own:
            vectors[offsets[i] : offsets[i + 1]] = embedded[[position[t] for t in own]]  # type: ignore[index]
    return SentenceView(vectors, offsets)


def save_sentence_view(view: SentenceView, directory: Path) -> None:
    target = Path(directory) / VIEWS_DIR
    target.mkdir(exist_ok=True)
    np.save(target / "sentence.npy", view.vectors)
    np.save(target / "sentence_offsets.npy", view.offsets)


def load_sentence_view(directory: Path, chunks: int, dimension: int, *, built: bool = True) -> SentenceView:
    source = Path(directory) / VIEWS_DIR
    vectors = np.load(source / "sentence.npy", allow_pickle=False, mmap_mode="r")
    offsets = np.load(source / "sentence_offsets.npy", allow_pickle=False)
    if offsets.shape != (chunks + 1,) or offsets[0] != 0 or offsets[-1] != len(vectors) or np.any(np.diff(offsets) < 0):
        raise ValueError(f"sentence view offsets do not describe {chunks} chunks and {len(vectors)} sentences")
    if len(vectors) and vectors.shape[1] != dimension:
        raise ValueError(f"sentence vectors have dimension {vectors.shape[1]}, not {dimension}")
    if not built and len(vectors):
        raise ValueError("the manifest says the sentence view was not built, yet it has sentences")
    return SentenceView(vectors, offsets, built)


# ---------------------------------------------------------------- reuse
def reusable_sentences(
    directory: Path, chunks: Sequence[Chunk], dimension: int, described: dict
) -> SentenceReuse | None:
    """The earlier index's sentence rows (given its chunks) for reuse chunk by chunk
    (``build_sentence_view``), if they were split by today's rules (``described``: its
    manifest's ``views.sentence``); else None, and every sentence is embedded again: an index
    split by other rules, or from before the digest, cannot say which text a vector embeds."""
    if not isinstance(described, dict) or described.get("rules") != rules_digest() or not described.get("sentences"):
        return None
    try:
        view = load_sentence_view(Path(directory), len(chunks), dimension)
    except (OSError, ValueError):
        return None
    rows: dict[str, tuple[int, int]] = {}
    for i, chunk in enumerate(chunks):
        key = sentences_key(chunk.title, chunk.heading_path, chunk.text)
        rows.setdefault(key, (int(view.offsets[i]), int(view.offsets[i + 1])))
    return SentenceReuse(view.vectors, rows)


def previous_heading_vectors(directory: Path, dimension: int) -> dict[str, np.ndarray]:
    """Heading vectors of an earlier index, keyed by the line they embed, for reuse by a rebuild
    (the caller has checked the files); whatever does not fit is simply embedded again."""
    source = Path(directory) / VIEWS_DIR
    try:
        texts = json.loads((source / "heading.json").read_text(encoding="utf-8"))
        vectors = np.load(source / "heading.npy", allow_pickle=False)
    except (OSError, ValueError):
        return {}
    if not (isinstance(texts, list) and all(isinstance(t, str) for t in texts)):
        return {}
    if vectors.shape != (len(texts), dimension):
        return {}
    return dict(zip(texts, vectors, strict=True))
