"""Stage 3, retrieval: a question in, ranked passages out. Query preparation, the
rankers and retrievers, fusion, and the strong/weak/none match signal."""
