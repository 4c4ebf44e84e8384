"""Domain errors. Each message names the bad value and says what to do about it.

The HTTP and CLI adapters map these to status codes and exit messages; nothing
here knows about either.
"""

from __future__ import annotations


class QAError(Exception):
    """Base class for errors a person can act on."""


class ConfigError(QAError):
    """A setting has a value the service cannot use."""


class CorpusError(QAError):
    """The corpus as a whole cannot be indexed (not one bad file: those are skipped)."""


class DuplicateDocumentError(CorpusError):
    def __init__(self, doc_id: str, first: str, second: str) -> None:
        self.doc_id, self.first, self.second = doc_id, first, second
        super().__init__(
            f"files {first!r} and {second!r} both map to document id {doc_id!r}; "
            "rename one of them (the id is the file's path without its extension)"
        )


class ModelError(QAError):
    """The embedding model cannot be loaded or is not the one expected."""


class IndexError_(QAError):
    """Base class for index problems."""


class IndexNotFoundError(IndexError_):
    pass


class IndexCorruptError(IndexError_):
    pass


class IndexMismatchError(IndexError_):
    pass


class DocumentNotFoundError(QAError):
    def __init__(self, doc_id: str) -> None:
        self.doc_id = doc_id
        super().__init__(f"no document with id {doc_id!r}; GET /documents lists the ids")


class InvalidQueryError(QAError):
    """A question the service cannot search for (empty, too long, bad k)."""


class UnknownFilterError(InvalidQueryError):
    """A filter names a document or section the index does not have (HTTP 404)."""
