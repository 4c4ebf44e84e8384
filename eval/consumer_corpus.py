"""Assemble the corpus the consumer development set (eval/consumer.jsonl) is scored on: the seed
documents of corpus/ plus every MedQuAD page, as symbolic links in one directory (nothing is
copied, and the directory is not committed).

    python eval/consumer_corpus.py                      # -> index/corpora/consumer
    qa eval --corpus index/corpora/consumer --eval-file eval/consumer.jsonl

MedQuAD is read from ../shared/data/medquad (or MEDQUAD_DIR). Without it the script stops and
says so: the set's MedQuAD questions cannot be scored without their documents.

``--held-out-only`` keeps only the MedQuAD pages of ``eval/medquad_split.json``'s ``held_out``
part (every page the consumer set asks about is in it): the corpus on which the domain adapter,
trained on the other part, is compared with the base model (``index/corpora/adapter-eval``, and
MedQuAD's questions about those pages in ``index/corpora/adapter-eval.medquad.jsonl``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "index" / "corpora" / "consumer")
    parser.add_argument("--seed-corpus", type=Path, default=ROOT / "corpus")
    parser.add_argument(
        "--medquad", type=Path, default=Path(os.environ.get("MEDQUAD_DIR") or ROOT.parent / "shared/data/medquad")
    )
    parser.add_argument("--held-out-only", action="store_true", help="MedQuAD pages of the held-out split only")
    args = parser.parse_args()
    medquad = args.medquad / "corpus"
    if not medquad.is_dir():
        sys.exit(f"MedQuAD not found at {medquad}; set MEDQUAD_DIR (the consumer set needs its pages)")
    args.out.mkdir(parents=True, exist_ok=True)
    pages = sorted(medquad.glob("*.md"))
    if args.held_out_only:
        split = json.loads((ROOT / "eval" / "medquad_split.json").read_text(encoding="utf-8"))
        keep = set(split["held_out"])
        pages = [p for p in pages if p.stem in keep]
        questions = args.out.with_suffix(".medquad.jsonl")  # MedQuAD's questions about those pages
        lines = (args.medquad / "eval.jsonl").read_text(encoding="utf-8").splitlines()
        questions.parent.mkdir(parents=True, exist_ok=True)
        questions.write_text("".join(f"{x}\n" for x in lines if x.strip() and json.loads(x)["doc"] in keep), "utf-8")
        print(f"{questions}: MedQuAD's questions about the held-out pages")
    sources = sorted(p for p in args.seed_corpus.iterdir() if p.is_file()) + pages
    wanted = {p.name: p.resolve() for p in sources}
    if len(wanted) != len(sources):
        sys.exit("two source files share a name; the document ids would collide")
    for stale in args.out.iterdir():
        if stale.name not in wanted or not stale.is_symlink() or stale.resolve() != wanted[stale.name]:
            stale.unlink()
    for name, target in wanted.items():
        link = args.out / name
        if not link.is_symlink():
            link.symlink_to(target)
    print(f"{args.out}: {len(wanted)} documents ({len(sources) - len(pages)} seed, {len(pages)} MedQuAD)")


if __name__ == "__main__":
    main()
