"""BM25 over the chunks, and a rebuild's reuse of the tokens an earlier index stored."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.indexing import bm25 as bm25_module
from qa.indexing.bm25 import BM25_DIR, Bm25Index, TokenReuse
from qa.indexing.build import build_index
from qa.indexing.storage import load_index
from tests.conftest import FAKE_CHUNKING, SEED_CORPUS
from tests.fakes import FakeEmbedder

FIRST = [
    "Pomalidomide › Dosage\nTake 4 mg once daily on days 1 to 21 of each 28-day cycle.",
    "Pomalidomide › Warnings\nVenous thromboembolism: give thromboprophylaxis.",
    "Pomalidomide › Storage\nKeep the capsules in the carton, below 25 degrees.",
    "Lenalidomide › Dosage\nCapsules of 25 mg daily; lower the dose in renal impairment.",
]
# The storage chunk is gone (its words "carton" and "degrees" with it), the warnings changed, one is new.
SECOND = [
    FIRST[0],
    "Pomalidomide › Warnings\nVenous thromboembolism and neutropenia: check blood counts weekly.",
    FIRST[3],
    "Thalidomide › Pregnancy\nThalidomide causes severe birth defects; two forms of contraception.",
]
QUESTIONS = ["dose of pomalidomide", "blood clots thromboembolism", "carton storage", "pregnancy defects", "renal"]


def _stored(tmp_path: Path, texts: list[str]) -> Path:
    directory = tmp_path / "first"
    directory.mkdir()
    Bm25Index.build(texts).save(directory)
    return directory


def _same(a: Bm25Index, b: Bm25Index) -> None:
    assert set(a._vocab) == set(b._vocab)
    for question in QUESTIONS:
        assert np.allclose(a.scores(question), b.scores(question), atol=1e-6)


def test_a_rebuild_with_stored_tokens_is_the_index_a_fresh_build_makes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reuse = TokenReuse.load(_stored(tmp_path, FIRST), FIRST)
    tokenized: list[str] = []
    real = bm25_module.tokenize
    monkeypatch.setattr(bm25_module, "tokenize", lambda texts: tokenized.extend(texts) or real(texts))
    rebuilt = Bm25Index.build(SECOND, reuse=reuse)
    assert tokenized == [SECOND[1], SECOND[3]]  # only the texts the earlier index did not have
    monkeypatch.setattr(bm25_module, "tokenize", real)
    fresh = Bm25Index.build(SECOND)
    _same(rebuilt, fresh)
    assert not rebuilt.knows("carton") and fresh.knows("neutropenia") and rebuilt.knows("neutropenia")


@settings(max_examples=30, deadline=None)
@given(
    first=st.lists(st.sampled_from(FIRST + SECOND), min_size=1, max_size=6),
    second=st.lists(st.sampled_from(FIRST + SECOND), min_size=1, max_size=6),
)
def test_reuse_never_changes_the_index(tmp_path_factory: pytest.TempPathFactory, first: list, second: list) -> None:
    directory = tmp_path_factory.mktemp("bm25")
    Bm25Index.build(first).save(directory)
    _same(Bm25Index.build(second, reuse=TokenReuse.load(directory, first)), Bm25Index.build(second))


def test_stored_tokens_that_do_not_fit_are_refused(tmp_path: Path) -> None:
    directory = _stored(tmp_path, FIRST)
    with pytest.raises(ValueError, match="do not describe 3 chunks"):
        TokenReuse.load(directory, FIRST[:3])
    np.save(directory / "tokens.npy", np.array([0, 10**6], dtype=np.int32))
    with pytest.raises(ValueError):
        TokenReuse.load(directory, FIRST)


@pytest.mark.parametrize("damage", [None, "rules", "checksum"])
def test_a_rebuild_tokenizes_only_what_it_cannot_trust(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str | None
) -> None:
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(SEED_CORPUS, corpus)
    build_index(corpus, index_dir, FakeEmbedder(), FAKE_CHUNKING)
    chunks = len(load_index(index_dir).chunks)
    manifest = json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))
    if damage == "rules":
        manifest["retrieval"]["bm25_tokens"] = "0" * 16
    elif damage == "checksum":
        manifest["files"][f"{BM25_DIR}/tokens.npy"]["sha256"] = "0" * 64
    (index_dir / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    tokenized: list[str] = []
    real = bm25_module.tokenize
    monkeypatch.setattr(bm25_module, "tokenize", lambda texts: tokenized.extend(texts) or real(texts))
    build_index(corpus, index_dir, FakeEmbedder(), FAKE_CHUNKING)
    assert len(tokenized) == (0 if damage is None else chunks)


_QUESTION_TEXT = st.text(
    alphabet=st.sampled_from(list("abcdefghijklmnopqrstuvwxyz ABCXYZ'-/.,?0123456789éßÆİıſ\u0301\u00a0\t\n")),
    max_size=80,
) | st.sampled_from(["", "What ARE the side-effects of Pomalyst 4mg?", "the and of", "ﬁnal İstanbul ſtop"])


@given(text=_QUESTION_TEXT)
@settings(max_examples=300, deadline=None)
def test_query_tokens_are_the_tokens_bm25s_makes(text: str) -> None:
    """The one-question fast path (no bm25s set-up per call) tokenizes exactly as bm25s does."""
    assert bm25_module.query_tokens(text) == bm25_module.tokenize([text])[0]


def test_scores_and_known_words_use_the_index_tokens(tmp_path: Path) -> None:
    index = Bm25Index.build(["Pomalidomide dosing for myeloma", "Warfarin interactions"])
    assert index.knows("Pomalidomide") and index.knows("dose") and not index.knows("the")
    scores = index.scores("What is the DOSE of pomalidomide?")
    assert scores[0] > 0 and scores[1] == 0
