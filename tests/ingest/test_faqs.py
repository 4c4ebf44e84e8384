from __future__ import annotations

import pytest

from qa.ingest.faqs import clean_answer, clean_faqs, split_question


@pytest.mark.parametrize(
    ("raw", "question", "glued"),
    [
        ("What is X?**\n\n**A:** It is a drug.", "What is X?", "It is a drug."),
        ("What is X?** **A:** It is a drug.", "What is X?", "It is a drug."),
        ("What is X?", "What is X?", ""),
        ("**Q1: What is X?**", "What is X?", ""),
        ("Does vitamin A: help?", "Does vitamin A: help?", ""),
        ("What is X?\nA: glued on a new line", "What is X?", "glued on a new line"),
    ],
)
def test_split_question(raw: str, question: str, glued: str) -> None:
    assert split_question(raw) == (question, glued)


@pytest.mark.parametrize(
    ("raw", "answer"),
    [
        ("A:** For myeloma,  4 mg.", "For myeloma, 4 mg."),
        ("**A:** Yes.", "Yes."),
        ("Answer: Yes.", "Yes."),
        ("Plain answer.", "Plain answer."),
    ],
)
def test_clean_answer(raw: str, answer: str) -> None:
    assert clean_answer(raw) == answer


def test_clean_faqs_reports_what_it_leaves_out() -> None:
    pairs, warnings = clean_faqs(
        [
            {"q": "Q?**\n\n**A:** glued", "a": ""},  # answer only glued to the question
            {"q": "", "a": "orphan"},
            {"q": "No answer?"},
            "not a mapping",
            {"q": "q?**\n\n**A:** glued", "a": "A:** again"},  # repeats the first question
        ]
    )
    assert [(p.question, p.answer) for p in pairs] == [("Q?", "glued")]
    assert len(warnings) == 4
    assert any("no question" in w for w in warnings)
    assert any("no answer" in w for w in warnings)
    assert any("mapping" in w for w in warnings)
    assert any("repeats" in w for w in warnings)


def test_clean_faqs_rejects_a_non_list() -> None:
    pairs, warnings = clean_faqs({"q": "x"})
    assert pairs == [] and "expected a list" in warnings[0]
