"""Export the (verified, adapter-merged) transformer to ONNX once, offline, into a cache.

The export is derived locally from the bundled safetensors: torch traces the transformer
(``last_hidden_state`` out; pooling and normalisation stay in ``qa.indexing.onnx_encoder``),
and ``onnx-int8`` is onnxruntime's dynamic int8 quantisation of that graph. Each export lives
in ``<cache>/onnx/<key>/`` beside ``export.json``, which records its sha256 and what it was
made from; the key hashes the model id (adapter included), the weights' sha256, the
quantisation and the exporter version, so a changed input never reuses a stale file.
Writers take a file lock and rename into place, so concurrent workers export once.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from qa.errors import ModelError
from qa.indexing.manifest import sha256_file

EXPORT_VERSION = 1  # bump when the exported graph changes
OPSET = 17
ONNX_FILE = "model.onnx"
RECORD_FILE = "export.json"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def weights_sha256(model_dir: str) -> str:
    """sha256 of the model's weights file (safetensors preferred)."""
    for name in ("model.safetensors", "pytorch_model.bin"):
        path = Path(model_dir) / name
        if path.is_file():
            return sha256_file(path)
    raise ModelError(f"{model_dir} holds no model.safetensors or pytorch_model.bin; QA_ENCODER=onnx needs one")


def export_key(model_id: str, weights_sha: str, quantize: bool) -> str:
    text = json.dumps([model_id, weights_sha, quantize, EXPORT_VERSION, OPSET])
    return hashlib.sha256(text.encode()).hexdigest()[:20]


@contextmanager
def _locked(directory: Path):  # type: ignore[no-untyped-def]
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / ".lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_record(directory: Path) -> dict[str, Any] | None:
    try:
        return json.loads((directory / RECORD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def verified_export(directory: Path) -> Path:
    """The export's path once its sha256 matches its record; a clear error otherwise."""
    record = read_record(directory)
    path = directory / ONNX_FILE
    if record is None or not path.is_file():
        raise ModelError(f"the ONNX export in {directory} is incomplete; delete that directory to export again")
    actual = sha256_file(path)
    if actual != record["sha256"]:
        raise ModelError(
            f"{path} has sha256 {actual}, but {directory / RECORD_FILE} records {record['sha256']}: the file was "
            f"changed after export. Delete {directory} to export it again from the bundled weights"
        )
    return path


def ensure_export(torch_model: Any, *, model_id: str, weights_sha: str, quantize: bool, cache_dir: Path) -> Path:
    """The cached export for this model, made first if missing. ``torch_model`` is a zero-argument
    callable returning the loaded sentence-transformers model (called only when exporting)."""
    directory = Path(cache_dir).expanduser() / "onnx" / export_key(model_id, weights_sha, quantize)
    with _locked(directory.parent):
        if read_record(directory) is None:
            _export(torch_model(), directory, quantize=quantize)
            record = {
                "sha256": sha256_file(directory / ONNX_FILE),
                "bytes": (directory / ONNX_FILE).stat().st_size,
                "model_id": model_id,
                "weights_sha256": weights_sha,
                "quantization": "dynamic int8 (onnxruntime)" if quantize else None,
                "opset": OPSET,
                "export_version": EXPORT_VERSION,
            }
            tmp = directory / f".{RECORD_FILE}.{os.getpid()}"
            tmp.write_text(json.dumps(record, indent=2), encoding="utf-8")
            os.replace(tmp, directory / RECORD_FILE)
    return verified_export(directory)


def _export(model: Any, directory: Path, *, quantize: bool) -> None:
    import torch

    class _Transformer(torch.nn.Module):
        def __init__(self, bert: Any) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out.last_hidden_state

    directory.mkdir(parents=True, exist_ok=True)
    sample = model.tokenizer(["an example question"], return_tensors="pt")
    plain = directory / f".fp32.{os.getpid()}.onnx"
    axes = {name: {0: "batch", 1: "tokens"} for name in (*INPUTS, "last_hidden_state")}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Transformer(model[0].auto_model.eval()),
            tuple(sample[name] for name in INPUTS),
            str(plain),
            input_names=list(INPUTS),
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )
    if quantize:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantized = directory / f".int8.{os.getpid()}.onnx"
        quantize_dynamic(str(plain), str(quantized), weight_type=QuantType.QInt8, per_channel=True)
        plain.unlink()
        plain = quantized
    os.replace(plain, directory / ONNX_FILE)
