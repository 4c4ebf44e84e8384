"""The index directory: a FAISS file, a JSONL chunk store, a JSONL document store and a
``manifest.json``. No pickle anywhere.

A build writes everything into a temporary sibling directory and renames it into place,
so a crash leaves either the old index or the new one, never half of one. Loading checks
the manifest, every file's size and sha256, and the counts, and refuses anything else
with a message that says how to rebuild.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from qa import __version__
from qa.bm25 import BM25_DIR, Bm25Index
from qa.chunking import (
    Chunk,
    ChunkSettings,
    chunk_documents,
    chunk_embedding_text,
    chunk_from_json,
    chunk_to_json,
)
from qa.corpus import Corpus, corpus_fingerprint, load_corpus
from qa.documents import FAQ, Document, Dropped, SkippedFile
from qa.embedding import Embedder
from qa.errors import (
    ConfigError,
    CorpusError,
    IndexCorruptError,
    IndexMismatchError,
    IndexNotFoundError,
)
from qa.faq_answers import FaqStore, faq_entries
from qa.lexicon import LEXICON_FILE, Lexicon
from qa.signal import CALIBRATION_FILE, Calibration, default_calibration
from qa.spans import LineIndex

logger = logging.getLogger(__name__)

FORMAT_VERSION = 2
MANIFEST = "manifest.json"
FAISS_FILE = "index.faiss"
CHUNKS_FILE = "chunks.jsonl"
DOCUMENTS_FILE = "documents.jsonl"
_EMBED_BATCH = 512


@dataclass(frozen=True)
class OutlineEntry:
    heading_path: tuple[str, ...]
    level: int
    line_start: int | None  # the heading's line (None for text before the first heading)
    line_end: int | None  # last line of the section's text
    chunk_ids: tuple[str, ...]


@dataclass(frozen=True)
class DocumentRecord:
    """What the index keeps of a document: metadata, outline, and the exact source text
    that chunk offsets refer to."""

    doc_id: str
    path: str
    format: str
    title: str
    description: str | None
    is_banned: bool | None
    last_modified: str | None
    source_url: str | None
    faqs: tuple[FAQ, ...]
    outline: tuple[OutlineEntry, ...]
    dropped: tuple[Dropped, ...]
    warnings: tuple[str, ...]
    extra: dict[str, Any]
    sha256: str
    chunk_count: int
    source_text: str


@dataclass
class BuildReport:
    index_dir: Path
    corpus_dir: Path
    documents: int
    chunks: int
    skipped: list[SkippedFile]
    dropped: Counter[str]
    warnings: int
    reused_vectors: int
    seconds: float
    embed_seconds: float
    fingerprint: str
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def chunks_per_second(self) -> float:
        return self.chunks / self.seconds if self.seconds else 0.0


# ---------------------------------------------------------------- serialisation


def _record_from_json(data: dict[str, Any]) -> DocumentRecord:
    return DocumentRecord(
        **{
            **data,
            "faqs": tuple(FAQ(**f) for f in data["faqs"]),
            "outline": tuple(
                OutlineEntry(**{**o, "heading_path": tuple(o["heading_path"]), "chunk_ids": tuple(o["chunk_ids"])})
                for o in data["outline"]
            ),
            "dropped": tuple(Dropped(**d) for d in data["dropped"]),
            "warnings": tuple(data["warnings"]),
        }
    )


def document_record(doc: Document, chunks: list[Chunk], *, include_faq: bool = True) -> DocumentRecord:
    """Pair a document with its chunks (in order) to make its stored record and outline."""
    lines = LineIndex(doc.source_text)
    pending: Iterator[Chunk] = iter(chunks)
    outline = []
    for section in doc.sections:
        ids: list[str] = []
        start = end = section.heading_line
        if section.body.text:
            body_start, body_end = section.body.source_span(0, len(section.body.text))
            start = start or lines.line_of(body_start)
            end = lines.line_of(body_end - 1)
            if include_faq or not section.is_faq:
                first = next(pending)
                ids = [first.id] + [next(pending).id for _ in range(first.parts - 1)]
        outline.append(OutlineEntry((doc.title, *section.headings), section.level, start, end, tuple(ids)))
    return DocumentRecord(
        doc_id=doc.doc_id,
        path=doc.path,
        format=doc.format,
        title=doc.title,
        description=doc.description,
        is_banned=doc.is_banned,
        last_modified=doc.last_modified,
        source_url=doc.source_url,
        faqs=tuple(doc.faqs),
        outline=tuple(outline),
        dropped=tuple(doc.dropped),
        warnings=tuple(doc.warnings),
        extra=doc.extra,
        sha256=doc.sha256,
        chunk_count=len(chunks),
        source_text=doc.source_text,
    )


# ---------------------------------------------------------------- the loaded index


@dataclass
class Index:
    path: Path
    manifest: dict[str, Any]
    faiss: Any
    chunks: list[Chunk]
    documents: dict[str, DocumentRecord]
    bm25: Bm25Index
    lexicon: Lexicon
    faqs: FaqStore
    calibration: Calibration | None = None
    calibration_note: str = ""

    @property
    def model_id(self) -> str:
        return str(self.manifest["model"]["id"])

    @property
    def dimension(self) -> int:
        return int(self.manifest["model"]["dimension"])

    @property
    def fingerprint(self) -> str:
        return str(self.manifest["corpus"]["fingerprint"])

    def check_model(self, model_id: str, dimension: int | None = None) -> None:
        """Refuse to serve with an embedder other than the one the index was built with."""
        if model_id != self.model_id:
            raise IndexMismatchError(
                f"the index at {self.path} was built with model {self.model_id!r}, but the configured "
                f"model is {model_id!r}; rebuild it with `qa index --index {self.path}` or set "
                f"QA_MODEL={self.model_id}"
            )
        if dimension is not None and dimension != self.dimension:
            raise IndexMismatchError(
                f"the index at {self.path} holds {self.dimension}-dimensional vectors but the model "
                f"gives {dimension}; rebuild it with `qa index --index {self.path}`"
            )

    def differences(self, fingerprint: str, chunking: ChunkSettings, model_id: str) -> list[str]:
        """Why this index does not match a corpus fingerprint, chunk settings and model (empty: it does)."""
        reasons = []
        if fingerprint != self.fingerprint:
            reasons.append("the corpus files changed since the index was built")
        if self.manifest.get("chunking") != chunking.as_dict():
            reasons.append(f"chunk settings changed ({self.manifest.get('chunking')} -> {chunking.as_dict()})")
        if model_id != self.model_id:
            reasons.append(f"the model changed ({self.model_id} -> {model_id})")
        return reasons

    def vectors(self) -> np.ndarray:
        return self.faiss.reconstruct_n(0, self.faiss.ntotal)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise IndexCorruptError(f"{path} line {number} is not valid JSON ({exc.msg})") from None
    return rows


def _interrupted_hint(index_dir: Path) -> str:
    leftovers = sorted(index_dir.parent.glob(f".{index_dir.name}.old-*")) if index_dir.parent.exists() else []
    if leftovers:
        return (
            f" A build was interrupted while swapping indexes: the previous index is at {leftovers[-1]}; "
            f"rename it to {index_dir} or rebuild."
        )
    return ""


def load_index(index_dir: Path) -> Index:
    index_dir = Path(index_dir)
    rebuild = f"build it with `qa index --index {index_dir}`"
    if not index_dir.is_dir():
        raise IndexNotFoundError(f"no index at {index_dir}; {rebuild}.{_interrupted_hint(index_dir)}")
    manifest_path = index_dir / MANIFEST
    if not manifest_path.is_file():
        raise IndexNotFoundError(
            f"{index_dir} has no {MANIFEST}, so it is not an index; {rebuild}.{_interrupted_hint(index_dir)}"
        )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        version = manifest["format_version"]
        files = manifest["files"]
        expected_chunks = int(manifest["counts"]["chunks"])
        dimension = int(manifest["model"]["dimension"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise IndexCorruptError(f"{manifest_path} is unreadable ({exc}); rebuild the index: {rebuild}") from None
    if version != FORMAT_VERSION:
        raise IndexMismatchError(
            f"the index at {index_dir} has format version {version}; this version of the service reads "
            f"version {FORMAT_VERSION}; {rebuild}"
        )
    for name, meta in files.items():
        path = index_dir / name
        if not path.is_file():
            raise IndexCorruptError(f"{path} is missing; {rebuild}")
        if path.stat().st_size != meta["bytes"] or _sha256(path) != meta["sha256"]:
            raise IndexCorruptError(
                f"{path} does not match the checksum in {MANIFEST} (changed or truncated); {rebuild}"
            )
    try:
        vectors = faiss.read_index(str(index_dir / FAISS_FILE))
    except RuntimeError as exc:
        raise IndexCorruptError(f"{index_dir / FAISS_FILE} cannot be read by FAISS ({exc}); {rebuild}") from None
    chunks = [chunk_from_json(row) for row in _read_jsonl(index_dir / CHUNKS_FILE)]
    documents = {rec.doc_id: rec for rec in map(_record_from_json, _read_jsonl(index_dir / DOCUMENTS_FILE))}
    if not (vectors.ntotal == len(chunks) == expected_chunks) or vectors.d != dimension:
        raise IndexCorruptError(
            f"the index at {index_dir} is inconsistent: {vectors.ntotal} vectors of dimension {vectors.d}, "
            f"{len(chunks)} stored chunks, manifest says {expected_chunks} of dimension {dimension}; {rebuild}"
        )
    try:
        bm25 = Bm25Index.load(index_dir / BM25_DIR)
        lexicon = Lexicon.load(index_dir / LEXICON_FILE)
        faqs = FaqStore.load(index_dir)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise IndexCorruptError(f"the index at {index_dir} cannot be read ({exc}); {rebuild}") from None
    if bm25.size != len(chunks):
        raise IndexCorruptError(f"the BM25 index at {index_dir} has {bm25.size} entries, not {len(chunks)}; {rebuild}")
    calibration, note = _load_calibration(index_dir, str(manifest["model"]["id"]))
    return Index(index_dir, manifest, vectors, chunks, documents, bm25, lexicon, faqs, calibration, note)


def _load_calibration(index_dir: Path, model_id: str) -> tuple[Calibration | None, str]:
    """The index's match-signal thresholds, if there are usable ones for its model."""
    path = index_dir / CALIBRATION_FILE
    if not path.is_file():
        packaged = default_calibration(model_id)
        if packaged is not None:
            return packaged, f"no {CALIBRATION_FILE}; using the packaged calibration for {model_id}"
        return None, f"no {CALIBRATION_FILE}: calibrate with `qa eval --calibrate`; until then no answer is 'strong'"
    try:
        calibration = Calibration.load(path)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        logger.warning("ignoring %s: %s", path, exc)
        return None, f"{CALIBRATION_FILE} is unreadable ({exc}); recalibrate with `qa eval --calibrate`"
    if calibration.model_id != model_id:
        return None, f"{CALIBRATION_FILE} is for model {calibration.model_id!r}, not {model_id!r}; recalibrate"
    return calibration, ""


# ---------------------------------------------------------------- building


@dataclass
class _Parts:
    chunks: list[Chunk]
    records: list[DocumentRecord]
    vectors: np.ndarray
    bm25: Bm25Index
    lexicon: Lexicon
    faqs: FaqStore
    calibration: Calibration | None


def _write_files(target: Path, parts: _Parts, manifest: dict[str, Any]) -> None:
    chunks, records, vectors = parts.chunks, parts.records, parts.vectors
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    faiss.write_index(flat, str(target / FAISS_FILE))
    (target / BM25_DIR).mkdir()
    parts.bm25.save(target / BM25_DIR)
    parts.lexicon.save(target / LEXICON_FILE)
    parts.faqs.save(target)
    if parts.calibration is not None:
        parts.calibration.save(target / CALIBRATION_FILE)
    with (target / CHUNKS_FILE).open("w", encoding="utf-8") as handle:
        for chunk in chunks:
            handle.write(json.dumps(chunk_to_json(chunk), ensure_ascii=False) + "\n")
    with (target / DOCUMENTS_FILE).open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(asdict(record), ensure_ascii=False) + "\n")
    # Every file but the manifest and the calibration (which `qa eval --calibrate` may replace).
    names = sorted(
        p.relative_to(target).as_posix()
        for p in target.rglob("*")
        if p.is_file() and p.name not in (MANIFEST, CALIBRATION_FILE)
    )
    manifest["files"] = {
        name: {"bytes": (target / name).stat().st_size, "sha256": _sha256(target / name)} for name in names
    }
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    for path in target.rglob("*"):
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(index_dir: Path, write: Any) -> None:
    """Run ``write(tmp_dir)`` then move ``tmp_dir`` into place as ``index_dir``."""
    index_dir = Path(index_dir)
    if index_dir.exists() and (
        not index_dir.is_dir() or (any(index_dir.iterdir()) and not (index_dir / MANIFEST).exists())
    ):
        raise ConfigError(
            f"{index_dir} exists and is not an index (no {MANIFEST}); refusing to replace it. "
            "Choose another --index path or remove it yourself"
        )
    parent = index_dir.parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{index_dir.name}.building-", dir=parent))
    try:
        write(tmp)
        _fsync_dir(tmp)
        if index_dir.exists():
            old = parent / f".{index_dir.name}.old-{uuid.uuid4().hex[:8]}"
            os.rename(index_dir, old)
            os.rename(tmp, index_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, index_dir)
        _fsync_dir(parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _previous_vectors(index_dir: Path, model_id: str) -> dict[str, np.ndarray]:
    """Vectors of the index being replaced, keyed by the text they embed, when its model is the
    same. Reads only the vectors and chunk texts (checked against its manifest), so an index of an
    older format still saves re-embedding."""
    try:
        manifest = json.loads((index_dir / MANIFEST).read_text(encoding="utf-8"))
        if manifest["model"]["id"] != model_id:
            return {}
        for name in (FAISS_FILE, CHUNKS_FILE):
            if _sha256(index_dir / name) != manifest["files"][name]["sha256"]:
                return {}
        old = faiss.read_index(str(index_dir / FAISS_FILE))
        chunks = [chunk_from_json(row) for row in _read_jsonl(index_dir / CHUNKS_FILE)]
    except (OSError, KeyError, TypeError, ValueError, RuntimeError, IndexCorruptError):
        return {}  # no usable previous index: embed everything
    if old.ntotal != len(chunks):
        return {}
    vectors = old.reconstruct_n(0, old.ntotal)
    return {_text_key(chunk_embedding_text(c)): vectors[i] for i, c in enumerate(chunks)}


def embed_texts(embedder: Embedder, texts: list[str], *, progress: bool = False) -> np.ndarray:
    """Embed in length order (less padding per batch), return rows in the input order."""
    dim = embedder.dimension
    out = np.zeros((len(texts), dim), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(texts), desc="Embedding", unit="chunk")
    for lo in range(0, len(order), _EMBED_BATCH):
        batch = order[lo : lo + _EMBED_BATCH]
        out[batch] = embedder.embed([texts[i] for i in batch])
        if bar is not None:
            bar.update(len(batch))
    if bar is not None:
        bar.close()
    return out


def build_index(
    corpus_dir: Path,
    index_dir: Path,
    embedder: Embedder,
    chunking: ChunkSettings,
    *,
    progress: bool = False,
    corpus: Corpus | None = None,
) -> BuildReport:
    """Read, chunk and embed ``corpus_dir``; write the index to ``index_dir`` atomically."""
    started = time.perf_counter()
    timings: dict[str, float] = {}
    corpus = corpus or load_corpus(Path(corpus_dir), progress=progress)
    timings["read"] = time.perf_counter() - started
    if not corpus.documents:
        raise CorpusError(
            f"no readable documents in {corpus_dir} ({len(corpus.skipped)} files skipped); "
            "add Markdown or plain-text documents and run `qa index` again"
        )
    if chunking.max_tokens > embedder.max_tokens:
        raise ConfigError(
            f"chunks of {chunking.max_tokens} word pieces do not fit model {embedder.model_id!r}, "
            f"which reads {embedder.max_tokens}; lower QA_MAX_CHUNK_TOKENS"
        )
    mark = time.perf_counter()
    chunks = chunk_documents(corpus.documents, chunking, embedder.count_tokens, progress=progress)
    timings["chunk"] = time.perf_counter() - mark

    texts = [chunk_embedding_text(c) for c in chunks]
    previous = _previous_vectors(Path(index_dir), embedder.model_id)
    keys = [_text_key(t) for t in texts]
    todo = [i for i, key in enumerate(keys) if key not in previous]
    mark = time.perf_counter()
    fresh = embed_texts(embedder, [texts[i] for i in todo], progress=progress)
    embed_seconds = time.perf_counter() - mark
    timings["embed"] = embed_seconds
    vectors = np.zeros((len(chunks), embedder.dimension), dtype=np.float32)
    if todo:
        vectors[todo] = fresh
    for i, key in enumerate(keys):
        if key in previous:
            vectors[i] = previous[key]

    mark = time.perf_counter()
    bm25 = Bm25Index.build(texts)
    lexicon = Lexicon.from_documents(corpus.documents)
    entries = faq_entries(corpus.documents) if chunking.include_faq else []
    faqs = FaqStore.build(entries, embedder.embed([e.question for e in entries]))
    timings["bm25+lexicon+faq"] = time.perf_counter() - mark

    by_doc: dict[str, list[Chunk]] = {}
    for chunk in chunks:
        by_doc.setdefault(chunk.doc_id, []).append(chunk)
    records = [
        document_record(doc, by_doc.get(doc.doc_id, []), include_faq=chunking.include_faq) for doc in corpus.documents
    ]
    manifest: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "package_version": __version__,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "model": {"id": embedder.model_id, "dimension": embedder.dimension, "max_tokens": embedder.max_tokens},
        "counts": {
            "documents": len(records),
            "chunks": len(chunks),
            "skipped_files": len(corpus.skipped),
        },
        "corpus": {"path": str(Path(corpus_dir).resolve()), "fingerprint": corpus.fingerprint},
        "chunking": chunking.as_dict(),
        "faiss": {"type": "IndexFlatIP", "metric": "inner product of unit vectors (cosine)"},
        "skipped": [asdict(s) for s in corpus.skipped],
        "retrieval": {
            "bm25": "bm25s (Lucene BM25, k1=1.5, b=0.75) over title › heading path + text, English stems",
            "lexicon_entities": len(lexicon),
            "faq_answers": len(faqs),
        },
    }
    parts = _Parts(chunks, records, vectors, bm25, lexicon, faqs, default_calibration(embedder.model_id))
    mark = time.perf_counter()
    write_atomically(Path(index_dir), lambda tmp: _write_files(tmp, parts, manifest))
    timings["write"] = time.perf_counter() - mark
    return BuildReport(
        index_dir=Path(index_dir),
        corpus_dir=Path(corpus_dir),
        documents=len(records),
        chunks=len(chunks),
        skipped=corpus.skipped,
        dropped=Counter(d.rule for doc in corpus.documents for d in doc.dropped),
        warnings=sum(len(doc.warnings) for doc in corpus.documents),
        reused_vectors=len(chunks) - len(todo),
        seconds=time.perf_counter() - started,
        embed_seconds=embed_seconds,
        fingerprint=corpus.fingerprint,
        timings=timings,
    )


def ensure_index(
    corpus_dir: Path, index_dir: Path, embedder: Embedder, chunking: ChunkSettings, *, progress: bool = False
) -> tuple[Index, BuildReport | None, list[str]]:
    """Reuse the index at ``index_dir`` if it matches the corpus, chunking and model; else
    (re)build it. Returns the index, the build report (None when reused) and why it was rebuilt."""
    try:
        index = load_index(index_dir)
        reasons = index.differences(corpus_fingerprint(Path(corpus_dir)), chunking, embedder.model_id)
    except IndexNotFoundError:
        index, reasons = None, ["no index there yet"]
    except (IndexCorruptError, IndexMismatchError) as exc:
        index, reasons = None, [str(exc)]
    if index is not None and not reasons:
        return index, None, []
    report = build_index(corpus_dir, index_dir, embedder, chunking, progress=progress)
    return load_index(index_dir), report, reasons
