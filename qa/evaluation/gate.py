"""The CI gate: committed figures that evaluation runs must not fall below.

``eval/baseline.json`` holds, for each gated set (by run name: ``faq-heldout`` is the held-out
FAQ evaluation on ``corpus/``; ``consumer-corpus-seed-heldout`` the consumer questions on the seed
documents; `medicationqa-dev` its real consumer questions, when present), section-level Hit@1,
Recall@5 and MRR@10 per retriever. A run fails the gate when any
falls more than ``tolerance`` (0.02) below its set's figures. To raise a baseline, update it in
the same commit as the improvement (``qa eval ... --write-baseline eval/baseline.json`` replaces
that run's set and keeps the others).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qa.errors import ConfigError
from qa.evaluation.runs import EvalRun

GATED = ("hit@1", "recall@5", "mrr@10")
TOLERANCE = 0.02
ABOUT = (
    "CI gate: each set is a `qa eval` run (by name); a gated metric more than `tolerance` below fails. "
    "Raise a set's figures in the same commit as an improvement (--write-baseline)."
)


def read_baseline(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        for gated in data["sets"].values():
            assert all(set(GATED) <= set(m) for m in gated["retrievers"].values())
    except FileNotFoundError:
        raise ConfigError(f"baseline file {path} does not exist; create it with --write-baseline {path}") from None
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError, AssertionError) as exc:
        raise ConfigError(f"baseline file {path} is not a baseline ({exc!r}); recreate it: --write-baseline") from None
    return data


def gated_set(baseline: dict[str, Any], run_name: str) -> dict[str, Any]:
    """The baseline's figures for the run called ``run_name``."""
    if run_name not in baseline["sets"]:
        raise ConfigError(
            f"the baseline gates no run called {run_name!r} (it gates {', '.join(sorted(baseline['sets']))}); "
            "run one of those, or add this one with --write-baseline"
        )
    return baseline["sets"][run_name]


def baseline_from_run(run: EvalRun, previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """``previous`` with this run's set (section-level gated metrics of every retriever) replaced."""
    first = run.reports[0].metrics()
    entry = {
        "eval": run.eval_source,
        "selection": run.selection,
        "model": run.manifest["model"]["id"],
        "chunking": run.manifest["chunking"],
        "questions": first["questions"],
        "retrievers": {r.name: {name: round(r.metrics()["section"][name], 4) for name in GATED} for r in run.reports},
    }
    sets = dict(previous["sets"]) if previous else {}
    sets[run.name] = entry
    return {"about": ABOUT, "tolerance": TOLERANCE, "sets": dict(sorted(sets.items()))}


def gate_failures(run: EvalRun, baseline: dict[str, Any]) -> list[str]:
    """One message per gated metric of this run's set that fell more than the tolerance below."""
    tolerance = float(baseline.get("tolerance", TOLERANCE))
    reports = {r.name: r for r in run.reports}
    failures = []
    for retriever, floors in gated_set(baseline, run.name)["retrievers"].items():
        if retriever not in reports:
            failures.append(
                f"the run has no {retriever!r} retriever, which the baseline gates; add --retriever {retriever}"
            )
            continue
        current = reports[retriever].metrics()["section"]
        for name, floor in floors.items():
            if current[name] < floor - tolerance:
                failures.append(
                    f"{run.name}: section {name} of {retriever} is {current[name]:.4f}, more than {tolerance} below "
                    f"the baseline {floor:.4f}"
                )
    return failures
