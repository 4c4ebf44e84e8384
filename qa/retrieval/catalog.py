"""Every retriever, by name: importing this module registers them all."""

from qa.retrieval import multiview, retrievers  # noqa: F401 - importing a module registers its retrievers
from qa.retrieval.registry import RETRIEVERS, Retriever, make_retrievers

__all__ = ["RETRIEVERS", "Retriever", "make_retrievers"]
