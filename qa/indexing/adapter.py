"""A small domain adapter over the embedding model: low-rank weight updates, verified by sha256
and merged once into the model's weights in memory. No adapter library is needed at run time.

The file is safetensors: for each adapted linear layer of the transformer, ``<module>.lora_A``
(rank × in) and ``<module>.lora_B`` (out × rank); its header metadata says ``format``
(``qa-lora/1``), ``base_model`` (the model id it was trained on) and ``scale``. Merging sets
``W ← W + scale · B A`` for each layer. ``eval/train_adapter.py`` writes such files, by default from
a full-rank fine-tune whose updates are truncated by SVD (or from a LoRA trained with peft);
``scale`` carries the interpolation towards the base (WiSE-FT style: 1 keeps the whole update,
0.5 half of it; the bundled adapter is 0.5).

``QA_MODEL_ADAPTER`` selects: ``none``, ``bundled`` (the adapter in ``qa/indexing/adapters/``,
refused unless its sha256 is the one recorded beside it), or a path to an adapter file (checked
against a ``<name>.json`` card beside it when there is one). The adapter's sha256 becomes part of
the model id that indexes and calibrations are tied to, so an index built with another adapter,
or none, is refused like one built with another model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa.errors import ModelError
from qa.indexing.manifest import sha256_file as file_sha256

FORMAT = "qa-lora/1"
ADAPTERS = Path(__file__).parent / "adapters"
BUNDLED_ADAPTER = ADAPTERS / "medquad.safetensors"
NO_ADAPTER = "none"
BUNDLED = "bundled"
MAX_BYTES = 5 * 1024 * 1024  # what may be committed


def card_path(path: Path) -> Path:
    return path.with_suffix(".json")


@dataclass(frozen=True)
class AdapterRef:
    """An adapter file whose bytes have been checked; its tensors are read when merged."""

    path: Path
    sha256: str
    base_model: str
    scale: float

    @property
    def tag(self) -> str:
        """What is appended to the base model's id: ``+adapter:<first 16 hex digits of the sha256>``."""
        return f"+adapter:{self.sha256[:16]}"


def resolve_adapter(setting: str) -> AdapterRef | None:
    """The adapter the ``QA_MODEL_ADAPTER`` setting names (None for ``none``), verified."""
    value = setting.strip()
    if value.lower() in ("", NO_ADAPTER):
        return None
    if value.lower() == BUNDLED:
        if not BUNDLED_ADAPTER.is_file():
            raise ModelError(
                f"the bundled adapter {BUNDLED_ADAPTER} is missing; reinstall the package or set QA_MODEL_ADAPTER=none"
            )
        return read_adapter(BUNDLED_ADAPTER, required_card=True)
    path = Path(value).expanduser()
    if not path.is_file():
        raise ModelError(
            f"QA_MODEL_ADAPTER={setting!r} is not an adapter file; use 'bundled', 'none' or the path of a "
            ".safetensors file written by eval/train_adapter.py"
        )
    return read_adapter(path, required_card=False)


def read_adapter(path: Path, *, required_card: bool) -> AdapterRef:
    """Check an adapter file's size, sha256 (against its card) and header; read nothing else."""
    path = Path(path)
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise ModelError(f"adapter {path} is {size:,} bytes; an adapter is at most {MAX_BYTES:,} bytes")
    sha256 = file_sha256(path)
    card = card_path(path)
    if card.is_file():
        try:
            expected = json.loads(card.read_text(encoding="utf-8"))["sha256"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelError(f"adapter card {card} is unreadable ({exc}); restore it from git") from None
        if sha256 != expected:
            raise ModelError(
                f"adapter {path} has sha256 {sha256}, not {expected} as recorded in {card.name}: the file was "
                "changed or damaged; restore it (git checkout) or retrain it with eval/train_adapter.py"
            )
    elif required_card:
        raise ModelError(f"adapter {path} has no card {card.name} recording its sha256; restore it from git")
    meta = _header(path)
    if meta.get("format") != FORMAT:
        raise ModelError(f"{path} is not a {FORMAT} adapter (format {meta.get('format')!r})")
    try:
        scale = float(meta["scale"])
    except (KeyError, ValueError):
        raise ModelError(f"adapter {path} has no numeric 'scale' in its header") from None
    return AdapterRef(path, sha256, str(meta.get("base_model", "")), scale)


def canonical_header(path: Path) -> None:
    """Rewrite a safetensors file's JSON header with its keys sorted. safetensors writes them in
    hash-map order, which changes from run to run, so the same tensors gave files with different
    sha256; sorted, the same training gives the same file. The tensor data is left as it is."""
    import struct

    raw = Path(path).read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + length])
    text = json.dumps(dict(sorted(header.items())), sort_keys=True, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)  # the format pads the header to 8 bytes with spaces
    import os
    import tempfile

    target = Path(path)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(struct.pack("<Q", len(text)) + text + raw[8 + length :])
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, target.stat().st_mode & 0o777)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _header(path: Path) -> dict[str, str]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy") as handle:
            return dict(handle.metadata() or {})
    except Exception as exc:  # safetensors raises several kinds for a bad file
        raise ModelError(f"adapter {path} is not a readable safetensors file ({exc})") from None


def merge_adapter(transformer: Any, adapter: AdapterRef, base_model: str) -> int:
    """Add the adapter's low-rank updates to ``transformer``'s weights (in place); returns the
    number of layers changed. Refuses an adapter trained for another model or with layers or
    shapes this model does not have."""
    import torch
    from safetensors.torch import load_file

    if adapter.base_model != base_model:
        raise ModelError(
            f"adapter {adapter.path} was trained on {adapter.base_model!r}, not the configured model "
            f"{base_model!r}; set QA_MODEL_ADAPTER=none or use an adapter for this model"
        )
    tensors = load_file(str(adapter.path))
    layers = sorted({name.rsplit(".", 1)[0] for name in tensors})
    for layer in layers:
        down, up = tensors.get(f"{layer}.lora_A"), tensors.get(f"{layer}.lora_B")
        try:
            module = transformer.get_submodule(layer)
        except AttributeError:
            module = None
        if down is None or up is None or module is None or not hasattr(module, "weight"):
            raise ModelError(f"adapter {adapter.path} names layer {layer!r}, which the model does not have")
        weight = module.weight
        if up.shape[1] != down.shape[0] or (up.shape[0], down.shape[1]) != tuple(weight.shape):
            raise ModelError(
                f"adapter {adapter.path}: layer {layer!r} has shapes {tuple(up.shape)} × {tuple(down.shape)}, "
                f"not {tuple(weight.shape)}"
            )
        with torch.no_grad():
            weight += adapter.scale * (up.to(torch.float32) @ down.to(torch.float32)).to(weight.dtype)
    return len(layers)


def write_adapter(
    path: Path, layers: dict[str, tuple[Any, Any]], *, base_model: str, scale: float, card: dict[str, Any] | None = None
) -> str:
    """Write ``layers`` ({module: (lora_A, lora_B)} as numpy arrays) as an adapter file and its
    card (sha256, size and whatever ``card`` adds); returns the sha256."""
    import numpy as np
    from safetensors.numpy import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, np.ndarray] = {}
    for name, (down, up) in sorted(layers.items()):
        tensors[f"{name}.lora_A"] = np.ascontiguousarray(down, dtype=np.float16)
        tensors[f"{name}.lora_B"] = np.ascontiguousarray(up, dtype=np.float16)
    save_file(tensors, str(path), metadata={"format": FORMAT, "base_model": base_model, "scale": repr(float(scale))})
    canonical_header(path)
    sha256 = file_sha256(path)
    record = {"file": path.name, "sha256": sha256, "bytes": path.stat().st_size, **(card or {})}
    card_path(path).write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return sha256
