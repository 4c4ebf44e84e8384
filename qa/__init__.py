"""Retrieval over drug reference documents with exact source attribution.

The core modules (documents, chunking, embedding, index, search) never import
FastAPI or Click; ``qa.api`` and ``qa.cli`` are thin adapters over them.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("drugqa")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"
