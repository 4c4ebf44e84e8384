"""Retrieval over drug reference documents with exact source attribution.

The sub-packages are the pipeline's stages: ``ingest`` -> ``indexing`` -> ``retrieval``, with
``evaluation`` and ``serving`` beside them. ``qa.api`` (FastAPI) and ``qa.cli`` (Click) are
thin adapters over them; nothing else imports a web or terminal framework.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("drugqa")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"
