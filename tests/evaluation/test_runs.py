from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.evaluation.faqset import build_faq_set
from qa.evaluation.gate import baseline_from_run, gate_failures
from qa.evaluation.goldsets import parse_lines
from qa.evaluation.reports import summary_tables, write_report
from qa.evaluation.runs import eval_index_dir, run_evaluation, select
from qa.indexing.build import build_index, ensure_index
from qa.indexing.chunking import ChunkSettings
from qa.indexing.storage import load_index
from qa.ingest.corpus import load_corpus
from qa.retrieval.catalog import make_retrievers
from qa.retrieval.retrievers import DenseRetriever
from qa.retrieval.searcher import Searcher
from tests.conftest import FAKE_CHUNKING, SEED_CORPUS
from tests.fakes import FakeEmbedder

HELD_OUT = ChunkSettings(FAKE_CHUNKING.max_tokens, FAKE_CHUNKING.overlap_tokens, include_faq=False)


@pytest.fixture(scope="module")
def held_out_index(tmp_path_factory):
    target = tmp_path_factory.mktemp("heldout") / "index"
    build_index(SEED_CORPUS, target, FakeEmbedder(), HELD_OUT)
    return load_index(target)


@pytest.fixture(scope="module")
def faq_lines() -> list[str]:
    return [json.dumps(row) for row in build_faq_set(load_corpus(SEED_CORPUS)).rows]


def run(index, lines, **kwargs):
    items, problems = parse_lines(lines)
    searcher = Searcher(index, FakeEmbedder())
    retrievers = {"dense": DenseRetriever(searcher)}
    options = {"name": "t", "eval_source": "test", "held_out": True, "corpus_dir": str(SEED_CORPUS), **kwargs}
    return run_evaluation(searcher, items, problems, retrievers, **options)


def test_held_out_index_has_no_faq_content(held_out_index) -> None:
    assert held_out_index.manifest["chunking"]["include_faq"] is False
    assert not any(c.faq for c in held_out_index.chunks)
    assert not any("FAQ" in " ".join(c.heading_path) for c in held_out_index.chunks)
    full = load_index(
        build_index(SEED_CORPUS, held_out_index.path.parent / "full", FakeEmbedder(), FAKE_CHUNKING).index_dir
    )
    assert any(c.faq for c in full.chunks)


def test_run_reports_every_metric_and_the_unanswerable(held_out_index, faq_lines) -> None:
    result = run(held_out_index, faq_lines)
    metrics = result.metrics()
    dense = metrics["retrievers"]["dense"]
    for level in ("section", "doc"):
        assert set(dense[level]) == {"hit@1", "recall@1", "recall@3", "recall@5", "recall@10", "mrr@10", "ndcg@10"}
        assert all(0.0 <= v <= 1.0 for v in dense[level].values())
        assert dense[level]["recall@1"] <= dense[level]["recall@5"] <= dense[level]["recall@10"]
    assert dense["section"]["recall@5"] <= dense["doc"]["recall@5"]
    assert dense["latency_ms"]["p50"] > 0 and dense["mean_passage_chars"] > 0
    assert metrics["eval"]["scored"] + len(metrics["eval"]["not_answerable_from_body"]) == len(faq_lines)
    assert len(metrics["eval"]["not_answerable_from_body"]) == sum('"answerable": false' in line for line in faq_lines)


def test_problems_are_counted_and_do_not_stop_the_run(held_out_index, faq_lines) -> None:
    bad = [
        "{broken",
        json.dumps({"id": "x1", "question": "dose?", "doc": "missing-doc", "section": "Dosage"}),
        json.dumps({"id": "x2", "question": "dose?", "doc": "pomalidomide-monograph", "section": "Nope"}),
    ]
    result = run(held_out_index, faq_lines + bad)
    messages = [str(p) for p in result.problems]
    assert len(messages) == 3
    assert messages[0].startswith(f"line {len(faq_lines) + 1}: not valid JSON")
    assert "x1" in messages[1] and "missing-doc" in messages[1]
    assert "no section 'Nope'" in messages[2]
    assert result.items_in_file == len(faq_lines) + 3


def test_qtype_breakdown_and_worst_misses(held_out_index) -> None:
    lines = [
        json.dumps({"id": f"q{i}", "question": q, "doc": "pomalidomide-monograph", "section": s, "qtype": t})
        for i, (q, s, t) in enumerate(
            [
                ("pomalidomide dose for myeloma", "Dosage", "dosage"),
                ("is it safe in pregnancy", "Pregnancy and Breastfeeding", "safety"),
                ("weather in paris tomorrow", "Usage", "safety"),
            ]
        )
    ]
    report = run(held_out_index, lines).reports[0]
    assert set(report.by_qtype()) == {"dosage", "safety"}
    assert report.by_qtype()["safety"]["questions"] == 2
    worst = report.worst(20)
    ranks = [o.section_rank for o in worst]
    assert all(r != 1 for r in ranks)
    assert ranks == sorted(ranks, key=lambda r: (r is not None, -(r or 0)))  # misses first


def test_select_is_reproducible() -> None:
    items, _ = parse_lines([json.dumps({"id": i, "question": "q", "doc": "d", "section": "s"}) for i in range(50)])
    first = select(items, sample=10, seed=7, limit=None)
    assert [i.id for i in first] == [i.id for i in select(items, sample=10, seed=7, limit=None)]
    assert [i.id for i in first] != [i.id for i in select(items, sample=10, seed=8, limit=None)]
    assert [i.id for i in first] == sorted((i.id for i in first), key=int)  # file order kept
    assert len(select(items, sample=10, seed=7, limit=3)) == 3


def test_report_files(held_out_index, faq_lines, tmp_path: Path) -> None:
    result = run(held_out_index, faq_lines)
    target = write_report(result, tmp_path)
    assert {p.name for p in target.iterdir()} == {"metrics.json", "report.md", "recall_at_k.png", "questions.jsonl"}
    assert (target / "recall_at_k.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (target / "report.md").read_text()
    for heading in ("Section-level", "Document-level", "Not answerable from the body", "Worst misses: dense"):
        assert heading in report
    assert json.loads((target / "metrics.json").read_text())["retrievers"]["dense"]["section"]
    rows = [json.loads(line) for line in (target / "questions.jsonl").read_text().splitlines()]
    assert len(rows) == len(result.reports[0].outcomes)
    assert "| dense" in summary_tables(result)


def test_gate_compares_against_the_baseline(held_out_index, faq_lines) -> None:
    result = run(held_out_index, faq_lines)
    baseline = baseline_from_run(result)
    gated = baseline["sets"][result.name]["retrievers"]
    assert set(gated) == {"dense"}
    assert gate_failures(result, baseline) == []
    raised = json.loads(json.dumps(baseline))
    gated = raised["sets"][result.name]["retrievers"]
    gated["dense"]["mrr@10"] = min(1.0, result.reports[0].metrics()["section"]["mrr@10"] + 0.05)
    assert "mrr@10" in gate_failures(result, raised)[0]
    gated["bm25"] = gated["dense"]
    assert any("no 'bm25' retriever" in f for f in gate_failures(result, raised))


def test_ensure_index_reuses_a_matching_index_and_rebuilds_a_stale_one(tmp_path: Path) -> None:
    embedder = FakeEmbedder()
    target = tmp_path / "idx"
    _, built, reasons = ensure_index(SEED_CORPUS, target, embedder, HELD_OUT)
    assert built is not None and reasons == ["no index there yet"]
    _, built, _ = ensure_index(SEED_CORPUS, target, embedder, HELD_OUT)
    assert built is None
    _, built, reasons = ensure_index(SEED_CORPUS, target, embedder, FAKE_CHUNKING)
    assert built is not None and "chunk settings changed" in reasons[0]
    assert built.reused_vectors > 0


def test_eval_index_dirs_differ_by_corpus_and_mode(tmp_path: Path) -> None:
    a = eval_index_dir(tmp_path, Path("corpus"), True)
    assert a != eval_index_dir(tmp_path, Path("corpus"), False)
    assert a != eval_index_dir(tmp_path, Path("other/corpus"), True)


def test_unknown_retriever_is_named(held_out_index) -> None:
    from qa.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown retriever 'sparse'; choose from bm25, bm25-bare, dense"):
        make_retrievers(["dense", "sparse"], Searcher(held_out_index, FakeEmbedder()))
