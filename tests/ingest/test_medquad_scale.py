"""Scale checks on the MedQuAD development corpus (skipped, naming the path, when absent)."""

from __future__ import annotations

import random

import pytest

from qa.indexing.chunking import ChunkSettings, chunk_documents, chunk_embedding_text
from qa.indexing.embedding import SentenceTransformerEmbedder
from qa.ingest.corpus import load_corpus

pytestmark = pytest.mark.medquad


@pytest.fixture(scope="module")
def corpus(medquad):
    return load_corpus(medquad / "corpus")


def test_every_medquad_document_loads(corpus, medquad) -> None:
    import json

    manifest = json.loads((medquad / "manifest.json").read_text())
    assert len(corpus.documents) == manifest["docs"]
    assert corpus.skipped == []
    level2 = sum(1 for d in corpus.documents for s in d.sections if s.level == 2)
    assert level2 == manifest["sections"]
    assert all(d.title and d.source_url for d in corpus.documents)


@pytest.mark.integration
def test_medquad_sample_chunks_fit_the_real_model(corpus, real_embedder) -> None:
    sample = random.Random(0).sample(corpus.documents, 150)
    chunks = chunk_documents(sample, ChunkSettings(real_embedder.max_tokens, 32), real_embedder.count_tokens)
    model = SentenceTransformerEmbedder().load()  # torch's own tokenizer checks the default encoder's counts
    assert any(c.parts > 1 for c in chunks)
    for chunk in chunks:
        ids = model.tokenizer(chunk_embedding_text(chunk), truncation=False)["input_ids"]
        assert len(ids) <= model.max_seq_length
        doc = next(d for d in sample if d.doc_id == chunk.doc_id)
        assert doc.source_text[chunk.start : chunk.end] == chunk.text


def test_every_medquad_gold_names_a_real_document_and_section(corpus, medquad) -> None:
    from qa.evaluation.goldsets import GoldIndex, load_eval_file

    items, problems = load_eval_file(medquad / "eval.jsonl")
    assert problems == []
    assert len(items) == 14358
    checked, gold_problems = GoldIndex.from_documents(corpus.documents).check(items)
    assert gold_problems == []
    assert len(checked) == len(items)
    assert sum(1 for item in items if len(item.golds) > 1) == 1533  # questions with alt_gold (manifest)
