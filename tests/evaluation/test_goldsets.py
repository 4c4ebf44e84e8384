from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.evaluation.goldsets import (
    EvalFileError,
    Gold,
    GoldIndex,
    judge,
    judge_lines,
    load_eval_file,
    parse_lines,
    section_lines,
)
from qa.indexing.chunking import Chunk


def line(**fields) -> str:
    return json.dumps(fields)


GOOD = line(id="q1", question="What is X?", doc="x", section="Overview", qtype="information")


def test_good_line_keeps_extra_fields() -> None:
    items, problems = parse_lines(
        [GOOD, line(id=2, question="Y?", doc="y", section="*", alt_gold=[{"doc": "x", "section": "Use"}], answer="...")]
    )
    assert problems == []
    assert items[0].golds == (Gold("x", "Overview"),) and items[0].qtype == "information"
    assert items[1].id == "2" and items[1].golds == (Gold("y", "*"), Gold("x", "Use"))
    assert items[1].extra == {"answer": "..."}


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ('{"id": "q", "question": "x?", "doc": "d"', "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        (line(question="x?", doc="d", section="s"), "missing 'id'"),
        (line(id="q", question="  ", doc="d", section="s"), "'question' must be a non-empty string"),
        (line(id="q", question="x?", section="s"), "'doc' must be a non-empty string"),
        (line(id="q", question="x?", doc="d"), "'section' must be a non-empty string"),
        (line(id="q", question="x?", doc="d", section="s", alt_gold="d"), "'alt_gold' must be a list"),
        (line(id="q", question="x?", doc="d", section="s", alt_gold=[{"doc": "e"}]), "alt_gold[0]"),
        (
            line(id="q", question="x?", doc="d", section="s", gold_override="Dosage"),
            "'gold_override' must be an object",
        ),
    ],
)
def test_bad_lines_are_reported_with_their_line_number(raw: str, fragment: str) -> None:
    items, problems = parse_lines([GOOD, raw])
    assert [i.id for i in items] == ["q1"]
    assert len(problems) == 1 and problems[0].line == 2
    assert fragment in problems[0].message
    assert str(problems[0]).startswith("line 2")


def test_repeated_id_is_a_problem() -> None:
    items, problems = parse_lines([GOOD, GOOD])
    assert len(items) == 1 and "repeats an id" in problems[0].message and problems[0].item_id == "q1"


def test_gold_override_replaces_the_automatic_label() -> None:
    items, _ = parse_lines(
        [
            line(id="a", question="a?", doc="d", section="Usage", gold_override={"section": "Dosage"}),
            line(id="b", question="b?", doc="d", section=None, answerable=False, gold_override={"section": "Usage"}),
            line(id="c", question="c?", doc="d", section="Usage", gold_override={"answerable": False}),
            line(id="e", question="e?", doc="d", section=None, answerable=False),
        ]
    )
    by_id = {i.id: i for i in items}
    assert by_id["a"].golds == (Gold("d", "Dosage"),)
    assert by_id["b"].answerable and by_id["b"].golds == (Gold("d", "Usage"),)
    assert not by_id["c"].answerable
    assert not by_id["e"].answerable and by_id["e"].golds == ()


def test_empty_or_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EvalFileError, match="does not exist"):
        load_eval_file(tmp_path / "nope.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n\n")
    with pytest.raises(EvalFileError, match="no usable questions"):
        load_eval_file(tmp_path / "empty.jsonl")
    (tmp_path / "bad.jsonl").write_text("{oops\n")
    with pytest.raises(EvalFileError, match="line 1: not valid JSON"):
        load_eval_file(tmp_path / "bad.jsonl")


def test_gold_check_names_missing_docs_and_sections() -> None:
    index = GoldIndex({"x": ["Overview", "**Treatment:**"], "y": ["Usage"]})
    items, _ = parse_lines(
        [
            GOOD,
            line(id="q2", question="?", doc="nope", section="Overview"),
            line(id="q3", question="?", doc="x", section="Dosage"),
            line(id="q4", question="?", doc="x", section="treatment"),  # case and emphasis ignored
            line(id="q5", question="?", doc="y", section="*"),
            line(id="q6", question="?", doc="x", section="Overview", alt_gold=[{"doc": "gone", "section": "A"}]),
        ]
    )
    kept, problems = index.check(items)
    assert [i.id for i in kept] == ["q1", "q4", "q5", "q6"]
    assert kept[-1].golds == (Gold("x", "Overview"),)
    messages = {p.item_id: p.message for p in problems}
    assert messages["q2"] == "gold doc 'nope' is not in the corpus"
    assert messages["q3"].startswith("doc 'x' has no section 'Dosage' (it has 'Overview'")
    assert "gone" in messages["q6"]


def chunk(doc: str, *path: str) -> Chunk:
    return Chunk(
        id="c", doc_id=doc, ordinal=0, title=path[0], heading_path=path, text="t", start=0, end=1,
        line_start=1, line_end=1, path=f"{doc}.md", part=1, parts=1, context="",
    )  # fmt: skip


def test_judge_section_and_document() -> None:
    golds = [Gold("x", "Dosage"), Gold("y", "*")]
    assert judge(chunk("x", "X", "Dosage", "Adults"), golds) == (True, True)
    assert judge(chunk("x", "X", "**dosage:**"), golds) == (True, True)
    assert judge(chunk("x", "X", "Usage"), golds) == (False, True)
    assert judge(chunk("x", "X"), golds) == (False, True)  # text before the first heading
    assert judge(chunk("y", "Y", "Anything"), golds) == (True, True)
    assert judge(chunk("z", "Z", "Dosage"), golds) == (False, False)


def _monograph_record():
    from qa.indexing.chunking import chunk_documents
    from qa.indexing.records import document_record
    from qa.ingest.markdown import parse_markdown
    from tests.conftest import FAKE_CHUNKING
    from tests.fakes import FakeEmbedder

    text = "# Drug\n\n## Uses\n\nTreats pain.\n\n### In children\n\nHalf the dose.\n\n## Dosage\n\n4 mg daily.\n"
    doc = parse_markdown(text, doc_id="drug", path="drug.md")
    return document_record(doc, chunk_documents([doc], FAKE_CHUNKING, FakeEmbedder().count_tokens))


def test_section_lines_span_a_section_and_its_subsections() -> None:
    lines = section_lines(_monograph_record())
    assert lines == {"uses": [(3, 9)], "dosage": [(11, 13)]}


@pytest.mark.parametrize(
    ("span", "golds", "verdict"),
    [
        ((5, 5), [Gold("drug", "Uses")], (True, True)),  # inside the section
        ((8, 12), [Gold("drug", "Dosage")], (True, True)),  # overlaps it from the section above
        ((5, 5), [Gold("drug", "Dosage")], (False, True)),  # the right document only
        ((5, 5), [Gold("other", "Uses")], (False, False)),
        ((1, 1), [Gold("drug", "*")], (True, True)),  # any section of the document
        ((5, 5), [Gold("drug", "Storage")], (False, True)),  # a section the document lacks
    ],
)
def test_judge_lines_counts_overlap_with_a_gold_section(span, golds, verdict) -> None:
    assert judge_lines("drug", span, golds, section_lines(_monograph_record())) == verdict


def test_a_negative_without_a_category_is_named_by_its_file(tmp_path: Path) -> None:
    from qa.evaluation.goldsets import load_negatives

    path = tmp_path / "devset" / "unanswerable.jsonl"
    path.parent.mkdir()
    path.write_text(line(id="n1", question="how long does it stay in urine") + "\n" + line(
        id="n2", question="capital of France?", category="off-topic") + "\n")  # fmt: skip
    items = load_negatives(path)
    assert [i.extra["category"] for i in items] == ["devset/unanswerable", "off-topic"]


def test_an_absent_drug_the_corpus_has_is_left_out(fake_index_dir: Path) -> None:
    from qa.evaluation.goldsets import EvalItem, absent_here
    from qa.indexing.storage import load_index
    from qa.retrieval.recognition import Recogniser

    recogniser = Recogniser(load_index(fake_index_dir).lexicon)

    def absent(item_id: str, drug: str) -> EvalItem:
        return EvalItem(
            item_id, f"Is {drug} safe?", (), answerable=False, extra={"category": "absent-drug", "drug": drug}
        )

    here, away = absent("a", "Imnovid"), absent("b", "zolpidem")
    other = EvalItem("c", "Tell me a joke", (), answerable=False, extra={"category": "off-topic"})
    # Named in passing (the monograph lists warfarin among interacting drugs): not absent either.
    passing = absent("d", "Warfarin")
    kept, left_out = absent_here([here, away, other, passing], recogniser)
    assert [i.id for i in kept] == ["b", "c"] and [i.id for i in left_out] == ["a", "d"]
