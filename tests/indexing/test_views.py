"""The heading and sentence views: what they embed, how they are stored, checked and reused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from qa.errors import IndexCorruptError
from qa.indexing.build import build_index
from qa.indexing.probes import PROBE_TEXTS
from qa.indexing.sentences import sentences_of
from qa.indexing.storage import load_index
from qa.indexing.views import VIEWS_DIR, SentenceView, build_sentence_view, heading_lines, sentence_texts
from tests.conftest import FAKE_CHUNKING, SEED_CORPUS
from tests.fakes import FakeEmbedder


def test_heading_lines_are_embedded_once_each(fake_index_dir: Path) -> None:
    chunks = load_index(fake_index_dir).chunks
    texts, rows = heading_lines(chunks)
    assert len(texts) == len(set(texts)) < len(chunks)  # long sections share their heading line
    assert [texts[r] for r in rows] == [c.context for c in chunks]


def test_sentence_texts_carry_their_heading_and_group_by_chunk(fake_index_dir: Path) -> None:
    chunks = load_index(fake_index_dir).chunks
    texts, offsets = sentence_texts(chunks)
    assert offsets[0] == 0 and offsets[-1] == len(texts) and np.all(np.diff(offsets) >= 0)
    for i, chunk in enumerate(chunks[:10]):
        head = chunk.heading_path[-1] if len(chunk.heading_path) > 1 else chunk.title
        assert texts[offsets[i] : offsets[i + 1]] == [f"{head}: {s}" for s in sentences_of(chunk.text)]


def test_best_sentence_per_chunk() -> None:
    vectors = np.eye(3, dtype=np.float16)
    view = SentenceView(vectors, np.array([0, 2, 2, 3]))  # chunk 0: rows 0-1; chunk 1: none; chunk 2: row 2
    best = view.best(np.array([0.2, 0.9, 0.5], dtype=np.float32), np.array([2, 0, 1]))
    assert best[0] == pytest.approx(0.5) and best[1] == pytest.approx(0.9) and best[2] == -np.inf


def test_a_rebuild_reuses_view_vectors(fake_index_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "index"
    shutil.copytree(fake_index_dir, target)
    embedder = FakeEmbedder()
    build_index(SEED_CORPUS, target, embedder, FAKE_CHUNKING)
    # Only the FAQ questions and the encoder probe are embedded again: every chunk, heading and
    # sentence vector is reused.
    assert embedder.texts_embedded == len(load_index(target).faqs) + len(PROBE_TEXTS)


@pytest.mark.parametrize("name", ["sentence_offsets.npy", "heading_of_chunk.npy"])
def test_a_view_that_does_not_fit_the_index_is_refused(fake_index_dir: Path, tmp_path: Path, name: str) -> None:
    target = tmp_path / "index"
    shutil.copytree(fake_index_dir, target)
    np.save(target / VIEWS_DIR / name, np.zeros(3, dtype=np.int64))
    with pytest.raises(IndexCorruptError, match=name.split(".")[0].split("_")[0]):
        load_index(target)


def _edited_corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    shutil.copytree(SEED_CORPUS, corpus)
    return corpus


def _edit(corpus: Path) -> None:
    edited = corpus / "pomalidomide-infection-article.txt"
    text = edited.read_text(encoding="utf-8")
    marker = "Pomalidomide therapy is associated"
    assert marker in text
    added = "A sentence added after the first build, to be embedded. "
    edited.write_text(text.replace(marker, added + marker, 1), encoding="utf-8")


def _sentence_view(index_dir: Path) -> SentenceView:
    return load_index(index_dir).sentence


def test_a_one_document_rebuild_reuses_sentence_rows_by_chunk(tmp_path: Path) -> None:
    corpus = _edited_corpus(tmp_path)
    build_index(corpus, tmp_path / "index", FakeEmbedder(), FAKE_CHUNKING)
    _edit(corpus)
    embedder = FakeEmbedder()
    build_index(corpus, tmp_path / "index", embedder, FAKE_CHUNKING)
    build_index(corpus, tmp_path / "fresh", FakeEmbedder(), FAKE_CHUNKING)
    again, fresh = _sentence_view(tmp_path / "index"), _sentence_view(tmp_path / "fresh")
    # Row for row what a build from scratch makes ...
    assert np.array_equal(again.offsets, fresh.offsets) and np.array_equal(again.vectors, fresh.vectors)
    # ... while of the sentences only the new one was split out and embedded.
    sentences = set(sentence_texts(load_index(tmp_path / "index").chunks)[0])
    added = {t for t in sentences if "added after the first build" in t}
    assert len(added) == 1 and set(embedder.seen) & sentences == added


@pytest.mark.parametrize("damage", ["rules", "checksum"])
def test_sentence_rows_are_not_reused_by_chunk_when_they_cannot_be_trusted(tmp_path: Path, damage: str) -> None:
    import json

    corpus = _edited_corpus(tmp_path)
    index_dir = tmp_path / "index"
    build_index(corpus, index_dir, FakeEmbedder(), FAKE_CHUNKING)
    manifest = json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))
    if damage == "rules":  # split by other rules: which text an old vector embeds is unknown
        manifest["views"]["sentence"]["rules"] = "0" * 16
    else:  # a file that does not match its checksum is not used at all
        manifest["files"]["views/sentence.npy"]["sha256"] = "0" * 64
    (index_dir / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    _edit(corpus)
    embedder = FakeEmbedder()
    build_index(corpus, index_dir, embedder, FAKE_CHUNKING)
    build_index(corpus, tmp_path / "fresh", FakeEmbedder(), FAKE_CHUNKING)
    assert np.array_equal(_sentence_view(index_dir).vectors, _sentence_view(tmp_path / "fresh").vectors)
    # Every sentence is embedded again (and the result is still a fresh build's).
    assert set(sentence_texts(load_index(index_dir).chunks)[0]) <= set(embedder.seen)


def test_chunks_with_the_same_context_line_but_other_sentence_labels_keep_their_own_rows(tmp_path: Path) -> None:
    from qa.indexing.chunking import Chunk
    from qa.indexing.sentences import rules_digest
    from qa.indexing.views import reusable_sentences, save_sentence_view

    def chunk(doc: str, title: str, path: tuple[str, ...]) -> Chunk:
        text = "Take this medicine with a full glass of water."
        return Chunk(
            id=doc,
            doc_id=doc,
            ordinal=0,
            title=title,
            heading_path=path,
            text=text,
            start=0,
            end=len(text),
            line_start=1,
            line_end=1,
            path=f"{doc}.md",
            part=1,
            parts=1,
            context=" › ".join(path),
        )

    # The same context line and text, but one is a lead chunk labelled by its title, the other a
    # section labelled "Dosage": their sentences differ.
    chunks = [chunk("a", "Aspirin › Dosage", ("Aspirin › Dosage",)), chunk("b", "Aspirin", ("Aspirin", "Dosage"))]
    embedder = FakeEmbedder()
    fresh = build_sentence_view(chunks, embedder.embed)
    save_sentence_view(fresh, tmp_path)
    reuse = reusable_sentences(tmp_path, chunks, embedder.dimension, {"rules": rules_digest()})
    again = build_sentence_view(chunks, embedder.embed, reuse=reuse)
    assert np.array_equal(again.vectors, fresh.vectors) and not np.array_equal(fresh.vectors[0], fresh.vectors[1])


@pytest.mark.parametrize(
    "damage",
    [
        lambda m: m.update(retrieval=None),
        lambda m: m.update(views="sentence"),
        lambda m: m["views"].update(sentence=None),
        lambda m: m["model"].update(dimension="wide"),
        lambda m: m["model"].update(probe="x"),
        lambda m: m["model"].update(probe=[[1.0], [1.0, 2.0]]),
    ],
)
def test_a_rebuild_over_a_damaged_manifest_still_builds(tmp_path: Path, damage) -> None:
    import json

    corpus = _edited_corpus(tmp_path)
    index_dir = tmp_path / "index"
    build_index(corpus, index_dir, FakeEmbedder(), FAKE_CHUNKING)
    manifest = json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))
    damage(manifest)
    (index_dir / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    build_index(corpus, index_dir, FakeEmbedder(), FAKE_CHUNKING)
    build_index(corpus, tmp_path / "fresh", FakeEmbedder(), FAKE_CHUNKING)
    assert np.array_equal(_sentence_view(index_dir).vectors, _sentence_view(tmp_path / "fresh").vectors)


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: (d / VIEWS_DIR / "heading.json").write_text("5"),
        lambda d: np.save(d / VIEWS_DIR / "heading.npy", np.load(d / VIEWS_DIR / "heading.npy")[:, :3]),
        lambda d: (d / VIEWS_DIR / "heading.json").write_text(
            json.dumps([[t] for t in json.loads((d / VIEWS_DIR / "heading.json").read_text())])
        ),
    ],
)
def test_a_heading_view_that_does_not_fit_is_embedded_again_even_with_matching_checksums(
    tmp_path: Path, damage
) -> None:
    from qa.indexing.manifest import sha256_file

    corpus = _edited_corpus(tmp_path)
    index_dir = tmp_path / "index"
    build_index(corpus, index_dir, FakeEmbedder(), FAKE_CHUNKING)
    damage(index_dir)
    manifest = json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))
    for name in ("views/heading.json", "views/heading.npy"):  # as if an index of another kind vouched for them
        manifest["files"][name]["sha256"] = sha256_file(index_dir / name)
    (index_dir / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    build_index(corpus, index_dir, FakeEmbedder(), FAKE_CHUNKING)
    build_index(corpus, tmp_path / "fresh", FakeEmbedder(), FAKE_CHUNKING)
    assert np.array_equal(load_index(index_dir).heading.vectors, load_index(tmp_path / "fresh").heading.vectors)


def test_without_source_code_the_rules_digest_never_matches(monkeypatch: pytest.MonkeyPatch) -> None:
    import inspect

    from qa.indexing import sentences

    assert sentences.source_digest(sentences.chunk_sentences) == sentences.source_digest(sentences.chunk_sentences)

    def no_source(_: object) -> str:
        raise OSError("could not get source code")

    monkeypatch.setattr(inspect, "getsource", no_source)
    first, second = (sentences.source_digest(sentences.chunk_sentences) for _ in range(2))
    assert first.startswith("nosource-") and first != second  # so nothing is reused, and nothing breaks


def test_without_the_sentence_view_no_sentence_is_embedded_and_its_readers_say_why(tmp_path: Path) -> None:
    from dataclasses import replace

    from qa.errors import ConfigError
    from qa.indexing.chunking import chunk_embedding_text
    from qa.retrieval.catalog import make_retrievers
    from qa.retrieval.searcher import Searcher

    embedder = FakeEmbedder()
    build_index(SEED_CORPUS, tmp_path / "index", embedder, replace(FAKE_CHUNKING, sentence_view=False))
    index = load_index(tmp_path / "index")
    assert not index.sentence.built and len(index.sentence.vectors) == 0
    assert index.manifest["views"]["sentence"]["built"] is False
    assert not set(embedder.seen) & set(sentence_texts(index.chunks)[0])
    retrievers = make_retrievers(["multiview", "multiview+sentence"], Searcher(index, embedder))
    query = retrievers["multiview"].prepare("pomalidomide dose")
    assert retrievers["multiview"].search(query, 3)  # the default needs no sentence
    with pytest.raises(ConfigError, match="QA_SENTENCE_VIEW=true"):
        retrievers["multiview+sentence"].search(query, 3)
    # Turning the view on later is a rebuild that keeps every other vector.
    again = FakeEmbedder()
    build_index(SEED_CORPUS, tmp_path / "index", again, FAKE_CHUNKING)
    rebuilt = load_index(tmp_path / "index")
    assert rebuilt.sentence.built and len(rebuilt.sentence.vectors) > 0
    assert not set(again.seen) & {chunk_embedding_text(c) for c in rebuilt.chunks}
