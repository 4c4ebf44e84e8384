"""Choose among variants by cross-validation, split by drug family, from ``qa eval`` reports.

A choice made on the questions that then report it is flattering: this script makes the choice on
four fifths of a gold set and scores it on the fifth, five times, so every question is scored by a
choice it took no part in. Folds are whole *families* of documents (a drug, its salts, brands and
combinations: documents whose titles share a name word), so a question never helps choose for a
question about the same drug.

    python eval/cv_select.py --corpus ../shared/data/medicationqa-dev/corpus \\
        base=eval/reports/<run-with-base-model> i05=eval/reports/<run-with-adapter-0.5> \\
        --candidates base:multiview,i05:multiview,i05:views:chunk+heading

Each ``LABEL=REPORT`` names one run (its ``questions.jsonl``); a candidate is ``LABEL:RETRIEVER``.
On the training folds the candidate with the best section Hit@1 wins (ties: MRR@10, then the order
given, so list the simplest first). Prints, per fold, the choice and its held-out figures, then the
out-of-fold Hit@1 and MRR@10 of the procedure against each candidate's own figures on all questions.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.indexing import names  # noqa: E402
from qa.indexing.lexicon import STOP_WORDS  # noqa: E402
from qa.ingest.corpus import load_corpus  # noqa: E402

GENERIC = STOP_WORDS | names.FORM_WORDS | names.SALT_WORDS | names.UNIT_WORDS | {"medicine", "medication", "drug"}


def title_words(title: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]+", title.casefold()) if len(w) >= 4 and w not in GENERIC}


def families(titles: dict[str, str]) -> dict[str, str]:
    """Document id -> family id: documents whose titles share a name word, joined transitively."""
    parent = {doc: doc for doc in titles}

    def find(doc: str) -> str:
        while parent[doc] != doc:
            parent[doc] = parent[parent[doc]]
            doc = parent[doc]
        return doc

    owner: dict[str, str] = {}
    for doc, title in sorted(titles.items()):
        for word in sorted(title_words(title)) or [doc]:  # sorted: set order changes with the hash seed
            if word in owner:
                parent[find(doc)] = find(owner[word])
            else:
                owner[word] = doc
    return {doc: find(doc) for doc in titles}


def folds(question_family: dict[str, str], k: int, seed: int) -> dict[str, int]:
    """Question id -> fold: families shuffled with ``seed``, then largest first into the fold with
    the fewest questions so far."""
    members: dict[str, list[str]] = defaultdict(list)
    for qid, family in question_family.items():
        members[family].append(qid)
    order = sorted(members)
    random.Random(seed).shuffle(order)
    order.sort(key=lambda f: -len(members[f]))  # stable: equal sizes keep the shuffled order
    sizes = [0] * k
    out = {}
    for family in order:
        fold = sizes.index(min(sizes))
        sizes[fold] += len(members[family])
        for qid in members[family]:
            out[qid] = fold
    return out


def question_families(corpus: Path, eval_file: Path | None) -> dict[str, str]:
    """Question id -> the family of its gold document (``eval.jsonl`` beside the corpus by default);
    exits, saying so, when the set is absent."""
    eval_file = eval_file or corpus.parent / "eval.jsonl"
    if not corpus.is_dir() or not eval_file.is_file():
        sys.exit(f"skipped: {corpus} or {eval_file} is absent")
    rows = [json.loads(line) for line in eval_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    family = families({d.doc_id: d.title for d in load_corpus(corpus).documents})
    return {str(r["id"]): family.get(r["doc"], str(r["id"])) for r in rows}


def read_ranks(report: Path) -> dict[str, dict[str, int | None]]:
    """retriever -> question id -> section rank, for the answerable questions of a run."""
    ranks: dict[str, dict[str, int | None]] = defaultdict(dict)
    for line in (report / "questions.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row.get("answerable", True):
            ranks[row["retriever"]][row["id"]] = row["section_rank"]
    return ranks


def figures(ranks: list[int | None]) -> tuple[float, float]:
    n = len(ranks) or 1
    return sum(r == 1 for r in ranks) / n, sum(1 / r for r in ranks if r) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="LABEL=REPORT_DIR")
    parser.add_argument("--corpus", type=Path, required=True, help="the corpus the runs were made on")
    parser.add_argument("--eval-file", type=Path, help="the gold set (default: eval.jsonl beside the corpus)")
    parser.add_argument("--candidates", required=True, help="LABEL:RETRIEVER,... (simplest first)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    family_of = question_families(args.corpus, args.eval_file)
    table: dict[str, dict[str, int | None]] = {}
    for spec in args.runs:
        label, _, path = spec.partition("=")
        for retriever, by_question in read_ranks(Path(path)).items():
            table[f"{label}:{retriever}"] = by_question
    candidates = [c.strip() for c in args.candidates.split(",") if c.strip()]
    if not candidates:
        sys.exit("--candidates names no LABEL:RETRIEVER")
    missing = [c for c in candidates if c not in table]
    if missing:
        sys.exit(f"no runs for {missing}; have {sorted(table)}")
    questions = sorted(set.intersection(*(set(table[c]) for c in candidates)))
    fold_of = folds({q: family_of.get(q, q) for q in questions}, args.folds, args.seed)
    sizes = [sum(1 for q in questions if fold_of[q] == f) for f in range(args.folds)]
    count = len({family_of.get(q, q) for q in questions})
    print(f"{len(questions)} questions, {count} families, folds of {sizes} questions")
    out_of_fold: list[int | None] = []
    for f in range(args.folds):
        train = [q for q in questions if fold_of[q] != f]
        test = [q for q in questions if fold_of[q] == f]
        scored = [(figures([table[c][q] for q in train]), -i, c) for i, c in enumerate(candidates)]
        (_, _), _, chosen = max(scored)
        hit, mrr = figures([table[chosen][q] for q in test])
        out_of_fold += [table[chosen][q] for q in test]
        print(f"fold {f + 1}: chose {chosen} on {len(train)} questions; held out {len(test)}: "
              f"Hit@1 {hit:.3f}, MRR@10 {mrr:.3f}")  # fmt: skip
    hit, mrr = figures(out_of_fold)
    print(
        "\ncross-validated (each question scored by a choice made without its family): "
        f"Hit@1 {hit:.3f}, MRR@10 {mrr:.3f}"
    )
    for c in candidates:
        h, m = figures([table[c][q] for q in questions])
        print(f"  {c:40s} on all questions: Hit@1 {h:.3f}, MRR@10 {m:.3f}")


if __name__ == "__main__":
    main()
