from __future__ import annotations

import json
from pathlib import Path

from qa.evaluation.faqset import (
    build_faq_set,
    faq_items,
    label_answer,
    read_overrides,
    top_sections,
    write_faq_set,
)
from qa.ingest.corpus import load_corpus, parse_document
from qa.ingest.faqs import body_faq_pairs
from tests.conftest import SEED_CORPUS

SECTIONS = {
    "Usage": "Aspirin relieves pain and fever and lowers the risk of heart attack.",
    "Dosage": "Adults take 325 mg every four hours; low-dose aspirin is 81 mg daily for the heart.",
    "Side Effects": "Stomach upset, bleeding and ulcers; rarely Reye syndrome in children.",
    "Summary": "Aspirin: pain, fever. Dose 325 mg every four hours.",
}


def test_label_picks_the_section_holding_the_answer() -> None:
    label = label_answer("Adults take 325 mg every four hours.", SECTIONS)
    assert label.answerable
    assert label.gold[0] == "Dosage"
    assert label.scores["Dosage"] > label.scores["Usage"]


def test_close_sections_are_all_gold() -> None:
    label = label_answer("325 mg every four hours", SECTIONS)
    assert set(label.gold) == {"Dosage", "Summary"}


def test_answer_the_body_does_not_support_is_not_answerable() -> None:
    label = label_answer("Swallow the capsules whole with water; do not chew or open them.", SECTIONS)
    assert not label.answerable
    assert max(label.scores.values()) < 0.5


def test_labels_come_from_the_answer_not_the_question(tmp_path: Path) -> None:
    text = (
        "---\ntitle: Aspirin\nfaqs:\n  - q: What are the side effects of aspirin?\n"
        "    a: Adults take 325 mg every four hours.\n---\n"
        + "".join(f"## {name}\n\n{body}\n\n" for name, body in SECTIONS.items())
    )
    (tmp_path / "aspirin.md").write_text(text)
    (row,) = build_faq_set(load_corpus(tmp_path)).rows
    assert row["section"] == "Dosage"  # the question says "side effects"; the answer is about dose


def test_seed_faq_set() -> None:
    faq_set = build_faq_set(load_corpus(SEED_CORPUS))
    rows = {row["question"]: row for row in faq_set.rows}
    monograph = [r for r in faq_set.rows if r["doc"] == "pomalidomide-monograph"]
    assert len(monograph) == 10
    assert all(r["sources"] == ["frontmatter", "body"] for r in monograph)  # merged, not doubled
    assert rows["What is the recommended dosage for Pomalidomide?"]["section"] == "Dosage"
    assert (
        rows["Can Pomalidomide be used during pregnancy or breastfeeding?"]["section"] == "Pregnancy and Breastfeeding"
    )
    title = rows["Do you stop pomalidomide (Imnovid) in the event of an infection?"]
    assert (title["doc"], title["section"], title["sources"]) == ("pomalidomide-infection-article", "*", ["title"])
    for row in faq_set.unanswerable:
        assert row["section"] is None and row["label"]["scores"]
    assert "FAQs (Frequently Asked Questions)" not in top_sections(
        load_corpus(SEED_CORPUS).by_id()["pomalidomide-monograph"]
    )


def test_body_faq_pairs_in_both_layouts() -> None:
    headings = parse_document(
        "# Drug\n\n## FAQ\n\n### Q1: Is it safe?\n\n**A:** Mostly.\n\n### Can I drive?\n\nA: Yes.\n",
        doc_id="d",
        path="d.md",
    )
    assert [(f.question, f.answer) for f in body_faq_pairs(headings)] == [
        ("Is it safe?", "Mostly."),
        ("Can I drive?", "Yes."),
    ]
    inline = parse_document(
        "# Drug\n\n## Frequently Asked Questions\n\n**Q1: Is it safe?**\n**A:** Mostly.\n\nQ: Can I drive?\nA: Yes.\n",
        doc_id="d",
        path="d.md",
    )
    assert [(f.question, f.answer) for f in body_faq_pairs(inline)] == [
        ("Is it safe?", "Mostly."),
        ("Can I drive?", "Yes."),
    ]


def test_same_question_in_two_documents_is_one_item_with_both_golds(tmp_path: Path) -> None:
    for drug in ("a", "b"):
        (tmp_path / f"{drug}.md").write_text(
            f"---\ntitle: {drug}\nfaqs:\n  - q: Is it safe in pregnancy?\n    a: Avoid in pregnancy.\n---\n"
            "## Pregnancy\n\nAvoid in pregnancy.\n\n## Dosage\n\n10 mg daily.\n"
        )
    faq_set = build_faq_set(load_corpus(tmp_path))
    (row,) = faq_set.rows
    assert (row["doc"], row["section"]) == ("a", "Pregnancy")
    assert row["alt_gold"] == [{"doc": "b", "section": "Pregnancy"}]
    assert faq_set.merged_across_documents == 1


def test_hand_corrections_survive_regeneration(tmp_path: Path) -> None:
    corpus = load_corpus(SEED_CORPUS)
    path = tmp_path / "faq.jsonl"
    write_faq_set(build_faq_set(corpus), path)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    rows[1]["gold_override"] = {"section": "Drug Profile Summary"}
    rows.append({"id": "faq:gone:00000000", "question": "?", "gold_override": {"answerable": False}})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))

    regenerated = build_faq_set(corpus, read_overrides(path))
    write_faq_set(regenerated, path)
    again = {json.loads(line)["id"]: json.loads(line) for line in path.read_text().splitlines()}
    assert again[rows[1]["id"]]["gold_override"] == {"section": "Drug Profile Summary"}
    assert regenerated.orphaned_overrides == ["faq:gone:00000000"]


def test_faq_items_writes_a_missing_file_and_flags_a_stale_one(tmp_path: Path) -> None:
    corpus = load_corpus(SEED_CORPUS)
    path = tmp_path / "faq.jsonl"
    first = faq_items(corpus, path)
    assert path.is_file() and "review it" in first.notes[0]
    assert faq_items(corpus, path).notes == []
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    rows[1]["section"] = "Usage"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert "no longer matches the corpus" in faq_items(corpus, path).notes[0]
