"""Match-signal thresholds as an index artifact: ``calibration.json`` in the index directory,
tied to the model the index was built with, and the defaults packaged per model
(``qa/indexing/calibrations/<model>.json``).

The record lives here because the index writes and loads it; ``qa.retrieval.signal`` turns
it into ``strong`` / ``weak`` / ``none`` and computes new thresholds from evaluation runs.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

CALIBRATION_FILE = "calibration.json"
# ``strong_from`` when no threshold is precise enough: above any confidence (a cosine, plus two
# view margins of at most 2 each), so nothing is ever strong.
NEVER_STRONG = 5.01
PACKAGED = Path(__file__).parent / "calibrations"


@dataclass(frozen=True)
class Calibration:
    model_id: str
    none_below: float
    strong_from: float
    feature: str = "best cosine similarity between the question and a returned passage or FAQ question"
    calibrated_on: dict[str, Any] = field(default_factory=dict)

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Calibration:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        calibration = cls(**data)
        if not (-1.0 <= calibration.none_below <= calibration.strong_from <= NEVER_STRONG):
            raise ValueError(f"thresholds out of order: {calibration.none_below}, {calibration.strong_from}")
        return calibration


def _slug(model_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", model_id.rsplit("/", 1)[-1])


def default_calibration(model_id: str) -> Calibration | None:
    """The calibration shipped with the package for this model, if there is one."""
    path = PACKAGED / f"{_slug(model_id)}.json"
    if not path.is_file():
        return None
    calibration = Calibration.load(path)
    return calibration if calibration.model_id == model_id else None
