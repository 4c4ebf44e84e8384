"""The index directory on disk: writing it atomically, and loading it with every check.

A build writes everything into a temporary sibling directory and renames it into place,
so a crash leaves either the old index or the new one, never half of one. Loading checks
the manifest, every file's size and sha256, and the counts, and refuses anything else
with a message that says how to rebuild. No pickle anywhere.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from qa.errors import ConfigError, IndexCorruptError, IndexMismatchError, IndexNotFoundError
from qa.indexing.atomic import recover, replace_directory
from qa.indexing.bm25 import BM25_DIR, Bm25Index
from qa.indexing.calibration import CALIBRATION_FILE, Calibration, default_calibration
from qa.indexing.chunking import Chunk, ChunkSettings, chunk_from_json, chunk_to_json
from qa.indexing.faq_store import FaqStore
from qa.indexing.lexicon import LEXICON_FILE, Lexicon
from qa.indexing.manifest import (
    CHUNKS_FILE,
    DOCUMENTS_FILE,
    FAISS_FILE,
    FORMAT_VERSION,
    MANIFEST,
    file_checksums,
    sha256_file,
)
from qa.indexing.records import DocumentRecord, plain, record_from_json
from qa.indexing.views import (
    HeadingView,
    SentenceView,
    load_heading_view,
    load_sentence_view,
    save_heading_view,
    save_sentence_view,
)

logger = logging.getLogger(__name__)


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
    heading: HeadingView
    sentence: SentenceView
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
            built, configured = self.model_id.split("+adapter:"), model_id.split("+adapter:")
            if built[0] == configured[0]:
                adapter = f"adapter {built[1]}…" if len(built) > 1 else "no adapter"
                raise IndexMismatchError(
                    f"the index at {self.path} was built with {adapter}, but the configured model is "
                    f"{model_id!r}; rebuild it with `qa index --index {self.path}` or set QA_MODEL_ADAPTER "
                    "to the adapter it was built with"
                )
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


def read_jsonl(path: Path) -> list[dict[str, Any]]:
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
        with contextlib.suppress(OSError):  # a build that died between two renames: move the old index back
            recover(index_dir)
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
        if path.stat().st_size != meta["bytes"] or sha256_file(path) != meta["sha256"]:
            raise IndexCorruptError(
                f"{path} does not match the checksum in {MANIFEST} (changed or truncated); {rebuild}"
            )
    try:
        vectors = faiss.read_index(str(index_dir / FAISS_FILE))
    except RuntimeError as exc:
        raise IndexCorruptError(f"{index_dir / FAISS_FILE} cannot be read by FAISS ({exc}); {rebuild}") from None
    chunks = [chunk_from_json(row) for row in read_jsonl(index_dir / CHUNKS_FILE)]
    documents = {rec.doc_id: rec for rec in map(record_from_json, read_jsonl(index_dir / DOCUMENTS_FILE))}
    if not (vectors.ntotal == len(chunks) == expected_chunks) or vectors.d != dimension:
        raise IndexCorruptError(
            f"the index at {index_dir} is inconsistent: {vectors.ntotal} vectors of dimension {vectors.d}, "
            f"{len(chunks)} stored chunks, manifest says {expected_chunks} of dimension {dimension}; {rebuild}"
        )
    try:
        bm25 = Bm25Index.load(index_dir / BM25_DIR)
        lexicon = Lexicon.load(index_dir / LEXICON_FILE)
        faqs = FaqStore.load(index_dir)
        heading = load_heading_view(index_dir, len(chunks), dimension)
        views = manifest.get("views")
        described = views.get("sentence") if isinstance(views, dict) else None
        built = not (isinstance(described, dict) and described.get("built") is False)
        sentence = load_sentence_view(index_dir, len(chunks), dimension, built=built)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise IndexCorruptError(f"the index at {index_dir} cannot be read ({exc}); {rebuild}") from None
    if bm25.size != len(chunks):
        raise IndexCorruptError(f"the BM25 index at {index_dir} has {bm25.size} entries, not {len(chunks)}; {rebuild}")
    calibration, note = _load_calibration(index_dir, str(manifest["model"]["id"]))
    return Index(
        index_dir, manifest, vectors, chunks, documents, bm25, lexicon, faqs, heading, sentence, calibration, note
    )


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


@dataclass
class IndexParts:
    """Everything a build produces, ready to be written."""

    chunks: list[Chunk]
    records: list[DocumentRecord]
    vectors: np.ndarray
    bm25: Bm25Index
    lexicon: Lexicon
    faqs: FaqStore
    calibration: Calibration | None
    heading: HeadingView
    sentence: SentenceView


def write_index_files(target: Path, parts: IndexParts, manifest: dict[str, Any]) -> None:
    """Write every file of an index into ``target`` (a fresh directory), the manifest last."""
    chunks, records, vectors = parts.chunks, parts.records, parts.vectors
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    faiss.write_index(flat, str(target / FAISS_FILE))
    (target / BM25_DIR).mkdir()
    parts.bm25.save(target / BM25_DIR)
    parts.lexicon.save(target / LEXICON_FILE)
    parts.faqs.save(target)
    save_heading_view(parts.heading, target)
    save_sentence_view(parts.sentence, target)
    if parts.calibration is not None:
        parts.calibration.save(target / CALIBRATION_FILE)
    with (target / CHUNKS_FILE).open("w", encoding="utf-8") as handle:
        for chunk in chunks:
            handle.write(json.dumps(chunk_to_json(chunk), ensure_ascii=False) + "\n")
    with (target / DOCUMENTS_FILE).open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(plain(record), ensure_ascii=False) + "\n")
    manifest["files"] = file_checksums(target)
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    for path in target.rglob("*"):
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())


def write_atomically(index_dir: Path, write: Callable[[Path], None]) -> None:
    """Run ``write(tmp_dir)`` then put ``tmp_dir`` in place as ``index_dir`` in one step
    (``qa.indexing.atomic``); refuses to replace a directory that is not an index."""
    index_dir = Path(index_dir)
    if index_dir.exists() and (
        not index_dir.is_dir() or (any(index_dir.iterdir()) and not (index_dir / MANIFEST).exists())
    ):
        raise ConfigError(
            f"{index_dir} exists and is not an index (no {MANIFEST}); refusing to replace it. "
            "Choose another --index path or remove it yourself"
        )
    replace_directory(index_dir, write)
