"""The CI gate: the held-out FAQ evaluation on corpus/ with the real model must not fall
more than 0.02 below eval/baseline.json, and a deliberate regression must fail it."""

from __future__ import annotations

from pathlib import Path

import pytest

import qa.indexing.build
from qa.evaluation.gate import gate_failures, read_baseline
from qa.evaluation.goldsets import load_eval_file
from qa.evaluation.runs import run_evaluation
from qa.indexing.build import build_index
from qa.indexing.chunking import ChunkSettings
from qa.indexing.storage import load_index
from qa.retrieval.retrievers import make_retrievers
from qa.retrieval.searcher import Searcher
from tests.conftest import ROOT, SEED_CORPUS

pytestmark = pytest.mark.integration

BASELINE = ROOT / "eval" / "baseline.json"
FAQ_FILE = ROOT / "eval" / "faq.jsonl"


def held_out_run(tmp_path: Path, embedder):
    settings = ChunkSettings(embedder.max_tokens, 32, include_faq=False)
    build_index(SEED_CORPUS, tmp_path / "index", embedder, settings)
    index = load_index(tmp_path / "index")
    items, problems = load_eval_file(FAQ_FILE)
    assert problems == []
    searcher = Searcher(index, embedder)
    retrievers = make_retrievers(list(read_baseline(BASELINE)["retrievers"]), searcher)
    options = {"name": "gate", "eval_source": str(FAQ_FILE), "held_out": True, "corpus_dir": str(SEED_CORPUS)}
    return run_evaluation(searcher, items, problems, retrievers, **options)


def test_held_out_faq_evaluation_meets_the_baseline(tmp_path: Path, real_embedder) -> None:
    baseline = read_baseline(BASELINE)
    run = held_out_run(tmp_path, real_embedder)
    assert run.reports[0].metrics()["questions"] == baseline["questions"]
    assert gate_failures(run, baseline) == []


def test_embedding_chunks_without_their_text_fails_the_gate(
    tmp_path: Path, real_embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(qa.indexing.build, "chunk_embedding_text", lambda chunk: chunk.context)
    failures = gate_failures(held_out_run(tmp_path, real_embedder), read_baseline(BASELINE))
    assert failures, "a retriever that never sees chunk text should not pass the gate"
