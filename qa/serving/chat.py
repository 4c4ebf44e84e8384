"""Chat turns for the widget: an extractive answer with numbered citations.

No text is generated. The answer is made of sentences quoted from the top passages (list
markers and bold markup dropped, whitespace collapsed), the ones closest in meaning to the
question, each followed by the number of the passage it comes from.

Follow-ups: when the last user message names no drug (and no drug the corpus lacks), the
drugs named in the most recent earlier user message are carried over into the search, and
the reply says so. When nothing in the corpus is close (``match == "none"``), the reply says
plainly that the documents do not cover the question, and cites nothing.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from qa.errors import InvalidQueryError
from qa.indexing.chunking import Chunk
from qa.indexing.sentences import sentences_of
from qa.retrieval.query import Hit
from qa.retrieval.recognition import Mention
from qa.retrieval.signal import unknown_drugs
from qa.serving.service import MAX_QUESTION_CHARS, QAService

DISCLAIMER = (
    "Reference information quoted from drug documents, not medical advice: "
    "ask your doctor or pharmacist about your own situation."
)
NOT_COVERED = "The reference documents do not cover this question, so there is nothing to quote."
WEAK_NOTE = "These passages are related to your question but may not answer it; check the sources."
MAX_MESSAGES = 40
MAX_ANSWER_SENTENCES = 3
MAX_ANSWER_CHARS = 700
PASSAGES_FOR_ANSWER = 3


@dataclass(frozen=True)
class Message:
    role: str  # "user" or "assistant"
    content: str


@dataclass(frozen=True)
class Sentence:
    text: str
    citation: int  # 1-based number of the citation it is quoted from


@dataclass(frozen=True)
class Citation:
    number: int
    chunk: Chunk
    kind: str  # "passage" or "faq"

    @property
    def link(self) -> str:
        return f"/documents/{self.chunk.doc_id}/view?passage={self.chunk.id}#cited"


@dataclass
class ChatReply:
    question: str
    answer: str
    sentences: list[Sentence]
    citations: list[Citation]
    match: str
    note: str | None
    disclaimer: str
    carried_over: list[str] = field(default_factory=list)  # drug names taken from earlier turns
    carried_from: int | None = None  # index of the message they came from
    search_text: str = ""
    mentions: tuple[Mention, ...] = ()
    took_ms: float = 0.0


def validate_messages(messages: Sequence[Message]) -> str:
    if not messages:
        raise InvalidQueryError("messages is empty; send at least one {role: 'user', content: ...}")
    if len(messages) > MAX_MESSAGES:
        raise InvalidQueryError(f"{len(messages)} messages; send at most the last {MAX_MESSAGES}")
    for i, message in enumerate(messages):
        if message.role not in {"user", "assistant"}:
            raise InvalidQueryError(f"messages[{i}].role must be 'user' or 'assistant', got {message.role!r}")
        if not message.content.strip():
            raise InvalidQueryError(f"messages[{i}].content is empty")
        if len(message.content) > MAX_QUESTION_CHARS:
            raise InvalidQueryError(
                f"messages[{i}].content is {len(message.content)} characters; the limit is {MAX_QUESTION_CHARS}"
            )
    if messages[-1].role != "user":
        raise InvalidQueryError("the last message must be the user's question (role 'user')")
    return messages[-1].content.strip()


def up_to_question(messages: Sequence[Message]) -> Sequence[Message]:
    """The conversation up to its last user message, the question; assistant messages after
    it (a client that sent its history with the last reply) are left out."""
    for i in range(len(messages) - 1, -1, -1):
        if messages[i].role == "user":
            return messages[: i + 1]
    if messages:
        raise InvalidQueryError("messages has no user message; the question is the last message with role 'user'")
    return messages


def carry_over(service: QAService, messages: Sequence[Message]) -> tuple[list[str], int | None]:
    """Drugs of the most recent earlier user message that named one, when the last names none."""
    question = messages[-1].content
    recognise = service.searcher.recogniser.recognise
    if recognise(question) or unknown_drugs(question, service.searcher.known_word):
        return [], None
    for i in range(len(messages) - 2, -1, -1):
        if messages[i].role != "user":
            continue
        names = list(dict.fromkeys(m.name for m in recognise(messages[i].content)))
        if names:
            return names, i
    return [], None


def _sentence_vectors(service: QAService, hits: Sequence[Hit], sentences: list[list[str]]) -> list[np.ndarray | None]:
    """Each passage's sentence vectors: stored by the sentence view at index time, or, for a place
    the view does not hold (an FAQ answer), embedded on first use and kept by the service.
    None where they still have to be embedded."""
    view, row_of, cache = service.index.sentence, service.searcher.row_of, service.sentence_cache
    out: list[np.ndarray | None] = []
    for hit, texts in zip(hits, sentences, strict=True):
        row = row_of.get(hit.chunk.id) if hit.kind == "passage" else None
        rows = view.rows(row) if row is not None else None
        if rows is not None and rows.stop - rows.start == len(texts):
            out.append(view.vectors[rows].astype(np.float32))
        else:
            out.append(cache.get(hit.chunk.id))
    return out


def _pick_sentences(
    service: QAService, question: str, hits: Sequence[Hit], vector: np.ndarray | None = None
) -> list[tuple[int, int, str]]:
    """(passage index, position, sentence) of the sentences closest to the question, in reading order.

    Passage sentences are compared through the vectors the sentence view stored at index time;
    only the question (unless its vector is given) and sentences the view lacks are embedded."""
    sentences = [sentences_of(hit.chunk.text) for hit in hits]
    if not any(sentences):
        return []
    stored = _sentence_vectors(service, hits, sentences)
    missing = [s for texts, vectors in zip(sentences, stored, strict=True) if vectors is None for s in texts]
    texts = ([question] if vector is None else []) + missing
    fresh = service.embedder.embed(texts) if texts else np.zeros((0, 0), dtype=np.float32)
    if vector is None:
        vector, fresh = fresh[0], fresh[1:]
    blocks, used = [], 0
    for hit, texts, vectors in zip(hits, sentences, stored, strict=True):
        if vectors is None:
            vectors, used = fresh[used : used + len(texts)], used + len(texts)
            service.sentence_cache.put(hit.chunk.id, vectors)
        blocks.append(vectors)
    similarity = np.concatenate(blocks) @ vector
    candidates = [(p, i, s) for p, texts in enumerate(sentences) for i, s in enumerate(texts)]
    chosen: list[tuple[int, int, str]] = []
    length = 0
    for j in np.argsort(-similarity, kind="stable"):
        p, i, sentence = candidates[int(j)]
        if chosen and (len(chosen) == MAX_ANSWER_SENTENCES or length + len(sentence) > MAX_ANSWER_CHARS):
            break
        chosen.append((p, i, sentence))
        length += len(sentence)
    return sorted(chosen)


@dataclass(frozen=True)
class Turn:
    """A retrieved but not yet composed chat turn."""

    reply: ChatReply
    hits: tuple[Hit, ...]
    vector: np.ndarray | None = None  # the question's vector, when retrieval embedded exactly the question


def retrieve(service: QAService, messages: Sequence[Message], k: int = 5) -> Turn:
    """Validate, carry context over, search. Cheap; composing the answer is the second step."""
    started = time.perf_counter()
    messages = up_to_question(messages)
    question = validate_messages(messages)
    carried, carried_from = carry_over(service, messages)
    search_text = " ".join([question, *carried])
    result = service.ask(search_text, k)
    reply = ChatReply(
        question=question,
        answer=NOT_COVERED,
        sentences=[],
        citations=[],
        match=result.match,
        note=None,
        disclaimer=DISCLAIMER,
        carried_over=carried,
        carried_from=carried_from,
        search_text=search_text,
        mentions=result.mentions,
        took_ms=(time.perf_counter() - started) * 1000,
    )
    return Turn(reply, tuple(result.hits) if result.match != "none" else (), result.vector)


def compose(service: QAService, turn: Turn) -> ChatReply:
    """Quote the sentences that best answer the question and number their passages."""
    started = time.perf_counter()
    reply = turn.reply
    if turn.hits:
        hits = turn.hits[:PASSAGES_FOR_ANSWER]
        numbers: dict[int, int] = {}
        # The drug is settled by retrieval; the question alone best picks sentences within its passages.
        vector = turn.vector if reply.search_text == reply.question else None
        for passage, _, sentence in _pick_sentences(service, reply.question, hits, vector):
            number = numbers.setdefault(passage, len(numbers) + 1)
            reply.sentences.append(Sentence(sentence, number))
        reply.citations = [Citation(n, hits[p].chunk, hits[p].kind) for p, n in numbers.items()]
        reply.answer = " ".join(f"{s.text} [{s.citation}]" for s in reply.sentences) or NOT_COVERED
        reply.note = WEAK_NOTE if reply.match == "weak" and reply.sentences else None
    reply.took_ms += (time.perf_counter() - started) * 1000
    return reply


def chat(service: QAService, messages: Sequence[Message], k: int = 5) -> ChatReply:
    return compose(service, retrieve(service, messages, k))
