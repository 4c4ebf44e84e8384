from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from qa.errors import CorpusError, DuplicateDocumentError
from qa.ingest import corpus as corpus_module
from qa.ingest.corpus import corpus_fingerprint, detect_format, load_corpus, parse_document
from qa.ingest.plaintext import looks_like_heading, remove_citations
from tests.conftest import SEED_CORPUS


@pytest.fixture(scope="module")
def seeds():
    corpus = load_corpus(SEED_CORPUS)
    return corpus.by_id()


@pytest.fixture(scope="module")
def monograph(seeds):
    return seeds["pomalidomide-monograph"]


@pytest.fixture(scope="module")
def article(seeds):
    return seeds["pomalidomide-infection-article"]


def paths(doc) -> list[tuple[str, ...]]:
    return [section.headings for section in doc.sections]


# ------------------------------------------------------------------ format detection
def test_format_is_detected_by_content_not_extension(tmp_path: Path) -> None:
    (tmp_path / "looks-plain.txt").write_text("---\ntitle: Drug X\n---\n## Usage\nTake it.\n", encoding="utf-8")
    (tmp_path / "looks-markdown.md").write_text("Drug Y page\n\nDosage\n\nTake two daily.\n", encoding="utf-8")
    docs = load_corpus(tmp_path).by_id()
    assert docs["looks-plain"].format == "markdown"
    assert docs["looks-plain"].title == "Drug X"
    assert docs["looks-markdown"].format == "plaintext"
    assert docs["looks-markdown"].title == "Drug Y page"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("---\ntitle: x\n---\nbody", "markdown"),
        ("intro\n\n## Heading\n\ntext", "markdown"),
        ("Title line\n\nHeading\n\nParagraph.", "plaintext"),
        ("#hashtag is not a heading\n\ntext", "plaintext"),
    ],
)
def test_detect_format(text: str, expected: str) -> None:
    assert detect_format(text) == expected


# ------------------------------------------------------------------ markdown monograph
def test_monograph_metadata(monograph) -> None:
    assert monograph.format == "markdown"
    assert monograph.title == "Pomalidomide"
    assert monograph.is_banned is False
    assert monograph.last_modified == "2025-09-22T17:21:53.946Z"
    assert monograph.description.startswith("Pomalidomide is prescribed in combination with dexamethasone")
    assert monograph.warnings == []


def test_monograph_headings_are_clean_paths(monograph) -> None:
    found = paths(monograph)
    assert ("Dosage", "Standard Dosage", "Adults") in found
    assert ("Dosage", "Standard Dosage", "Special Cases") in found
    assert ("Side Effects", "Adverse Drug Reactions (ADR)") in found
    assert ("Usage",) in found
    for headings in found:
        for heading in headings:
            assert "*" not in heading and not heading.endswith(":"), heading


def test_monograph_faqs_are_clean_pairs(monograph) -> None:
    assert len(monograph.faqs) == 10
    first = monograph.faqs[0]
    assert first.question == "What is the recommended dosage for Pomalidomide?"
    assert first.answer.startswith("For multiple myeloma, the recommended dosage is 4 mg")
    for faq in monograph.faqs:
        assert faq.question.endswith("?"), faq.question
        assert "A:" not in faq.question and "**" not in faq.question
        assert not faq.answer.startswith(("A:", "**", " ")), faq.answer
        assert "  " not in faq.answer


def test_section_text_is_an_exact_slice_for_markdown(monograph) -> None:
    for section in monograph.sections:
        if section.body.text:
            start, end = section.body.source_span(0, len(section.body.text))
            assert monograph.source_text[start:end] == section.body.text


def test_title_h1_is_not_repeated_and_code_fences_hide_headings(tmp_path: Path) -> None:
    text = (
        "---\ntitle: Aspirin\n---\n# Aspirin\n\nIntro text.\n\n## Dosage\n\n```\n## not a heading\n```\n\n"
        "### Adults:\n\n81 mg daily.\n"
    )
    doc = parse_document(text, doc_id="aspirin", path="aspirin.md")
    assert paths(doc) == [(), ("Dosage",), ("Dosage", "Adults")]
    assert doc.sections[0].body.text == "Intro text."
    assert "## not a heading" in doc.sections[1].body.text


def test_title_falls_back_to_h1_then_file_name() -> None:
    assert parse_document("# Ibuprofen\n\n## Use\n\nPain.", doc_id="x", path="x.md").title == "Ibuprofen"
    doc = parse_document("## Use\n\nPain.", doc_id="drugs/naproxen", path="drugs/naproxen.md")
    assert doc.title == "naproxen"
    assert doc.warnings


def test_frontmatter_fields_are_normalised() -> None:
    text = (
        "---\ntitle: X\nis_banned: 'yes'\nlastModified: 2024-01-02\nsource_url: https://e.org/x\nk: [1]\n---\n"
        "## A\n\nb\n"
    )
    doc = parse_document(text, doc_id="x", path="x.md")
    assert doc.is_banned is True
    assert doc.last_modified == "2024-01-02"
    assert doc.source_url == "https://e.org/x"
    assert doc.extra == {"k": [1]}


def test_unparseable_is_banned_is_unknown_and_warned() -> None:
    doc = parse_document("---\ntitle: X\nis_banned: maybe\n---\n## A\n\nb\n", doc_id="x", path="x.md")
    assert doc.is_banned is None
    assert any("is_banned" in w for w in doc.warnings)


# ------------------------------------------------------------------ plain-text article
def test_article_title_and_headings(article) -> None:
    assert article.format == "plaintext"
    assert article.title == "Do you stop pomalidomide (Imnovid) in the event of an infection?"
    top = [h[-1] for h in paths(article) if h]
    for heading in (
        "Management of Pomalidomide During Infections in Multiple Myeloma",
        "Rationale for Discontinuation",
        "Risk Assessment and Management Algorithm",
        "Neutropenia Management",
        "Resuming Therapy After Infection",
        "Common Pitfalls to Avoid",
    ):
        assert heading in top
    assert ("Special Considerations", "Neutropenia Management") in paths(article)
    # Lead-in lines that end with a colon are text, not headings.
    assert "When restarting pomalidomide after infection:" not in top


def test_article_chrome_is_dropped_and_reported(article) -> None:
    text = "\n".join(s.body.text for s in article.sections)
    for chrome in (
        "Article Review Status",
        "Under Review",
        "Personalize",
        "Which best describes you",
        "Professional Medical Disclaimer",
        "assumes no liability",
        "Have a follow-up question",
        "Our Medical A.I.",
        "View editorial policy",
    ):
        assert chrome not in text, chrome
    rules = {d.rule for d in article.dropped}
    assert rules == {"review-status", "last-updated", "personalisation", "disclaimer", "promotion"}
    disclaimer = next(d for d in article.dropped if d.rule == "disclaimer")
    assert "assumes no liability" in disclaimer.text  # heading and its paragraph are one entry
    assert article.last_modified == "2025-08-05"


def test_article_citation_markers_are_removed(article) -> None:
    text = "\n".join(s.body.text for s in article.sections)
    assert "may impair recovery.\n" in text + "\n"
    assert "(56.2% grade 3/4), which increases" in text
    assert "renal function, but infection" in text
    assert "(13.9%)\n" in text
    # Real numbers stay.
    assert "(from 4 mg to 3 mg)" in text
    assert "grade 3-4 infections" in text
    assert "Patients >75 years" in text


def test_article_sections_map_back_to_source(article) -> None:
    for section in article.sections:
        for i, char in enumerate(section.body.text):
            start, end = section.body.source_span(i, i + 1)
            assert article.source_text[start:end] == char


@pytest.mark.parametrize(
    ("line", "kept"),
    [
        ("may impair recovery. 1", "may impair recovery."),
        ("neutropenia (56.2% grade 3/4) 2, which", "neutropenia (56.2% grade 3/4), which"),
        ("first three months of therapy 1, 3", "first three months of therapy"),
        ("patients experienced grade 3", "patients experienced grade 3"),
        ("reduce from 4 mg to 3, then stop", "reduce from 4 mg to 3, then stop"),
        ("  1. Ensure complete resolution", "  1. Ensure complete resolution"),
        ("take 20 mg daily", "take 20 mg daily"),
    ],
)
def test_remove_citations(line: str, kept: str) -> None:
    assert "".join(line[a:b] for a, b in remove_citations(line)) == kept


@pytest.mark.parametrize(
    ("line", "heading"),
    [
        ("Renal Impairment", True),
        ("Have a follow-up question?", True),
        ("When restarting pomalidomide after infection:", False),
        ("  • Hold pomalidomide until resolution", False),
        ("  1. Ensure complete resolution of infection", False),
        ("Pomalidomide should be stopped.", False),
        ("lowercase start", False),
        ("A" * 81, False),
        ("Therapy lasts for months 1", False),
    ],
)
def test_looks_like_heading(line: str, heading: bool) -> None:
    assert looks_like_heading(line) is heading


def test_plaintext_chrome_rules_work_on_another_page_of_the_site() -> None:
    page = (
        "Is warfarin safe with aspirin?\n\n"
        "Medical Advisory BoardAll articles are reviewed for accuracy by our Medical Advisory Board\n"
        "Article Review Status\nApproved\n\n"
        "Last updated: March 3, 2024View editorial policy\n\n"
        "Personalize\n\n"
        "Bleeding Risk\n\n"
        "Combined use raises major bleeding risk by about 50%. 2\n\n"
        "Monitoring\n\n"
        "Check INR weekly during the first month. 1, 3\n\n"
        "Medical Disclaimer\n\n"
        "This is not advice.\n\n"
        "Have a follow-up question?\n\n"
        "Ask our A.I.\n"
    )
    doc = parse_document(page, doc_id="warfarin", path="warfarin.txt")
    assert paths(doc) == [("Bleeding Risk",), ("Monitoring",)]
    assert doc.sections[0].body.text == "Combined use raises major bleeding risk by about 50%."
    assert doc.sections[1].body.text == "Check INR weekly during the first month."
    assert doc.last_modified == "2024-03-03"
    assert [d.rule for d in doc.dropped] == [
        "review-status",
        "last-updated",
        "personalisation",
        "disclaimer",
        "promotion",
    ]


# ------------------------------------------------------------------ loader: bad files
def test_unreadable_files_are_skipped_named_and_counted(tmp_path: Path) -> None:
    (tmp_path / "good.md").write_text("---\ntitle: Good\n---\n## Use\n\nText.\n", encoding="utf-8")
    (tmp_path / "bad-yaml.md").write_text("---\ntitle: [unclosed\n---\n## Use\n\nText.\n", encoding="utf-8")
    (tmp_path / "unclosed.md").write_text("---\ntitle: x\n## Use\n\nText.\n", encoding="utf-8")
    (tmp_path / "not-a-mapping.md").write_text("---\n- a\n- b\n---\n## Use\n\nText.\n", encoding="utf-8")
    (tmp_path / "latin1.txt").write_bytes("Caf\xe9 title\n\nBody\n".encode("latin-1"))
    (tmp_path / "binary.bin").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    (tmp_path / "empty.md").write_text("  \n\n", encoding="utf-8")
    (tmp_path / "only-frontmatter.md").write_text("---\ntitle: Nothing\n---\n", encoding="utf-8")
    (tmp_path / ".hidden.md").write_text("## A\n\nb\n", encoding="utf-8")

    corpus = load_corpus(tmp_path)
    assert [d.doc_id for d in corpus.documents] == ["good"]
    reasons = {s.path: s.reason for s in corpus.skipped}
    assert set(reasons) == {
        "bad-yaml.md",
        "unclosed.md",
        "not-a-mapping.md",
        "latin1.txt",
        "binary.bin",
        "empty.md",
        "only-frontmatter.md",
        ".hidden.md",
    }
    assert reasons["bad-yaml.md"].startswith("invalid YAML frontmatter at line 2")
    assert "no closing '---'" in reasons["unclosed.md"]
    assert "mapping" in reasons["not-a-mapping.md"]
    assert "not UTF-8" in reasons["latin1.txt"] and "0xe9" in reasons["latin1.txt"]
    assert "binary" in reasons["binary.bin"]
    assert reasons["empty.md"] == "empty file"
    assert reasons["only-frontmatter.md"] == "no body text to index"
    assert reasons[".hidden.md"] == "hidden file"


def _refuse_to_open(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Opening the file called ``name`` fails as it would without read permission (the tests may
    run as root, for whom permissions do not stop a read)."""
    opened = Path.open

    def refuse(self: Path, *args, **kwargs):
        if self.name == name:
            raise PermissionError(13, "Permission denied")
        return opened(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refuse)


def test_a_file_that_cannot_be_opened_is_skipped_and_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Not a crash: the build goes on without it, says why, and the fingerprint still covers it."""
    (tmp_path / "good.md").write_text("## Use\n\nPain.\n", encoding="utf-8")
    (tmp_path / "locked.md").write_text("## Use\n\nFever.\n", encoding="utf-8")
    readable = load_corpus(tmp_path).fingerprint
    _refuse_to_open(monkeypatch, "locked.md")
    corpus = load_corpus(tmp_path)
    assert [d.doc_id for d in corpus.documents] == ["good"]
    assert [(s.path, s.reason) for s in corpus.skipped] == [
        ("locked.md", "cannot be read (Permission denied); check that the file is readable")
    ]
    assert corpus.fingerprint == corpus_fingerprint(tmp_path) != readable


def test_an_oversized_file_is_skipped_but_its_content_counts_in_the_fingerprint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(corpus_module, "MAX_FILE_BYTES", 100)
    (tmp_path / "small.md").write_text("## Use\n\nPain.\n", encoding="utf-8")
    (tmp_path / "big.md").write_text("## Use\n\n" + "Fever. " * 40, encoding="utf-8")
    big = (tmp_path / "big.md").read_bytes()
    read = corpus_module.read_file(tmp_path / "big.md")
    assert read.data is None and read.size == len(big) and read.sha256 == hashlib.sha256(big).hexdigest()
    corpus = load_corpus(tmp_path)
    assert [d.doc_id for d in corpus.documents] == ["small"]
    assert [s.path for s in corpus.skipped] == ["big.md"] and "larger than" in corpus.skipped[0].reason
    assert corpus.fingerprint == corpus_fingerprint(tmp_path)
    (tmp_path / "big.md").write_text("## Use\n\n" + "Fever! " * 40, encoding="utf-8")  # same size
    assert load_corpus(tmp_path).fingerprint != corpus.fingerprint


def test_the_fingerprint_is_the_sha256_of_every_path_and_content(tmp_path: Path) -> None:
    """The formula existing indexes were stamped with: changing it would make every index stale."""
    shutil.copytree(SEED_CORPUS, tmp_path / "c")
    (tmp_path / "c" / "sub").mkdir()
    (tmp_path / "c" / "sub" / "x.md").write_text("## A\n\nb\n", encoding="utf-8")
    (tmp_path / "c" / ".hidden.md").write_text("## A\n\nb\n", encoding="utf-8")
    root = tmp_path / "c"
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(
            f"{path.relative_to(root).as_posix()}\t{hashlib.sha256(path.read_bytes()).hexdigest()}\n".encode()
        )
    assert load_corpus(root).fingerprint == corpus_fingerprint(root) == digest.hexdigest()


def test_a_directory_that_cannot_be_listed_is_skipped_and_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not silently left out (as Path.rglob would): named, counted, and part of the fingerprint."""
    (tmp_path / "good.md").write_text("## Use\n\nPain.\n", encoding="utf-8")
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "inside.md").write_text("## Use\n\nFever.\n", encoding="utf-8")
    readable = load_corpus(tmp_path)
    assert sorted(readable.by_id()) == ["good", "locked/inside"]
    scandir = os.scandir

    def refuse(path):
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", refuse)
    corpus = load_corpus(tmp_path)
    assert [d.doc_id for d in corpus.documents] == ["good"]
    assert [(s.path, s.reason) for s in corpus.skipped] == [
        ("locked/", "cannot be listed (Permission denied); check its permissions")
    ]
    assert corpus.fingerprint == corpus_fingerprint(tmp_path) != readable.fingerprint


def test_an_unreadable_hidden_file_is_reported_as_hidden(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "good.md").write_text("## Use\n\nPain.\n", encoding="utf-8")
    (tmp_path / ".locked.md").write_text("## Use\n\nFever.\n", encoding="utf-8")
    _refuse_to_open(monkeypatch, ".locked.md")
    assert [(s.path, s.reason) for s in load_corpus(tmp_path).skipped] == [(".locked.md", "hidden file")]


def test_two_files_with_one_id_are_an_error_naming_both(tmp_path: Path) -> None:
    (tmp_path / "aspirin.md").write_text("## Use\n\nPain.\n", encoding="utf-8")
    (tmp_path / "aspirin.txt").write_text("Aspirin\n\nUse\n\nPain.\n", encoding="utf-8")
    with pytest.raises(DuplicateDocumentError) as caught:
        load_corpus(tmp_path)
    assert "aspirin.md" in str(caught.value) and "aspirin.txt" in str(caught.value)
    assert "'aspirin'" in str(caught.value)


def test_nested_files_get_path_ids(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.md").write_text("## Use\n\nPain.\n", encoding="utf-8")
    (tmp_path / "x.md").write_text("## Use\n\nFever.\n", encoding="utf-8")
    assert sorted(load_corpus(tmp_path).by_id()) == ["a/x", "x"]


def test_missing_corpus_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="does not exist"):
        load_corpus(tmp_path / "nope")


def test_fingerprint_changes_with_any_file(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("## A\n\nb\n", encoding="utf-8")
    before = load_corpus(tmp_path).fingerprint
    (tmp_path / "broken.md").write_bytes(b"\xff")
    assert load_corpus(tmp_path).fingerprint != before
