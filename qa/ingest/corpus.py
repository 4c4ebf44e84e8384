"""Read a directory of corpus files into documents.

A file's format is recognised by its content (YAML frontmatter or Markdown headings mean
Markdown; anything else is a plain-text answer page), never by its extension alone.
Files that cannot be read are skipped with a named reason; the build goes on and the
report counts them.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from qa.errors import CorpusError, DuplicateDocumentError
from qa.ingest.documents import Document, Format, SkippedFile, UnreadableDocument
from qa.ingest.markdown import looks_like_markdown, parse_markdown
from qa.ingest.plaintext import parse_plaintext

logger = logging.getLogger(__name__)

MAX_FILE_BYTES = 20_000_000


@dataclass
class Corpus:
    root: Path
    documents: list[Document]
    skipped: list[SkippedFile]
    fingerprint: str

    def by_id(self) -> dict[str, Document]:
        return {doc.doc_id: doc for doc in self.documents}


def detect_format(text: str) -> Format:
    """Markdown when the text opens with YAML frontmatter or has ATX headings; else plain text."""
    return "markdown" if looks_like_markdown(text) else "plaintext"


def decode(data: bytes) -> str:
    """Bytes of a corpus file -> text, or UnreadableDocument naming what is wrong."""
    if not data.strip():
        raise UnreadableDocument("empty file")
    if b"\x00" in data:
        raise UnreadableDocument("binary file (contains NUL bytes)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad = data[exc.start : exc.start + 1].hex()
        raise UnreadableDocument(
            f"not UTF-8 text (byte 0x{bad} at offset {exc.start}); re-save the file as UTF-8"
        ) from None
    if not text.strip():
        raise UnreadableDocument("empty file")
    return text


def parse_document(text: str, doc_id: str, path: str) -> Document:
    """Parse decoded text into a Document, choosing the parser by content."""
    parser = parse_markdown if detect_format(text) == "markdown" else parse_plaintext
    doc = parser(text, doc_id=doc_id, path=path)
    if not doc.has_text:
        raise UnreadableDocument("no body text to index")
    return doc


def doc_id_for(relative: Path) -> str:
    """The document id: the file's path inside the corpus, without its extension."""
    return relative.with_suffix("").as_posix()


@dataclass(frozen=True)
class Listing:
    """The regular files under a corpus directory, sorted by path (links to files included; linked
    directories are not entered), and what could not be listed: a directory that cannot be read
    (its name ends in "/"), or an entry whose type cannot be told, each with its error."""

    files: list[Path]
    unlisted: list[tuple[str, OSError]]  # path relative to the root, POSIX separators


def list_files(root: Path) -> Listing:
    files: list[Path] = []
    unlisted: list[tuple[str, OSError]] = []

    def relative(path: Path) -> str:
        return path.relative_to(root).as_posix()

    def cannot_read(error: OSError) -> None:
        unlisted.append((relative(Path(error.filename)) + "/" if error.filename else "./", error))

    for directory, _, names in os.walk(root, onerror=cannot_read):
        for name in names:
            path = Path(directory, name)
            try:
                if path.is_file():
                    files.append(path)
            except OSError as error:
                unlisted.append((relative(path), error))
    return Listing(sorted(files), sorted(unlisted, key=lambda item: item[0]))


def _unlisted_entries(listing: Listing) -> list[tuple[str, str]]:
    """Fingerprint entries for what could not be listed (so that fixing it makes an index stale)."""
    return [(rel, f"unlisted: {_reason(error)}") for rel, error in listing.unlisted]


def _fingerprint(entries: list[tuple[str, str]]) -> str:
    digest = hashlib.sha256()
    for rel, sha in entries:
        digest.update(f"{rel}\t{sha}\n".encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class FileRead:
    """One corpus file as read: its bytes (``None`` when it was too large to keep or could not
    be read), the sha256 of its content, its size, and the error that stopped the read."""

    path: Path
    data: bytes | None
    sha256: str = ""
    size: int = 0
    error: OSError | None = None

    @property
    def fingerprint_entry(self) -> str:
        return f"unreadable: {_reason(self.error)}" if self.error else self.sha256


def _reason(error: OSError) -> str:
    return error.strerror or str(error)


def read_file(path: Path) -> FileRead:
    """Read and hash one file; one over ``MAX_FILE_BYTES`` is hashed in pieces and not kept."""
    try:
        with path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > MAX_FILE_BYTES:
                return FileRead(path, None, hashlib.file_digest(handle, "sha256").hexdigest(), size)
            data = handle.read()
    except OSError as exc:
        return FileRead(path, None, error=exc)
    return FileRead(path, data, hashlib.sha256(data).hexdigest(), len(data))


def corpus_fingerprint(root: Path) -> str:
    """sha256 over every file's relative path and content: changes whenever any file does."""
    root = Path(root)
    listing = list_files(root)
    entries = [(f.path.relative_to(root).as_posix(), f.fingerprint_entry) for f in map(read_file, listing.files)]
    return _fingerprint(entries + _unlisted_entries(listing))


def load_corpus(root: Path, *, progress: bool = False) -> Corpus:
    """Read every file under ``root``. Unreadable files are skipped and reported, never raised."""
    root = Path(root)
    if not root.is_dir():
        raise CorpusError(
            f"corpus directory {str(root)!r} does not exist or is not a directory; "
            "pass --corpus DIR or set QA_CORPUS_DIR"
        )
    listing = list_files(root)
    files = listing.files
    documents: list[Document] = []
    skipped: list[SkippedFile] = []
    owners: dict[str, str] = {}
    entries: list[tuple[str, str]] = []

    iterator: Iterable[FileRead] = map(read_file, files)
    if progress:
        from tqdm import tqdm

        iterator = tqdm(iterator, total=len(files), desc="Reading corpus", unit="file")

    for read in iterator:
        relative = read.path.relative_to(root)
        rel = relative.as_posix()
        entries.append((rel, read.fingerprint_entry))
        if any(part.startswith(".") for part in relative.parts):
            skipped.append(SkippedFile(rel, "hidden file"))
            continue
        if read.error is not None:
            skipped.append(SkippedFile(rel, f"cannot be read ({_reason(read.error)}); check that the file is readable"))
            continue
        if read.data is None:  # over MAX_FILE_BYTES: hashed, not kept
            skipped.append(SkippedFile(rel, f"larger than {MAX_FILE_BYTES // 1_000_000} MB"))
            continue
        doc_id = doc_id_for(relative)
        try:
            doc = parse_document(decode(read.data), doc_id=doc_id, path=rel)
        except UnreadableDocument as exc:
            skipped.append(SkippedFile(rel, str(exc)))
            continue
        if doc_id in owners:
            raise DuplicateDocumentError(doc_id, owners[doc_id], rel)
        owners[doc_id] = rel
        doc.sha256 = read.sha256
        documents.append(doc)

    for rel, error in listing.unlisted:
        skipped.append(SkippedFile(rel, f"cannot be listed ({_reason(error)}); check its permissions"))
    entries += _unlisted_entries(listing)
    for item in skipped:
        logger.warning("skipped %s: %s", item.path, item.reason)
    return Corpus(root=root, documents=documents, skipped=skipped, fingerprint=_fingerprint(entries))
