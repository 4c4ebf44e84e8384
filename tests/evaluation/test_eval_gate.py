"""The CI gate: with the real model, the default retriever (and dense) must stay within 0.02 of
eval/baseline.json on the held-out FAQ set, on the consumer questions about the seed documents and,
when ../shared/data/medicationqa-dev is there, on its real consumer questions; a deliberate
regression must fail it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

import qa.indexing.build
from qa import cli
from qa.cli.common import CliContext
from qa.evaluation.gate import gate_failures, gated_set, read_baseline
from qa.evaluation.goldsets import load_eval_file
from qa.evaluation.runs import run_evaluation
from qa.indexing.build import build_index
from qa.indexing.chunking import ChunkSettings
from qa.indexing.storage import load_index
from qa.retrieval.catalog import make_retrievers
from qa.retrieval.searcher import Searcher
from tests.conftest import ROOT, SEED_CORPUS

pytestmark = pytest.mark.integration

BASELINE = ROOT / "eval" / "baseline.json"
CONSUMER_FILE = ROOT / "eval" / "consumer.jsonl"
MEDICATIONQA = Path(os.environ.get("MEDICATIONQA_DIR") or ROOT.parent / "shared" / "data" / "medicationqa-dev")
GATES = {
    "faq-heldout": [],
    "consumer-corpus-seed-heldout": ["--eval-file", str(ROOT / "eval" / "consumer.jsonl"), "--only", "corpus=seed",
                                     "--held-out"],
    "medicationqa-dev": ["--corpus", str(MEDICATIONQA / "corpus"), "--eval-file", str(MEDICATIONQA / "eval.jsonl"),
                         "--name", "medicationqa-dev"],
}  # fmt: skip
NEEDS = {"medicationqa-dev": MEDICATIONQA}  # optional development data: skipped, with the path named, when absent


def test_the_baseline_gates_the_default_retriever_on_every_set() -> None:
    baseline = read_baseline(BASELINE)
    assert set(baseline["sets"]) == set(GATES)
    for gated in baseline["sets"].values():
        assert "multiview" in gated["retrievers"]


@pytest.mark.parametrize("name", sorted(GATES))
def test_evaluation_meets_the_baseline(name: str, tmp_path: Path, real_embedder, monkeypatch) -> None:
    if name in NEEDS and not (NEEDS[name] / "eval.jsonl").is_file():
        pytest.skip(f"{name} not found at {NEEDS[name]} (optional development data; set MEDICATIONQA_DIR)")
    monkeypatch.chdir(ROOT)  # eval/faq.jsonl and eval/unanswerable.jsonl are found from the repository root
    args = ["eval", *GATES[name], "--baseline", str(BASELINE), "--index", str(tmp_path / "index"),
            "--reports", str(tmp_path / "reports"), "-q"]  # fmt: skip
    result = CliRunner().invoke(cli.main, args, obj=CliContext(make_embedder=lambda settings: real_embedder))
    assert result.exit_code == 0, result.output
    assert "Gate passed." in result.output
    assert f"{gated_set(read_baseline(BASELINE), name)['questions']} questions scored" in result.output


def held_out_consumer_run(tmp_path: Path, embedder):
    """The consumer questions about the seed documents, as the gate's set of that name runs them
    (88 questions: the 9 of the FAQ set are too few to tell a broken index from a working one)."""
    name = "consumer-corpus-seed-heldout"
    settings = ChunkSettings(embedder.max_tokens, 32, include_faq=False)
    build_index(SEED_CORPUS, tmp_path / "index", embedder, settings)
    index = load_index(tmp_path / "index")
    items, problems = load_eval_file(CONSUMER_FILE)
    items = [item for item in items if item.extra.get("corpus") == "seed"]
    searcher = Searcher(index, embedder)
    retrievers = make_retrievers(list(gated_set(read_baseline(BASELINE), name)["retrievers"]), searcher)
    options = {"name": name, "eval_source": str(CONSUMER_FILE), "held_out": True, "corpus_dir": str(SEED_CORPUS)}
    return run_evaluation(searcher, items, problems, retrievers, **options)


def test_embedding_chunks_without_their_text_fails_the_gate(
    tmp_path: Path, real_embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(qa.indexing.build, "chunk_embedding_text", lambda chunk: chunk.context)
    failures = gate_failures(held_out_consumer_run(tmp_path, real_embedder), read_baseline(BASELINE))
    assert failures, "a retriever that never sees chunk text should not pass the gate"
