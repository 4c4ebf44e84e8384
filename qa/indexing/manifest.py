"""The index manifest: format version, model, counts, corpus fingerprint, chunk settings,
and the size and sha256 of every file it vouches for."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import asdict
from pathlib import Path
from typing import Any

from qa import __version__
from qa.indexing.calibration import CALIBRATION_FILE
from qa.indexing.chunking import ChunkSettings
from qa.ingest.corpus import Corpus

FORMAT_VERSION = 3
MANIFEST = "manifest.json"
FAISS_FILE = "index.faiss"
CHUNKS_FILE = "chunks.jsonl"
DOCUMENTS_FILE = "documents.jsonl"
UNCHECKED = (MANIFEST, CALIBRATION_FILE)  # the calibration may be replaced by `qa eval --calibrate`


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_checksums(directory: Path) -> dict[str, dict[str, Any]]:
    """Size and sha256 of every file under ``directory`` except the unchecked ones."""
    names = sorted(
        p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file() and p.name not in UNCHECKED
    )
    return {
        name: {"bytes": (directory / name).stat().st_size, "sha256": sha256_file(directory / name)} for name in names
    }


def make_manifest(
    *,
    model: dict[str, Any],
    corpus: Corpus,
    corpus_dir: Path,
    chunking: ChunkSettings,
    documents: int,
    chunks: int,
    retrieval: dict[str, Any],
    views: dict[str, Any],
) -> dict[str, Any]:
    """Everything but ``files``, which ``file_checksums`` fills in once the files are written."""
    return {
        "format_version": FORMAT_VERSION,
        "package_version": __version__,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "model": model,
        "counts": {"documents": documents, "chunks": chunks, "skipped_files": len(corpus.skipped)},
        "corpus": {"path": str(Path(corpus_dir).resolve()), "fingerprint": corpus.fingerprint},
        "chunking": chunking.as_dict(),
        "faiss": {"type": "IndexFlatIP", "metric": "inner product of unit vectors (cosine)"},
        "skipped": [asdict(s) for s in corpus.skipped],
        "retrieval": retrieval,
        "views": {"chunk": {"embeds": "title › heading path, then the chunk text"}, **views},
    }
