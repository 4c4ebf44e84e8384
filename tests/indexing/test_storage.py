from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from qa.errors import ConfigError, CorpusError, IndexCorruptError, IndexMismatchError, IndexNotFoundError
from qa.indexing.build import build_index
from qa.indexing.chunking import ChunkSettings
from qa.indexing.manifest import MANIFEST
from qa.indexing.probes import PROBE_TEXTS
from qa.indexing.sentences import sentences_of
from qa.indexing.storage import load_index
from qa.retrieval.retrievers import DenseRetriever
from qa.retrieval.searcher import Searcher
from tests.conftest import FAKE_CHUNKING, SEED_CORPUS
from tests.fakes import FakeEmbedder


@pytest.fixture()
def index_copy(fake_index_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "index"
    shutil.copytree(fake_index_dir, target)
    return target


def test_saved_index_loads_with_everything_it_needs(fake_index_dir: Path) -> None:
    index = load_index(fake_index_dir)
    manifest = index.manifest
    assert set(p.name for p in fake_index_dir.iterdir()) == {
        "index.faiss",
        "chunks.jsonl",
        "documents.jsonl",
        "bm25",
        "lexicon.json",
        "faqs.jsonl",
        "faqs.faiss",
        "views",
        MANIFEST,
    }
    assert set(manifest["files"]) >= {
        "index.faiss",
        "bm25/vocab.index.json",
        "lexicon.json",
        "faqs.faiss",
        "views/heading.npy",
        "views/heading_of_chunk.npy",
        "views/heading.json",
        "views/sentence.npy",
        "views/sentence_offsets.npy",
    }
    assert set(manifest["views"]) == {"chunk", "heading", "sentence"}
    assert len(index.heading.texts) == len({c.context for c in index.chunks})
    assert [index.heading.texts[row] for row in index.heading.of_chunk] == [c.context for c in index.chunks]
    sentences = sum(len(sentences_of(c.text)) for c in index.chunks)
    assert index.sentence.vectors.shape == (sentences, 64) and index.sentence.vectors.dtype == np.float16
    assert index.sentence.offsets[-1] == sentences
    model = dict(manifest["model"])
    assert len(model.pop("probe")) == len(PROBE_TEXTS)
    assert model == {"id": "fake/hashing-bow", "dimension": 64, "max_tokens": 48, "encoder": "fake"}
    assert manifest["counts"]["documents"] == 2 == len(index.documents)
    assert manifest["counts"]["chunks"] == len(index.chunks) == index.faiss.ntotal
    assert manifest["chunking"] == FAKE_CHUNKING.as_dict()
    assert len(manifest["corpus"]["fingerprint"]) == 64
    assert manifest["package_version"]
    record = index.documents["pomalidomide-monograph"]
    assert record.chunk_count == sum(1 for c in index.chunks if c.doc_id == record.doc_id)
    assert sum(len(o.chunk_ids) for o in record.outline) == record.chunk_count
    # The stored source text is what offsets refer to.
    for chunk in index.chunks:
        if chunk.doc_id == record.doc_id:
            assert record.source_text[chunk.start : chunk.end] == chunk.text


def test_vectors_are_unit_length_and_searchable(fake_index_dir: Path) -> None:
    index = load_index(fake_index_dir)
    norms = np.linalg.norm(index.vectors(), axis=1)
    assert np.allclose(norms, 1.0, atol=1e-5)
    searcher = Searcher(index, FakeEmbedder())
    hits = DenseRetriever(searcher).search(searcher.prepare("Imnovid infection discontinue"), 3)
    assert [h.rank for h in hits] == [1, 2, 3]
    assert hits[0].score >= hits[1].score >= hits[2].score


def test_missing_index_is_refused_with_the_command_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFoundError, match="qa index"):
        load_index(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(IndexNotFoundError, match=r"no manifest\.json"):
        load_index(tmp_path / "empty")


@pytest.mark.parametrize(
    "name", ["index.faiss", "chunks.jsonl", "documents.jsonl", "bm25/data.csc.index.npy", "lexicon.json", "faqs.jsonl"]
)
def test_changed_or_truncated_file_is_refused(index_copy: Path, name: str) -> None:
    path = index_copy / name
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(IndexCorruptError, match=name):
        load_index(index_copy)


def test_deleted_file_is_refused(index_copy: Path) -> None:
    (index_copy / "chunks.jsonl").unlink()
    with pytest.raises(IndexCorruptError, match="missing"):
        load_index(index_copy)


def test_unreadable_manifest_is_refused(index_copy: Path) -> None:
    (index_copy / MANIFEST).write_text("{not json", encoding="utf-8")
    with pytest.raises(IndexCorruptError, match=r"manifest\.json"):
        load_index(index_copy)


def test_future_format_version_is_refused(index_copy: Path) -> None:
    manifest = json.loads((index_copy / MANIFEST).read_text())
    manifest["format_version"] = 99
    (index_copy / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatchError, match="format version 99"):
        load_index(index_copy)


def test_index_built_with_another_model_is_refused(fake_index_dir: Path) -> None:
    index = load_index(fake_index_dir)
    with pytest.raises(IndexMismatchError, match="fake/hashing-bow") as caught:
        Searcher(index, FakeEmbedder(model_id="other/model"))
    assert "QA_MODEL" in str(caught.value)
    with pytest.raises(IndexMismatchError, match=r"64-dimensional"):
        index.check_model("fake/hashing-bow", 32)


class ExplodingEmbedder(FakeEmbedder):
    def embed(self, texts):
        raise RuntimeError("simulated crash in the middle of a build")


def test_a_crashed_build_leaves_the_previous_index_intact(index_copy: Path) -> None:
    def snapshot() -> dict[str, bytes]:
        return {str(p.relative_to(index_copy)): p.read_bytes() for p in index_copy.rglob("*") if p.is_file()}

    before = snapshot()
    with pytest.raises(RuntimeError, match="simulated crash"):
        build_index(SEED_CORPUS, index_copy, ExplodingEmbedder(model_id="other/model"), FAKE_CHUNKING)
    assert snapshot() == before
    assert load_index(index_copy).manifest["counts"]["chunks"] > 0
    leftovers = [p.name for p in index_copy.parent.iterdir() if p.name != "index"]
    assert leftovers == []


def test_rebuild_replaces_the_index_and_reuses_unchanged_vectors(index_copy: Path) -> None:
    embedder = FakeEmbedder()
    report = build_index(SEED_CORPUS, index_copy, embedder, FAKE_CHUNKING)
    assert report.reused_vectors == report.chunks
    # Only the FAQ questions (for FAQ answers) and the encoder probe are embedded again; no chunk is.
    assert embedder.texts_embedded - len(PROBE_TEXTS) == len(load_index(index_copy).faqs) == 10
    assert load_index(index_copy).manifest["counts"]["chunks"] == report.chunks


def test_build_refuses_to_replace_a_directory_that_is_not_an_index(tmp_path: Path) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="not an index"):
        build_index(SEED_CORPUS, precious, FakeEmbedder(), FAKE_CHUNKING)
    assert (precious / "notes.txt").read_text() == "keep me"


def test_build_reports_skipped_files_and_counts(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(SEED_CORPUS, corpus)
    (corpus / "broken.md").write_text("---\ntitle: [x\n---\n## A\n\nb\n")
    (corpus / "binary.pdf").write_bytes(b"%PDF\x00\x01")
    report = build_index(corpus, tmp_path / "index", FakeEmbedder(), FAKE_CHUNKING)
    assert report.documents == 2
    assert sorted(s.path for s in report.skipped) == ["binary.pdf", "broken.md"]
    assert report.dropped["disclaimer"] == 1
    manifest = load_index(tmp_path / "index").manifest
    assert manifest["counts"]["skipped_files"] == 2
    assert {s["path"] for s in manifest["skipped"]} == {"binary.pdf", "broken.md"}


def test_build_of_a_corpus_with_nothing_readable_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "empty.md").write_text("")
    with pytest.raises(CorpusError, match="no readable documents"):
        build_index(tmp_path / "c", tmp_path / "i", FakeEmbedder(), FAKE_CHUNKING)


def test_chunks_larger_than_the_model_reads_are_refused(tmp_path: Path) -> None:
    from qa.indexing.chunking import ChunkSettings

    with pytest.raises(ConfigError, match="QA_MAX_CHUNK_TOKENS"):
        build_index(SEED_CORPUS, tmp_path / "i", FakeEmbedder(), ChunkSettings(max_tokens=500, overlap_tokens=8))


def test_a_rebuild_rechunks_only_the_changed_document(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(SEED_CORPUS, corpus)
    index_dir = tmp_path / "index"
    first = build_index(corpus, index_dir, FakeEmbedder(), FAKE_CHUNKING)
    assert first.rechunked_documents == 2
    edited = corpus / "pomalidomide-monograph.md"
    edited.write_text(edited.read_text(encoding="utf-8").replace("Pomalidomide", "Pomalyst", 3), encoding="utf-8")

    again = build_index(corpus, index_dir, FakeEmbedder(), FAKE_CHUNKING)
    fresh = build_index(corpus, tmp_path / "fresh", FakeEmbedder(), FAKE_CHUNKING)
    assert again.rechunked_documents == 1
    # The kept chunks and the new ones are exactly what a build from scratch makes.
    assert load_index(index_dir).chunks == load_index(tmp_path / "fresh").chunks
    assert again.chunks == fresh.chunks
    unchanged = build_index(corpus, index_dir, FakeEmbedder(), FAKE_CHUNKING)
    assert unchanged.rechunked_documents == 0 and unchanged.reused_vectors == unchanged.chunks


def test_chunks_are_not_reused_across_chunk_settings(tmp_path: Path, fake_index_dir: Path) -> None:
    index_dir = tmp_path / "index"
    shutil.copytree(fake_index_dir, index_dir)
    other = ChunkSettings(max_tokens=40, overlap_tokens=8)
    assert build_index(SEED_CORPUS, index_dir, FakeEmbedder(), other).rechunked_documents == 2


def test_records_are_written_as_asdict_would_write_them(fake_index_dir: Path) -> None:
    import dataclasses
    import json

    from qa.indexing.records import plain

    for record in load_index(fake_index_dir).documents.values():
        assert json.dumps(plain(record)) == json.dumps(dataclasses.asdict(record))
