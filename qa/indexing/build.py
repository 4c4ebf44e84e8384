"""Building an index: read the corpus, chunk it, embed what changed, and write the index
directory atomically (``qa.indexing.storage``)."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qa.errors import ConfigError, CorpusError, IndexCorruptError, IndexMismatchError, IndexNotFoundError
from qa.indexing.bm25 import Bm25Index
from qa.indexing.bm25 import rules_digest as bm25_rules_digest
from qa.indexing.calibration import default_calibration
from qa.indexing.chunking import Chunk, ChunkSettings, chunk_documents, chunk_embedding_text
from qa.indexing.drug_dictionary import load_dictionary
from qa.indexing.embedding import Embedder
from qa.indexing.faq_store import FaqStore, faq_entries
from qa.indexing.lexicon import Lexicon
from qa.indexing.manifest import make_manifest
from qa.indexing.previous import Previous, load_previous
from qa.indexing.probes import check_encoder, probe_record
from qa.indexing.records import document_record
from qa.indexing.storage import Index, IndexParts, load_index, write_atomically, write_index_files
from qa.indexing.views import HEADING, SENTENCE, build_heading_view, build_sentence_view, empty_sentence_view
from qa.ingest.corpus import Corpus, corpus_fingerprint, load_corpus
from qa.ingest.documents import Document, SkippedFile

_EMBED_BATCH = 512


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
    rechunked_documents: int
    seconds: float
    embed_seconds: float
    fingerprint: str
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def chunks_per_second(self) -> float:
        return self.chunks / self.seconds if self.seconds else 0.0


def chunk_with_reuse(
    docs: list[Document], chunking: ChunkSettings, embedder: Embedder, previous: Previous, *, progress: bool = False
) -> tuple[list[Chunk], int]:
    """Chunks of every document, in corpus order: the old ones for documents whose source is
    unchanged, new ones for the rest. Returns them and how many documents were re-chunked."""
    kept = {doc.doc_id: previous.chunks_for(doc.doc_id, doc.source_text) for doc in docs}
    todo = [doc for doc in docs if kept[doc.doc_id] is None]
    fresh: dict[str, list[Chunk]] = {doc.doc_id: [] for doc in todo}
    for chunk in chunk_documents(todo, chunking, embedder.count_tokens, progress=progress and bool(todo)):
        fresh[chunk.doc_id].append(chunk)
    chunks = [c for doc in docs for c in (kept[doc.doc_id] if kept[doc.doc_id] is not None else fresh[doc.doc_id])]
    return chunks, len(todo)


def embed_texts(embedder: Embedder, texts: list[str], *, progress: bool = False, what: str = "chunk") -> np.ndarray:
    """Embed in length order (less padding per batch), return rows in the input order."""
    dim = embedder.dimension
    out = np.zeros((len(texts), dim), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(texts), desc=f"Embedding {what}s", unit=what)
    for lo in range(0, len(order), _EMBED_BATCH):
        batch = order[lo : lo + _EMBED_BATCH]
        out[batch] = embedder.embed([texts[i] for i in batch])
        if bar is not None:
            bar.update(len(batch))
    if bar is not None:
        bar.close()
    return out


def _check_inputs(corpus: Corpus, corpus_dir: Path, embedder: Embedder, chunking: ChunkSettings) -> None:
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


def embed_with_reuse(
    embedder: Embedder,
    texts: list[str],
    previous: dict[str, np.ndarray],
    *,
    progress: bool = False,
    what: str = "chunk",
) -> tuple[np.ndarray, int]:
    """Vectors for ``texts``: reused from ``previous`` (keyed by text) where possible, the
    rest embedded, each distinct text once (MedQuAD repeats boilerplate across hundreds of
    pages). Returns the vectors and how many were reused from ``previous``."""
    keys = texts  # the texts themselves: Python hashes a str once and keeps it
    first: dict[str, int] = {}
    todo = [i for i, key in enumerate(keys) if key not in previous and first.setdefault(key, i) == i]
    vectors = np.zeros((len(texts), embedder.dimension), dtype=np.float32)
    if todo:
        vectors[todo] = embed_texts(embedder, [texts[i] for i in todo], progress=progress, what=what)
    reused = 0
    for i, key in enumerate(keys):
        if key in previous:
            vectors[i] = previous[key]
            reused += 1
        elif first[key] != i:
            vectors[i] = vectors[first[key]]
    return vectors, reused


def build_index(
    corpus_dir: Path,
    index_dir: Path,
    embedder: Embedder,
    chunking: ChunkSettings,
    *,
    progress: bool = False,
    corpus: Corpus | None = None,
) -> BuildReport:
    """Read, chunk and embed ``corpus_dir``; write the index to ``index_dir`` atomically. With
    ``chunking.drug_dictionary`` (and the package installed) the lexicon takes names from the drug
    dictionary."""
    started = mark = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        timings[name], mark = now - mark, now

    probe = probe_record(embedder)
    # Reading the earlier index (checksums, FAISS) and the drug dictionary (bz2) spend much of their
    # time outside the GIL: they run beside the corpus reader, on a second core where there is one.
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="qa-build") as pool:
        earlier = pool.submit(load_previous, Path(index_dir), embedder.model_id, probe, chunking)
        dictionary = pool.submit(load_dictionary) if chunking.drug_dictionary else None
        corpus = corpus or load_corpus(Path(corpus_dir), progress=progress)
        lap("read")
        _check_inputs(corpus, Path(corpus_dir), embedder, chunking)
        old = earlier.result()
        drugs = dictionary.result() if dictionary is not None else None
    previous = old.vectors
    lap("previous")
    chunks, rechunked = chunk_with_reuse(corpus.documents, chunking, embedder, old, progress=progress)
    lap("chunk")
    texts = [chunk_embedding_text(c) for c in chunks]
    vectors, reused = embed_with_reuse(embedder, texts, previous, progress=progress)
    lap("embed")
    heading = build_heading_view(chunks, lambda lines: embed_with_reuse(embedder, lines, previous)[0])
    if chunking.sentence_view:
        sentence = build_sentence_view(
            chunks,
            lambda texts: embed_with_reuse(embedder, texts, previous, progress=progress, what="sentence")[0],
            reuse=old.sentences,
        )
    else:
        sentence = empty_sentence_view(len(chunks), embedder.dimension)
    lap("views")
    bm25 = Bm25Index.build(texts, reuse=old.tokens)
    lexicon = Lexicon.from_documents(corpus.documents, drugs)
    entries = faq_entries(corpus.documents) if chunking.include_faq else []
    faqs = FaqStore.build(entries, embedder.embed([e.question for e in entries]))
    lap("bm25+lexicon+faq")

    by_doc: dict[str, list[Chunk]] = {}
    for chunk in chunks:
        by_doc.setdefault(chunk.doc_id, []).append(chunk)
    records = [
        document_record(doc, by_doc.get(doc.doc_id, []), include_faq=chunking.include_faq) for doc in corpus.documents
    ]
    manifest = make_manifest(
        model={"id": embedder.model_id, "dimension": embedder.dimension, "max_tokens": embedder.max_tokens, **probe},
        corpus=corpus,
        corpus_dir=Path(corpus_dir),
        chunking=chunking,
        documents=len(records),
        chunks=len(chunks),
        retrieval={
            "bm25": "bm25s (Lucene BM25, k1=1.5, b=0.75) over title › heading path + text, English stems",
            "bm25_tokens": bm25_rules_digest(),
            "lexicon_entities": len(lexicon),
            "drug_dictionary": drugs is not None,
            "absent_drug_names": len(lexicon.absent_drugs),
            "faq_answers": len(faqs),
        },
        views={HEADING: heading.describe(), SENTENCE: sentence.describe()},
    )
    manifest["build"] = {"seconds": round(time.perf_counter() - started, 3), "timings": dict(timings)}
    parts = IndexParts(
        chunks, records, vectors, bm25, lexicon, faqs, default_calibration(embedder.model_id), heading, sentence
    )
    write_atomically(Path(index_dir), lambda tmp: write_index_files(tmp, parts, manifest))
    lap("write")
    return BuildReport(
        index_dir=Path(index_dir),
        corpus_dir=Path(corpus_dir),
        documents=len(records),
        chunks=len(chunks),
        skipped=corpus.skipped,
        dropped=Counter(d.rule for doc in corpus.documents for d in doc.dropped),
        warnings=sum(len(doc.warnings) for doc in corpus.documents),
        reused_vectors=reused,
        rechunked_documents=rechunked,
        seconds=time.perf_counter() - started,
        embed_seconds=timings["embed"],
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
        check_encoder(index.manifest["model"], embedder, Path(index_dir))
    except IndexNotFoundError:
        index, reasons = None, ["no index there yet"]
    except (IndexCorruptError, IndexMismatchError) as exc:
        index, reasons = None, [str(exc)]
    if index is not None and not reasons:
        return index, None, []
    report = build_index(corpus_dir, index_dir, embedder, chunking, progress=progress)
    return load_index(index_dir), report, reasons
