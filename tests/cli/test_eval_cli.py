"""`qa eval` as a user runs it, with the fake embedder injected (the real model runs in test_eval_gate)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa import cli
from qa.cli.common import CliContext
from tests.conftest import SEED_CORPUS
from tests.fakes import FakeEmbedder


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A scratch project directory with the seed corpus, run with the fake embedder."""
    shutil.copytree(SEED_CORPUS, tmp_path / "corpus")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("QA_MAX_CHUNK_TOKENS", "48")
    monkeypatch.setenv("QA_CHUNK_OVERLAP_TOKENS", "8")
    return tmp_path


def invoke(*args: str):
    fake = CliContext(make_embedder=lambda settings: FakeEmbedder())
    return CliRunner().invoke(cli.main, ["eval", *args], catch_exceptions=False, obj=fake)


def test_plain_qa_eval_runs_the_held_out_faq_evaluation(project: Path) -> None:
    result = invoke("-q")
    assert result.exit_code == 0, result.output
    assert "wrote eval/faq.jsonl" in result.output
    assert "Section-level" in result.output and "Document-level" in result.output
    assert "2 not answerable from the body" in result.output
    (report,) = (project / "eval" / "reports").iterdir()
    assert report.name.endswith("-faq-heldout")
    assert (report / "recall_at_k.png").is_file()
    assert json.loads((report / "metrics.json").read_text())["eval"]["held_out"] is True
    (index,) = (project / "index" / "eval").iterdir()
    assert index.name.endswith("-heldout")
    second = invoke("-q")
    assert "reused" in second.output and "wrote" not in second.output


def test_build_faq_writes_the_file_and_keeps_overrides(project: Path) -> None:
    result = CliRunner().invoke(cli.main, ["eval", "build-faq"])
    assert result.exit_code == 0, result.output
    assert "Wrote 11 items to eval/faq.jsonl" in result.output
    path = project / "eval" / "faq.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    rows[0]["gold_override"] = {"answerable": False}
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    again = CliRunner().invoke(cli.main, ["eval", "build-faq"])
    assert "hand corrections kept: 1" in again.output


def test_external_gold_set_with_problems(project: Path) -> None:
    gold = project / "gold.jsonl"
    gold.write_text(
        json.dumps({"id": "a", "question": "pomalidomide dose", "doc": "pomalidomide-monograph", "section": "Dosage"})
        + "\n{not json\n"
        + json.dumps({"id": "b", "question": "x", "doc": "aspirin", "section": "Use"})
        + "\n"
    )
    result = invoke("--eval-file", str(gold), "-q")
    assert result.exit_code == 0, result.output
    assert "1 questions scored" in result.output and "2 problems" in result.output
    assert "line 2: not valid JSON" in result.output
    assert "line 3 (id b): gold doc 'aspirin' is not in the corpus" in result.output
    strict = invoke("--eval-file", str(gold), "-q", "--strict")
    assert strict.exit_code == 1 and "--strict: 2 problems" in strict.output


def test_empty_eval_file_is_an_error(project: Path) -> None:
    (project / "empty.jsonl").write_text("")
    result = invoke("--eval-file", "empty.jsonl")
    assert result.exit_code == 1
    assert "has no usable questions" in result.output


def test_baseline_gate_fails_the_command(project: Path) -> None:
    assert invoke("-q", "--write-baseline", "base.json").exit_code == 0
    assert invoke("-q", "--baseline", "base.json").exit_code == 0
    base = json.loads((project / "base.json").read_text())
    base["sets"]["faq-heldout"]["retrievers"]["multiview"]["mrr@10"] = 1.5
    (project / "base.json").write_text(json.dumps(base))
    result = invoke("-q", "--baseline", "base.json")
    assert result.exit_code == 1 and "GATE FAILED: faq-heldout: section mrr@10" in result.output


def test_unknown_retriever_exits_2(project: Path) -> None:
    result = invoke("--retriever", "hybrid,nope")
    assert result.exit_code == 2 and "unknown retriever 'nope'" in result.output


def test_only_scores_the_matching_questions_and_names_the_run(project: Path) -> None:
    gold = project / "gold.jsonl"
    rows = [
        {
            "id": "a",
            "question": "pomalidomide dose",
            "doc": "pomalidomide-monograph",
            "section": "Dosage",
            "corpus": "seed",
        },
        {
            "id": "b",
            "question": "infection",
            "doc": "pomalidomide-infection-article",
            "section": "*",
            "corpus": "other",
        },
    ]
    gold.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    result = invoke("--eval-file", str(gold), "--only", "corpus=seed", "-q")
    assert result.exit_code == 0, result.output
    assert "1 questions scored" in result.output
    (report,) = (project / "eval" / "reports").iterdir()
    assert report.name.endswith("-gold-corpus-seed")
    assert invoke("--eval-file", str(gold), "--only", "corpus").exit_code == 2  # not FIELD=VALUE
    assert "no question matches" in invoke("--eval-file", str(gold), "--only", "corpus=none").output


def test_a_second_gated_set_keeps_the_first(project: Path) -> None:
    gold = project / "gold.jsonl"
    gold.write_text(json.dumps({"id": "a", "question": "dose", "doc": "pomalidomide-monograph", "section": "Dosage"}))
    assert invoke("-q", "--write-baseline", "base.json").exit_code == 0
    assert invoke("--eval-file", str(gold), "-q", "--write-baseline", "base.json").exit_code == 0
    sets = json.loads((project / "base.json").read_text())["sets"]
    assert set(sets) == {"faq-heldout", "gold"}
    result = invoke("--eval-file", str(gold), "--name", "unknown-run", "-q", "--baseline", "base.json")
    assert result.exit_code == 2 and "gates no run called 'unknown-run'" in result.output
