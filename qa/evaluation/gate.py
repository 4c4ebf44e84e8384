"""The CI gate: committed figures that an evaluation run must not fall below.

``eval/baseline.json`` holds section-level Recall@5 and MRR@10 of the held-out FAQ
evaluation on ``corpus/``, per retriever. A run fails the gate when either falls more than
``tolerance`` (0.02) below it. To raise the baseline, update the file in the same commit
as the improvement (``qa eval --write-baseline eval/baseline.json``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qa.errors import ConfigError
from qa.evaluation.runs import EvalRun

GATED = ("recall@5", "mrr@10")
TOLERANCE = 0.02


def read_baseline(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        assert all(set(GATED) <= set(m) for m in data["retrievers"].values())
    except FileNotFoundError:
        raise ConfigError(f"baseline file {path} does not exist; create it with --write-baseline {path}") from None
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError, AssertionError) as exc:
        raise ConfigError(f"baseline file {path} is not a baseline ({exc!r}); recreate it: --write-baseline") from None
    return data


def baseline_from_run(run: EvalRun) -> dict[str, Any]:
    """Section-level gated metrics of every retriever of the run."""
    first = run.reports[0].metrics()
    return {
        "about": "Held-out FAQ evaluation on corpus/; CI fails when a gated metric falls more than "
        "`tolerance` below. Raise it in the same commit as an improvement.",
        "eval": run.name,
        "model": run.manifest["model"]["id"],
        "chunking": run.manifest["chunking"],
        "questions": first["questions"],
        "tolerance": TOLERANCE,
        "retrievers": {r.name: {name: round(r.metrics()["section"][name], 4) for name in GATED} for r in run.reports},
    }


def gate_failures(run: EvalRun, baseline: dict[str, Any]) -> list[str]:
    """One message per gated metric that fell more than the tolerance below the baseline."""
    tolerance = float(baseline.get("tolerance", TOLERANCE))
    reports = {r.name: r for r in run.reports}
    failures = []
    for retriever, floors in baseline["retrievers"].items():
        if retriever not in reports:
            failures.append(
                f"the run has no {retriever!r} retriever, which the baseline gates; add --retriever {retriever}"
            )
            continue
        current = reports[retriever].metrics()["section"]
        for name, floor in floors.items():
            if current[name] < floor - tolerance:
                failures.append(
                    f"section {name} of {retriever} is {current[name]:.4f}, more than {tolerance} below the "
                    f"baseline {floor:.4f}"
                )
    return failures
