"""The real all-MiniLM-L6-v2 model and a real FAISS index over the seed corpus."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from qa.api import create_app
from qa.errors import ModelError
from qa.indexing.chunking import chunk_embedding_text
from qa.indexing.embedding import BUNDLED_MODEL_ID, resolve_model, verify_bundled_weights
from qa.serving.service import QAService
from qa.settings import Settings
from tests.conftest import ROOT, SEED_CORPUS

pytestmark = pytest.mark.integration


def top(service: QAService, question: str, k: int = 3):
    return service.ask(question, k).hits


def test_the_suite_runs_offline() -> None:
    with pytest.raises(OSError, match="tests run offline"):
        socket.create_connection(("93.184.216.34", 443), timeout=1)


def test_bundled_weights_are_the_official_model(real_embedder) -> None:
    resolved = resolve_model("all-MiniLM-L6-v2")
    assert resolved.model_id == BUNDLED_MODEL_ID
    verify_bundled_weights(resolved.location)  # raises on a sha256 mismatch
    assert real_embedder.dimension == 384
    assert real_embedder.max_tokens == 254  # 256-token window minus [CLS] and [SEP]


def test_tampered_weights_are_refused(tmp_path: Path) -> None:
    (tmp_path / "model.safetensors").write_bytes(b"not the model")
    with pytest.raises(ModelError, match="not the official all-MiniLM-L6-v2"):
        verify_bundled_weights(str(tmp_path))


def test_unknown_model_name_fails_without_downloading(tmp_path: Path) -> None:
    from qa.indexing.embedding import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder("some-org/not-a-cached-model")
    with pytest.raises(ModelError, match="never downloads"):
        embedder.embed(["x"])


def test_no_chunk_is_truncated_by_the_real_model(real_service: QAService) -> None:
    from qa.indexing.embedding import SentenceTransformerEmbedder

    model = SentenceTransformerEmbedder().load()  # torch's tokenizer checks the chunks the default encoder cut
    for chunk in real_service.index.chunks:
        ids = model.tokenizer(chunk_embedding_text(chunk), truncation=False)["input_ids"]
        assert len(ids) <= model.max_seq_length, chunk.id


def test_myeloma_dose_question_finds_the_dosage_section(real_service: QAService) -> None:
    hits = top(real_service, "What is the recommended dose of pomalidomide for multiple myeloma?")
    assert any(h.chunk.heading_path[:2] == ("Pomalidomide", "Dosage") for h in hits), [
        h.chunk.heading_path for h in hits
    ]


def test_infection_question_finds_the_infection_article(real_service: QAService) -> None:
    hits = top(real_service, "Should I stop pomalidomide if I get an infection?")
    assert any(h.chunk.doc_id == "pomalidomide-infection-article" for h in hits)


def test_passage_scores_are_in_rank_order_and_the_confidence_is_the_best_view_score(real_service: QAService) -> None:
    answer = real_service.ask("pomalidomide side effects", 10)
    hits = [h for h in answer.hits if h.kind == "passage"]
    scores = [h.score for h in hits]
    assert len(hits) >= 5 and scores == sorted(scores, reverse=True)
    assert all(h.similarity is not None and -1.0 <= h.similarity <= 1.0 for h in hits)
    # multiview ranks by its score: the cosine plus the heading line's margin, never below the cosine.
    searcher = real_service.searcher
    query = searcher.prepare("pomalidomide side effects", add_names="none")
    rows = np.array([searcher.row_of[h.chunk.id] for h in hits])
    assert scores == pytest.approx(searcher.view_scores(query, rows, ("heading",)).tolist(), abs=1e-5)
    assert all(h.score >= h.similarity - 1e-5 for h in hits)
    # The confidence is that score for the best of the top three, and never below their cosines.
    rows = np.array([searcher.row_of[h.chunk.id] for h in answer.hits[:3] if h.kind == "passage"])
    views = searcher.view_scores(query, rows, ("heading",))
    assert answer.confidence == pytest.approx(float(views.max()), abs=1e-5)
    assert answer.confidence >= max(h.similarity for h in answer.hits[:3] if h.similarity is not None) - 1e-5


def test_http_query_with_the_real_model(real_index_dir: Path, real_embedder) -> None:
    settings = Settings(corpus_dir=SEED_CORPUS, index_dir=real_index_dir)
    app = create_app(settings, embedder=real_embedder, load_on_startup=False)
    app.state.holder.service = QAService.open(settings, real_embedder)
    with TestClient(app) as client:
        body = client.post("/query", json={"question": "Can pomalidomide be taken while pregnant?", "k": 3}).json()
    assert body["index"]["model"] == real_embedder.model_id  # the bundled model with its bundled adapter
    assert body["index"]["model"].startswith(BUNDLED_MODEL_ID + "+adapter:")
    best = body["results"][0]
    assert "pregnan" in (" ".join(best["heading_path"]) + best["text"]).lower()
    for result in body["results"]:
        source = (SEED_CORPUS / result["source"]["path"]).read_text(encoding="utf-8")
        span = source[result["source"]["start"] : result["source"]["end"]]
        if result["type"] == "passage":
            assert span == result["text"]
        else:  # an FAQ answer: the span holds the question and the answer as written
            assert " ".join(result["text"].split()[:6]) in " ".join(span.split())


def test_imnovid_question_ranks_the_infection_article_first(real_service: QAService) -> None:
    answer = real_service.ask("Should I stop Imnovid during an infection?", 5)
    assert answer.hits[0].chunk.doc_id == "pomalidomide-infection-article"
    assert "Pomalidomide" in [m.name for m in answer.mentions]
    assert answer.match == "strong"


UNANSWERABLE = [json.loads(line) for line in (ROOT / "eval" / "unanswerable.jsonl").read_text().splitlines()]
ABSENT_OR_OFF_TOPIC = [row for row in UNANSWERABLE if row["category"] in {"absent-drug", "off-topic"}]


@pytest.mark.parametrize("row", ABSENT_OR_OFF_TOPIC, ids=[row["id"] for row in ABSENT_OR_OFF_TOPIC])
def test_questions_about_absent_drugs_or_nothing_medical_come_back_none(real_service: QAService, row: dict) -> None:
    assert real_service.ask(row["question"], 5).match == "none"


@pytest.mark.parametrize(
    "question",
    ["what if i miss a dose of pomalidomid", "my husband takes imnovid, can I get pregnant"],
)
def test_a_covered_drug_on_an_uncovered_topic_is_recognised_and_not_called_absent(
    real_service: QAService, question: str
) -> None:
    """The drug is the corpus's: it is recognised and never reported as an absent drug. Whether the
    topic is covered is what the signal cannot reliably tell (the eval reports measure that row,
    covered drug, uncovered topic): the level may be anything, the reason is never "absent"."""
    answer = real_service.ask(question, 5)
    assert "Pomalidomide" in [m.name for m in answer.mentions]
    assert answer.unknown_drugs == ()


def test_misspelled_drug_and_faq_paraphrase(real_service: QAService) -> None:
    answer = real_service.ask("what dose of pomalidomid is recomended", 3)
    assert [m.name for m in answer.mentions] == ["Pomalidomide"]
    assert answer.hits[0].kind == "faq"
    assert answer.hits[0].chunk.heading_path[-1] == "What is the recommended dosage for Pomalidomide?"


def test_chat_follow_up_retrieves_the_carried_over_drugs_pregnancy_section(real_service: QAService) -> None:
    from qa.serving.chat import Message, chat

    reply = chat(
        real_service,
        [
            Message("user", "What is the dose of pomalidomide?"),
            Message("assistant", "For multiple myeloma, the recommended dosage is 4 mg orally once daily. [1]"),
            Message("user", "What about during pregnancy?"),
        ],
    )
    assert reply.carried_over == ["Pomalidomide"] and reply.carried_from == 0
    assert reply.match == "strong"
    cited = [(c.chunk.doc_id, c.chunk.heading_path[-1]) for c in reply.citations]
    assert ("pomalidomide-monograph", "Pregnancy and Breastfeeding") in cited
    assert "pregnan" in reply.answer.lower()


@pytest.mark.parametrize(
    "question", ["What's the weather in Paris tomorrow?", "What dose of Ozempic is used for weight loss?"]
)
def test_chat_says_plainly_when_the_documents_do_not_cover_it(real_service: QAService, question: str) -> None:
    from qa.serving.chat import NOT_COVERED, Message, chat

    reply = chat(real_service, [Message("user", question)])
    assert reply.match == "none"
    assert reply.answer == NOT_COVERED and reply.citations == []
