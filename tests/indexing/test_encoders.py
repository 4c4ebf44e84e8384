"""Encoders: which one built an index is recorded, and a query encoder whose vectors differ is
refused; the ONNX export matches torch, is cached with its sha256 and refused when tampered with."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from qa.errors import IndexMismatchError, ModelError
from qa.indexing.build import build_index
from qa.indexing.probes import PROBE_TEXTS, TOLERANCE, check_encoder, probe_agreement, probe_record
from qa.indexing.storage import load_index
from qa.serving.service import QAService, make_embedder
from qa.settings import Settings
from tests.conftest import FAKE_CHUNKING, SEED_CORPUS
from tests.fakes import FakeEmbedder


class ShiftedFake(FakeEmbedder):
    """The same model id, but vectors nudged by a fixed amount: a lossy encoder of the same model."""

    encoder = "fake-shifted"

    def __init__(self, shift: float) -> None:
        super().__init__()
        self.shift = shift

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        vectors = super().embed(texts)
        vectors[:, 1] += self.shift
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_the_manifest_records_the_encoder_and_its_probe(fake_index_dir: Path) -> None:
    model = load_index(fake_index_dir).manifest["model"]
    assert model["encoder"] == "fake"
    assert probe_agreement(model["probe"], FakeEmbedder().embed(list(PROBE_TEXTS))) > 0.99999


def test_an_encoder_within_tolerance_is_accepted_and_one_beyond_it_refused(fake_index_dir: Path) -> None:
    index = load_index(fake_index_dir)
    QAService(index, ShiftedFake(shift=1e-4))  # agrees to better than TOLERANCE
    with pytest.raises(IndexMismatchError) as refused:
        QAService(index, ShiftedFake(shift=0.3))
    message = str(refused.value)
    assert "built with encoder 'fake'" in message and "'fake-shifted'" in message
    assert "QA_ENCODER=fake" in message and "qa index" in message


def test_an_index_from_before_encoders_were_recorded_counts_as_torch_built(fake_index_dir: Path) -> None:
    model = dict(load_index(fake_index_dir).manifest["model"])
    del model["probe"], model["encoder"]
    check_encoder(model, ShiftedFake(shift=0.3), fake_index_dir)  # an encoder of no known family

    class Int8Fake(FakeEmbedder):
        encoder = "onnx-int8"

    class OnnxFake(FakeEmbedder):
        encoder = "onnx"

    check_encoder(model, OnnxFake(), fake_index_dir)
    with pytest.raises(IndexMismatchError, match=r"built with encoder 'torch'.*QA_ENCODER=torch"):
        check_encoder(model, Int8Fake(), fake_index_dir)


def test_a_rebuild_with_a_different_encoder_reuses_no_vector(fake_index_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "index"
    shutil.copytree(fake_index_dir, target)
    report = build_index(SEED_CORPUS, target, ShiftedFake(shift=0.3), FAKE_CHUNKING)
    assert report.reused_vectors == 0
    assert load_index(target).manifest["model"]["encoder"] == "fake-shifted"


def test_probe_record_rounds_vectors_but_keeps_them_within_tolerance() -> None:
    record = probe_record(FakeEmbedder())
    assert probe_agreement(record["probe"], FakeEmbedder().embed(list(PROBE_TEXTS))) >= TOLERANCE


# ------------------------------------------------------------------ the real model
@pytest.mark.integration
def test_onnx_gives_the_torch_vectors_and_token_counts(onnx_cache: Path) -> None:
    torch_encoder = make_embedder(Settings(encoder="torch"))
    onnx_encoder = make_embedder(Settings(encoder="onnx", cache_dir=onnx_cache))
    texts = [*PROBE_TEXTS, *(p.read_text(encoding="utf-8")[:3000] for p in sorted(SEED_CORPUS.iterdir()))]
    agreement = np.sum(torch_encoder.embed(texts) * onnx_encoder.embed(texts), axis=1)
    assert agreement.min() >= 0.9999
    assert [torch_encoder.count_tokens(t) for t in texts] == [onnx_encoder.count_tokens(t) for t in texts]
    assert (onnx_encoder.model_id, onnx_encoder.max_tokens) == (torch_encoder.model_id, torch_encoder.max_tokens)


@pytest.mark.integration
def test_the_export_is_cached_with_its_sha256_and_refused_when_changed(tmp_path: Path) -> None:
    settings = Settings(encoder="onnx", cache_dir=tmp_path)
    first = make_embedder(settings)
    first.embed(["warm"])
    path = first.export_path
    assert path is not None and path.is_relative_to(tmp_path)
    second = make_embedder(settings)
    second.embed(["warm"])
    assert second.export_path == path  # exported once, then reused
    with path.open("r+b") as handle:
        handle.seek(path.stat().st_size // 2)
        handle.write(b"\x00\x01\x02\x03")
    with pytest.raises(ModelError, match=r"changed after export\. Delete .* to export it again"):
        make_embedder(settings).embed(["tampered"])


@pytest.mark.integration
def test_int8_is_refused_on_the_default_fp32_index_and_torch_accepted(real_index_dir: Path, onnx_cache: Path) -> None:
    assert load_index(real_index_dir).manifest["model"]["encoder"] == "onnx"
    QAService(load_index(real_index_dir), make_embedder(Settings(encoder="torch")))
    int8 = make_embedder(Settings(encoder="onnx-int8", cache_dir=onnx_cache))
    with pytest.raises(IndexMismatchError, match="QA_ENCODER=onnx"):
        QAService(load_index(real_index_dir), int8)


@pytest.mark.integration
def test_int8_vectors_depend_on_their_batch_and_fp32_ones_do_not(onnx_cache: Path) -> None:
    """Why int8 is not the default: dynamic quantisation scales activations per batch."""
    questions = ["what does the 50 mg pill look like", "can i take it with grapefruit"]
    company = ["what is the recommended dose of pomalidomide for multiple myeloma with renal impairment"] * 8
    for encoder, depends in (("onnx", False), ("onnx-int8", True)):
        embedder = make_embedder(Settings(encoder=encoder, cache_dir=onnx_cache))
        alone = np.vstack([embedder.embed([q]) for q in questions])
        batched = embedder.embed(questions + company)[: len(questions)]
        agreement = float(np.min(np.sum(alone * batched, axis=1)))
        assert (agreement < 0.9999) is depends, (encoder, agreement)
