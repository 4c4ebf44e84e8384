"""How often the match signal says ``none`` to an answerable question it was not calibrated on.

``qa eval calibrate`` sets the thresholds from answerable questions of several runs; a set that
helped set them then reports at most the 2% it was fitted to. This script reports the honest
figure for one set: split it into folds by drug family (``eval/cv_select.py``), calibrate on the
other folds (plus every other run given, whole) and count ``none`` and ``strong`` on the held-out
fold, five times.

    python eval/cv_calibration.py --corpus ../shared/data/medicationqa-dev/corpus \\
        eval/reports/<medicationqa-dev run> --with eval/reports/<MedQuAD seed-1 run>
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "eval"))

from cv_select import folds, question_families  # noqa: E402

from qa.evaluation.calibration import GOOD_WITHIN, answered_in_report  # noqa: E402
from qa.retrieval.signal import Answered, calibrate  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("report", type=Path, help="the run of the set to cross-validate")
    parser.add_argument("--corpus", type=Path, required=True, help="its corpus (for the drug families)")
    parser.add_argument("--eval-file", type=Path, help="its gold set (default: eval.jsonl beside the corpus)")
    parser.add_argument("--with", dest="others", type=Path, action="append", default=[], help="another run, whole")
    parser.add_argument("--retriever", default="multiview")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    family_of = question_families(args.corpus, args.eval_file)
    rows = [json.loads(line) for line in (args.report / "questions.jsonl").read_text(encoding="utf-8").splitlines()]
    rows = [r for r in rows if r["retriever"] == args.retriever and r["answerable"] and r["confidence"] is not None]
    if not rows:
        sys.exit(f"{args.report} has no answerable questions with a confidence for {args.retriever!r}")
    fold_of = folds({r["id"]: family_of.get(r["id"], r["id"]) for r in rows}, args.folds, args.seed)
    others = {str(p): answered_in_report(p, args.retriever)[0] for p in args.others}
    none = strong = strong_good = 0
    for f in range(args.folds):
        train = [
            Answered(r["confidence"], (r["section_rank"] or 99) <= GOOD_WITHIN) for r in rows if fold_of[r["id"]] != f
        ]
        test = [r for r in rows if fold_of[r["id"]] == f]
        none_below, strong_from, _ = calibrate({"set": train, **others})
        n = sum(r["confidence"] < none_below for r in test)
        s = [r for r in test if r["confidence"] >= strong_from]
        good = sum((r["section_rank"] or 99) <= GOOD_WITHIN for r in s)
        none, strong, strong_good = none + n, strong + len(s), strong_good + good
        print(f"fold {f + 1}: none below {none_below:.4f}, strong from {strong_from:.4f}; held out {len(test)}: "
              f"none {n}, strong {len(s)} ({good} right in the top {GOOD_WITHIN})")  # fmt: skip
    print(f"\ncross-validated over {len(rows)} answerable questions: none {none / len(rows):.1%} ({none}), "
          f"strong {strong / len(rows):.1%}, of which right in the top {GOOD_WITHIN}: "
          f"{strong_good / max(strong, 1):.1%}")  # fmt: skip


if __name__ == "__main__":
    main()
