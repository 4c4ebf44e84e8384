"""``qa eval``: retrieval-quality evaluation runs, the CI gate, match-signal calibration;
``qa eval build-faq``: the FAQ gold set."""

from __future__ import annotations

import json
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import click

from qa.cli.common import CliContext, corpus_option, domain_errors, index_option, make_settings
from qa.errors import ConfigError
from qa.evaluation.calibration import answered_in_run, calibration_for
from qa.evaluation.faqset import build_faq_set, faq_items, read_overrides, write_faq_set
from qa.evaluation.gate import baseline_from_run, gate_failures, gated_set, read_baseline
from qa.evaluation.goldsets import EvalItem, Problem, absent_here, load_eval_file, load_negatives, parse_lines
from qa.evaluation.reports import summary_tables, write_report
from qa.evaluation.runs import EvalRun, eval_index_dir, run_evaluation
from qa.indexing.build import ensure_index
from qa.indexing.calibration import CALIBRATION_FILE
from qa.indexing.storage import Index
from qa.ingest.corpus import load_corpus
from qa.retrieval.catalog import RETRIEVERS, make_retrievers
from qa.retrieval.searcher import Searcher
from qa.serving.service import DEFAULT_MODE, chunk_settings

DEFAULT_FAQ_FILE = Path("eval/faq.jsonl")
DEFAULT_NEGATIVES = Path("eval/unanswerable.jsonl")
DEFAULT_BASELINE = Path("eval/baseline.json")


@click.group("eval", invoke_without_command=True)
@corpus_option
@click.option("--eval-file", type=click.Path(path_type=Path, dir_okay=False), help="JSONL gold set (default: FAQ set).")
@index_option
@click.option(
    "--retriever",
    "retriever_names",
    default=DEFAULT_MODE,
    show_default=True,
    help=f"Comma-separated, from: {', '.join(RETRIEVERS)}.",
)
@click.option("--limit", type=click.IntRange(1), help="Score only the first N questions (after --sample).")
@click.option("--only", multiple=True, help="Score only questions whose FIELD equals VALUE (FIELD=VALUE; repeatable).")
@click.option("--sample", type=click.IntRange(1), help="Score N questions drawn at random (with --seed).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for --sample.")
@click.option(
    "--held-out/--full",
    "held_out",
    default=None,
    help="Leave FAQ content out of the index (default: held out for the FAQ set, full for --eval-file).",
)
@click.option("--name", help="Report name (default from the gold set and selection).")
@click.option("--reports", type=click.Path(path_type=Path, file_okay=False), default=Path("eval/reports"),
              show_default=True, help="Where run reports go.")  # fmt: skip
@click.option("--strict", is_flag=True, help="Exit 1 when the gold set has problems.")
@click.option("--baseline", type=click.Path(path_type=Path, dir_okay=False),
              help="Exit 1 when section Hit@1, R@5 or MRR@10 falls more than 0.02 below this baseline.")  # fmt: skip
@click.option("--write-baseline", type=click.Path(path_type=Path, dir_okay=False),
              help="Write this run's figures as the new baseline.")  # fmt: skip
@click.option(
    "--negatives",
    type=click.Path(path_type=Path, dir_okay=False),
    multiple=True,
    help="Questions the corpus cannot answer, to measure the match signal, reported by their 'category' "
    "(repeatable; default for the FAQ set: eval/unanswerable.jsonl). An 'absent-drug' question whose 'drug' "
    "the corpus mentions after all is left out, and the command says which.",
)
@click.option(
    "--calibrate", is_flag=True, help="Set the index's match thresholds from this run's answerable questions."
)
@click.option(
    "--save-calibration",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write the thresholds to this file (the packaged default is qa/calibration/<model>.json).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
@click.pass_context
@domain_errors
def eval_command(
    ctx: click.Context,
    corpus_dir: Path | None,
    eval_file: Path | None,
    index_dir: Path | None,
    retriever_names: str,
    limit: int | None,
    only: tuple[str, ...],
    sample: int | None,
    seed: int,
    held_out: bool | None,
    name: str | None,
    reports: Path,
    strict: bool,
    baseline: Path | None,
    write_baseline: Path | None,
    negatives: tuple[Path, ...],
    calibrate: bool,
    save_calibration: Path | None,
    quiet: bool,
) -> None:
    """Measure retrieval quality. With no options: the held-out FAQ evaluation on corpus/.

    \b
    qa eval                                   FAQ set (eval/faq.jsonl), FAQ content held out
    qa eval --corpus DIR --eval-file F.jsonl  an external gold set
    qa eval build-faq                         (re)write eval/faq.jsonl for review
    """
    if ctx.invoked_subcommand is not None:
        return
    settings = make_settings(corpus_dir=corpus_dir)
    items, problems, source = _gold_set(settings.corpus_dir, eval_file)
    items = _only(items, only)
    faq_mode = eval_file is None
    held_out = faq_mode if held_out is None else held_out
    name = name or _run_name(eval_file, sample, seed, limit, held_out, only)
    if baseline and ctx.get_parameter_source("retriever_names") is click.core.ParameterSource.DEFAULT:
        retriever_names = ",".join(gated_set(read_baseline(baseline), name)["retrievers"])  # what the gate needs

    embedder = ctx.ensure_object(CliContext).make_embedder(settings)
    chunking = replace(chunk_settings(settings, embedder), include_faq=not held_out)
    index_dir = index_dir or eval_index_dir(settings.index_dir.parent, settings.corpus_dir, held_out)
    index, built, reasons = ensure_index(settings.corpus_dir, index_dir, embedder, chunking, progress=not quiet)
    note = f"built in {built.seconds:.1f} s ({'; '.join(reasons)})" if built else "reused"
    click.echo(f"Index {index_dir}: {note}", err=True)
    searcher = Searcher(index, embedder, settings.retrieval())
    retrievers = make_retrievers([n.strip() for n in retriever_names.split(",") if n.strip()], searcher)
    if not negatives and faq_mode and DEFAULT_NEGATIVES.is_file():
        negatives = (DEFAULT_NEGATIVES,)
    unanswerable = [item for path in negatives for item in load_negatives(path)]
    unanswerable, present = absent_here(unanswerable, searcher.recogniser)
    if present:
        click.echo(f"Left out {len(present)} 'absent-drug' question(s) whose drug this corpus has: "
                   + ", ".join(sorted({str(i.extra.get('drug')) for i in present})), err=True)  # fmt: skip

    run = run_evaluation(
        searcher, items, problems, retrievers, negatives=unanswerable, name=name, eval_source=source,
        held_out=held_out, corpus_dir=str(settings.corpus_dir), sample=sample, seed=seed, limit=limit,
        progress=not quiet, index_note=note,
    )  # fmt: skip
    if calibrate:
        _calibrate(run, index, source, save_calibration)
    _print_run(run, write_report(run, reports))
    if _gates_fail(run, write_baseline=write_baseline, baseline=baseline, strict=strict):
        sys.exit(1)


def _gold_set(corpus_dir: Path, eval_file: Path | None) -> tuple[list[EvalItem], list[Problem], str]:
    """The questions to score: an external gold set, or the corpus's own FAQ set."""
    if eval_file is not None:
        items, problems = load_eval_file(eval_file)
        return items, problems, str(eval_file)
    own_corpus = corpus_dir.resolve() == Path("corpus").resolve()
    faq = faq_items(load_corpus(corpus_dir), DEFAULT_FAQ_FILE if own_corpus else None)
    for note in faq.notes:
        click.echo(note, err=True)
    items, problems = parse_lines(faq.lines)
    return items, problems, str(DEFAULT_FAQ_FILE) if own_corpus else f"FAQ set of {corpus_dir}"


def _only(items: list[EvalItem], only: tuple[str, ...]) -> list[EvalItem]:
    """Items whose fields match every FIELD=VALUE of ``--only`` (e.g. ``corpus=seed``, ``qtype=dosage``)."""
    for condition in only:
        field, sep, value = condition.partition("=")
        if not sep or not field:
            raise ConfigError(f"--only takes FIELD=VALUE (such as corpus=seed), got {condition!r}")
        items = [i for i in items if str(i.qtype if field == "qtype" else i.extra.get(field)) == value]
    if not items:
        raise ConfigError(f"no question matches --only {' '.join(only)}")
    return items


def _run_name(
    eval_file: Path | None, sample: int | None, seed: int, limit: int | None, held_out: bool, only: tuple[str, ...]
) -> str:
    parts = (
        "faq" if eval_file is None else eval_file.stem,
        *(condition.replace("=", "-") for condition in only),
        f"sample{sample}-seed{seed}" if sample else "",
        f"limit{limit}" if limit else "",
        "heldout" if held_out else "",
    )
    return "-".join(part for part in parts if part)


def _calibrate(run: EvalRun, index: Index, source: str, save_to: Path | None) -> None:
    """Set the index's match thresholds from this run (the default retriever, or the first)."""
    names = [r.name for r in run.reports]
    retriever = DEFAULT_MODE if DEFAULT_MODE in names else names[0]
    sets = {run.name: answered_in_run(run, retriever)}
    calibration = calibration_for(sets, index.model_id, retriever, {run.name: source})
    calibration.save(index.path / CALIBRATION_FILE)
    if save_to:
        save_to.parent.mkdir(parents=True, exist_ok=True)
        calibration.save(save_to)
    click.echo(
        f"Calibrated {index.path}: none below {calibration.none_below}, strong from {calibration.strong_from} "
        f"({calibration.calibrated_on})"
    )


def _print_run(run: EvalRun, target: Path) -> None:
    click.echo("")
    click.echo(summary_tables(run))
    click.echo("")
    scored = len(run.reports[0].outcomes) if run.reports else 0
    click.echo(
        f"{scored} questions scored in {run.seconds:.1f} s; {len(run.unanswerable)} not answerable from the body; "
        f"{len(run.problems)} problems in the gold set"
    )
    for problem in run.problems[:10]:
        click.echo(f"  problem: {problem}")
    if len(run.problems) > 10:
        click.echo(f"  ... {len(run.problems) - 10} more in {target / 'report.md'}")
    click.echo(f"Report: {target / 'report.md'}")


def _gates_fail(run: EvalRun, *, write_baseline: Path | None, baseline: Path | None, strict: bool) -> bool:
    """Write the baseline if asked; True when the baseline gate or --strict fails."""
    failed = False
    if write_baseline:
        previous = read_baseline(write_baseline) if write_baseline.is_file() else None
        write_baseline.write_text(json.dumps(baseline_from_run(run, previous), indent=2) + "\n")
        click.echo(f"Wrote baseline {write_baseline}")
    if baseline:
        failures = gate_failures(run, read_baseline(baseline))
        for failure in failures:
            click.echo(f"GATE FAILED: {failure}", err=True)
        click.echo("Gate passed." if not failures else "", err=True)
        failed = bool(failures)
    if strict and run.problems:
        click.echo(f"--strict: {len(run.problems)} problems in the gold set", err=True)
        failed = True
    return failed


@eval_command.command("build-faq")
@corpus_option
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), default=DEFAULT_FAQ_FILE, show_default=True)
@domain_errors
def build_faq_command(corpus_dir: Path | None, out: Path) -> None:
    """Extract every FAQ pair into a JSONL gold set, labelled from the answers, for review.

    Hand corrections in a line's gold_override field survive regeneration."""
    settings = make_settings(corpus_dir=corpus_dir)
    corpus = load_corpus(settings.corpus_dir)
    overrides = read_overrides(out)
    faq_set = build_faq_set(corpus, overrides)
    write_faq_set(faq_set, out)
    sources = Counter(source for row in faq_set.rows for source in row["sources"] if ":" not in source)
    click.echo(
        f"Wrote {len(faq_set.rows)} items to {out} from {len(corpus.documents)} documents "
        f"({', '.join(f'{k} {v}' for k, v in sorted(sources.items()))})"
    )
    click.echo(f"  not answerable from the body: {len(faq_set.unanswerable)}")
    for row in faq_set.unanswerable:
        click.echo(f"    {row['id']}: {row['question']}")
    kept = sum(1 for row in faq_set.rows if row["gold_override"] is not None)
    click.echo(f"  hand corrections kept: {kept}")
    for orphan in faq_set.orphaned_overrides:
        click.echo(f"  warning: the override for {orphan} matches no item any more and was dropped", err=True)
    if faq_set.merged_across_documents:
        click.echo(f"  questions asked in several documents, merged: {faq_set.merged_across_documents}")
