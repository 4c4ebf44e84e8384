"""Stage 2, indexing: documents in, an index directory out. Chunking by heading, the
embedder, BM25, the drug lexicon, the FAQ store, and the directory itself (built
atomically, verified on load, described by its manifest)."""
