"""Which encoder built an index, and whether the query encoder gives the same vectors.

A build embeds a few fixed probe texts and stores their vectors in the manifest beside the
encoder's name. At load, the query encoder embeds the same texts: if any cosine with the
recorded vector falls below ``TOLERANCE``, the two encoders are not interchangeable and the
index is refused, as a model mismatch is. torch and the fp32 ONNX export agree to 1.0000;
dynamic int8 quantisation does not (about 0.96 on these probes), so an index built with one
of them cannot be queried with ``onnx-int8``, nor the reverse.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from qa.errors import IndexMismatchError
from qa.indexing.embedding import Embedder

TOLERANCE = 0.999  # minimum cosine between recorded and recomputed probe vectors
PROBE_TEXTS = (
    "What is the usual dose of metoprolol succinate for high blood pressure?",
    "can i take ibuprofen with lisinopril",
    "Pomalidomide › Side effects: Tell your doctor if you have a fever, chills or a sore throat.",
    "Storage",
    "Glaucoma is a group of diseases that can damage the eye's optic nerve and result in vision loss and "
    "blindness. It occurs when the normal fluid pressure inside the eyes slowly rises.",
)


def probe_record(embedder: Embedder) -> dict[str, Any]:
    """What the manifest keeps: the encoder's name and its probe vectors (6 decimals)."""
    vectors = embedder.embed(list(PROBE_TEXTS))
    return {"encoder": embedder.encoder, "probe": np.round(vectors, 6).tolist()}


def probe_agreement(recorded: list[list[float]], vectors: np.ndarray) -> float:
    """The lowest cosine between recorded and recomputed probe vectors."""
    stored = np.asarray(recorded, dtype=np.float32)
    if stored.shape != vectors.shape:
        return -1.0
    stored /= np.maximum(np.linalg.norm(stored, axis=1, keepdims=True), 1e-12)
    return float(np.min(np.sum(stored * vectors, axis=1)))


# Encoders known to give the same vectors; used only for indexes that carry no probe.
FAMILIES = {"torch": "fp32", "onnx": "fp32", "onnx-int8": "int8"}


def check_encoder(model: dict[str, Any], embedder: Embedder, index_path: Path) -> None:
    """Refuse a query encoder whose vectors differ from the build encoder's beyond ``TOLERANCE``.
    An index written before encoders were recorded was built by torch: it is refused only to an
    encoder of another known family (int8)."""
    built = model.get("encoder", "torch")
    recorded = model.get("probe")
    if recorded:
        agreement = probe_agreement(recorded, embedder.embed(list(PROBE_TEXTS)))
        detail = f"gives different vectors (probe cosine {agreement:.4f} < {TOLERANCE})"
        refused = agreement < TOLERANCE
    else:
        families = FAMILIES.get(built), FAMILIES.get(embedder.encoder)
        detail = "gives different vectors (int8 against fp32)"
        refused = None not in families and families[0] != families[1]
    if refused:
        raise IndexMismatchError(
            f"the index at {index_path} was built with encoder {built!r}; this service's encoder "
            f"{embedder.encoder!r} {detail}. Set QA_ENCODER={built} or rebuild with `qa index --index {index_path}`"
        )


def same_vectors(previous: dict[str, Any], current: dict[str, Any]) -> bool:
    """Whether vectors built under ``previous``'s model record can be reused under ``current``'s."""
    if not previous.get("probe") or not current.get("probe"):
        return previous.get("encoder", "torch") == current.get("encoder", "torch")
    return probe_agreement(previous["probe"], np.asarray(current["probe"], dtype=np.float32)) >= TOLERANCE
