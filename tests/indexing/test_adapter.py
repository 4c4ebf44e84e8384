"""The domain adapter: file checks (size, sha256 against its card, header), the merge
``W + scale · B A``, and refusals (tampered file, other base model, unknown layer, an index built
with another adapter)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from qa.errors import IndexMismatchError, ModelError
from qa.indexing.adapter import (
    BUNDLED_ADAPTER,
    MAX_BYTES,
    card_path,
    file_sha256,
    merge_adapter,
    read_adapter,
    resolve_adapter,
    write_adapter,
)
from qa.indexing.storage import load_index
from qa.settings import Settings

BASE = "sentence-transformers/all-MiniLM-L6-v2"


class Tiny(torch.nn.Module):
    """Two linear layers named like a BERT encoder's."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = torch.nn.Module()
        self.encoder.query = torch.nn.Linear(6, 4)
        self.encoder.value = torch.nn.Linear(6, 4)


def low_rank(rng: np.random.Generator, rank: int = 2) -> tuple[np.ndarray, np.ndarray]:
    return rng.normal(size=(rank, 6)).astype(np.float16), rng.normal(size=(4, rank)).astype(np.float16)


@pytest.fixture
def adapter_file(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    path = tmp_path / "a.safetensors"
    write_adapter(path, {"encoder.query": low_rank(rng)}, base_model=BASE, scale=0.5, card={"note": "test"})
    return path


def test_merge_adds_scale_times_b_a(adapter_file: Path) -> None:
    model = Tiny()
    before_q = model.encoder.query.weight.detach().clone()
    before_v = model.encoder.value.weight.detach().clone()
    adapter = read_adapter(adapter_file, required_card=True)
    assert merge_adapter(model, adapter, BASE) == 1
    from safetensors.numpy import load_file

    tensors = load_file(str(adapter_file))
    delta = (
        0.5 * tensors["encoder.query.lora_B"].astype(np.float32) @ tensors["encoder.query.lora_A"].astype(np.float32)
    )
    assert np.allclose(model.encoder.query.weight.detach().numpy(), before_q.numpy() + delta, atol=1e-6)
    assert torch.equal(model.encoder.value.weight, before_v)  # layers the adapter does not name are untouched


def test_the_card_records_hash_and_size_and_the_tag_enters_the_model_id(adapter_file: Path) -> None:
    card = json.loads(card_path(adapter_file).read_text())
    assert card["sha256"] == file_sha256(adapter_file) and card["bytes"] == adapter_file.stat().st_size
    assert card["note"] == "test"
    adapter = resolve_adapter(str(adapter_file))
    assert adapter is not None and adapter.tag == f"+adapter:{card['sha256'][:16]}"
    assert resolve_adapter("none") is None and resolve_adapter("NONE") is None


def test_a_tampered_adapter_is_refused_with_what_to_do(adapter_file: Path) -> None:
    data = bytearray(adapter_file.read_bytes())
    data[-1] ^= 0x01  # one bit of one weight
    adapter_file.write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r"changed or damaged.*git checkout"):
        read_adapter(adapter_file, required_card=True)


def test_a_bundled_adapter_needs_its_card(adapter_file: Path) -> None:
    card_path(adapter_file).unlink()
    with pytest.raises(ModelError, match="no card"):
        read_adapter(adapter_file, required_card=True)
    assert read_adapter(adapter_file, required_card=False).scale == 0.5  # a path of one's own may lack one


def test_an_adapter_for_another_model_or_layer_is_refused(tmp_path: Path, adapter_file: Path) -> None:
    with pytest.raises(ModelError, match="trained on"):
        merge_adapter(Tiny(), read_adapter(adapter_file, required_card=True), "other/model")
    wrong = tmp_path / "wrong.safetensors"
    write_adapter(wrong, {"encoder.key": low_rank(np.random.default_rng(1))}, base_model=BASE, scale=1.0)
    with pytest.raises(ModelError, match=r"encoder\.key"):
        merge_adapter(Tiny(), read_adapter(wrong, required_card=True), BASE)


def test_not_an_adapter_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a safetensors file")
    with pytest.raises(ModelError, match="not a readable safetensors"):
        read_adapter(junk, required_card=False)
    with pytest.raises(ModelError, match="not an adapter file"):
        resolve_adapter(str(tmp_path / "missing.safetensors"))
    big = tmp_path / "big.safetensors"
    big.write_bytes(b"\0" * (MAX_BYTES + 1))
    with pytest.raises(ModelError, match="at most"):
        read_adapter(big, required_card=False)


def test_the_setting_names_what_it_accepts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_MODEL_ADAPTER", str(tmp_path / "nope.safetensors"))
    with pytest.raises(ValueError, match="'none', 'bundled' or the path"):
        Settings()
    monkeypatch.setenv("QA_MODEL_ADAPTER", " Bundled ")
    assert Settings().model_adapter == "bundled"


def test_the_bundled_adapter_is_small_and_matches_its_recorded_hash() -> None:
    card = json.loads(card_path(BUNDLED_ADAPTER).read_text())
    assert BUNDLED_ADAPTER.stat().st_size <= MAX_BYTES
    assert file_sha256(BUNDLED_ADAPTER) == card["sha256"]
    adapter = resolve_adapter("bundled")
    assert adapter is not None and adapter.base_model == BASE


def test_an_index_built_with_another_adapter_is_refused(fake_index_dir: Path) -> None:
    index = load_index(fake_index_dir)
    with pytest.raises(IndexMismatchError, match=r"built with no adapter.*QA_MODEL_ADAPTER"):
        index.check_model(index.model_id + "+adapter:0123456789abcdef")


@pytest.mark.integration
def test_the_bundled_adapter_changes_the_real_model_and_its_indexes(real_embedder, real_index_dir: Path) -> None:
    from qa.indexing.embedding import SentenceTransformerEmbedder
    from qa.retrieval.searcher import Searcher

    # The default encoder (real_embedder, ONNX) carries the bundled adapter; torch merges it alike.
    adapted = SentenceTransformerEmbedder("all-MiniLM-L6-v2", adapter="bundled")
    base = SentenceTransformerEmbedder("all-MiniLM-L6-v2", adapter="none")
    assert adapted.model_id == real_embedder.model_id == f"{BASE}+adapter:{file_sha256(BUNDLED_ADAPTER)[:16]}"
    question = ["how long does pomalidomide stay in your system"]
    base_vector, adapted_vector = base.embed(question)[0], adapted.embed(question)[0]
    assert 0.5 < float(base_vector @ adapted_vector) < 0.9999  # merged: close to the base, not equal
    assert np.isclose(np.linalg.norm(adapted_vector), 1.0, atol=1e-5)
    assert float(real_embedder.embed(question)[0] @ adapted_vector) > 0.9999  # ONNX export of the same merge
    with pytest.raises(IndexMismatchError, match="built with adapter"):
        Searcher(load_index(real_index_dir), base)


def test_the_bundled_adapter_has_its_own_match_calibration() -> None:
    from qa.indexing.calibration import default_calibration

    adapter = resolve_adapter("bundled")
    assert adapter is not None
    model_id = BASE + adapter.tag
    calibration = default_calibration(model_id)
    assert calibration is not None and calibration.model_id == model_id
    assert 0 < calibration.none_below < calibration.strong_from < 1
    # Set from runs with the adapter on the corpus it was not trained on, never from negatives.
    assert all(s["none"] <= 0.02 for s in calibration.calibrated_on["sets"].values())
    assert default_calibration(BASE) != calibration


def test_the_same_tensors_give_the_same_file(tmp_path: Path) -> None:
    # safetensors orders its header's keys as a hash map does, differently from run to run.
    layers = {"encoder.layer.0.attention.self.query": (np.ones((2, 4)), np.ones((4, 2)))}
    hashes = set()
    for i in range(4):
        path = tmp_path / f"a{i}.safetensors"
        write_adapter(path, layers, base_model=BASE, scale=2.0)
        hashes.add(file_sha256(path))
    assert len(hashes) == 1
    adapter = read_adapter(path, required_card=True)
    assert adapter.scale == 2.0 and adapter.base_model == BASE
