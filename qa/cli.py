"""Command-line adapter: ``qa index``, ``qa ask``, ``qa serve``.

Each command reads the settings once (environment ``QA_*``, then its options), calls the
core, and turns domain errors into one-line messages and exit codes (1: the operation
failed, 2: bad settings or arguments).
"""

from __future__ import annotations

import functools
import json
import logging
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import click

from qa.baseline import baseline_from_run, gate_failures, read_baseline
from qa.corpus import load_corpus
from qa.errors import ConfigError, QAError
from qa.evaluate import calibration_from, eval_index_dir, run_evaluation
from qa.faqset import build_faq_set, faq_items, read_overrides, write_faq_set
from qa.goldsets import load_eval_file, load_negatives, parse_lines
from qa.index import MANIFEST, BuildReport, ensure_index
from qa.reports import summary_tables, write_report
from qa.schemas import query_response
from qa.search import RETRIEVERS, Filters, Searcher, make_retrievers
from qa.service import MODES, QAService, build, chunk_settings, make_embedder, retrieval_settings
from qa.settings import Settings, load_settings
from qa.signal import CALIBRATION_FILE
from qa.text import join_path

F = TypeVar("F", bound=Callable[..., Any])

corpus_option = click.option(
    "--corpus",
    "corpus_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Directory of documents [env QA_CORPUS_DIR; default corpus].",
)
index_option = click.option(
    "--index",
    "index_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Index directory [env QA_INDEX_DIR; default index/default].",
)


def _domain_errors(func: F) -> F:
    """Turn QAError into a one-line message instead of a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(2)
        except QAError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def _settings(**overrides: Any) -> Settings:
    settings = load_settings(**overrides)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("qa").setLevel(settings.log_level.upper())
    return settings


def _print_report(report: BuildReport, model_seconds: float) -> None:
    click.echo(
        f"Indexed {report.documents} documents into {report.chunks} chunks in {report.seconds:.1f} s "
        f"({report.chunks_per_second:.1f} chunks/s) -> {report.index_dir}"
    )
    steps = ", ".join(f"{name} {secs:.1f} s" for name, secs in report.timings.items())
    click.echo(f"  steps: {steps}; model load {model_seconds:.1f} s (not included)")
    if report.reused_vectors:
        click.echo(f"  reused {report.reused_vectors} unchanged chunk vectors from the previous index")
    click.echo(f"  skipped files: {len(report.skipped)}")
    for item in report.skipped:
        click.echo(f"    {item.path}: {item.reason}")
    if report.dropped:
        rules = ", ".join(f"{rule} {n}" for rule, n in sorted(report.dropped.items()))
        click.echo(f"  site chrome dropped: {sum(report.dropped.values())} blocks ({rules})")
    if report.warnings:
        click.echo(f"  parse warnings: {report.warnings} (see GET /documents/{{doc_id}})")
    click.echo(f"  corpus fingerprint: {report.fingerprint[:16]}")


def _build(settings: Settings, *, quiet: bool) -> None:
    embedder = make_embedder(settings)
    started = time.perf_counter()
    embedder.max_tokens  # noqa: B018 - load the model now so the build timing excludes it
    model_seconds = time.perf_counter() - started
    report = build(settings, embedder, progress=not quiet)
    _print_report(report, model_seconds)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="drugqa")
def main() -> None:
    """Question answering over drug reference documents, with exact source attribution."""


@main.command("index")
@corpus_option
@index_option
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
@_domain_errors
def index_command(corpus_dir: Path | None, index_dir: Path | None, quiet: bool) -> None:
    """Read, chunk and embed the corpus; write the index atomically."""
    _build(_settings(corpus_dir=corpus_dir, index_dir=index_dir), quiet=quiet)


@main.command("ask")
@click.argument("question")
@click.option("-k", "k", type=click.IntRange(1, 50), default=5, show_default=True, help="Results to return.")
@click.option("--mode", type=click.Choice(MODES), default="hybrid", show_default=True, help="Retrieval mode.")
@click.option("--doc", "doc_ids", multiple=True, help="Only this document (repeatable).")
@click.option("--section", "sections", multiple=True, help="Only passages under this heading (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the same JSON as POST /query.")
@index_option
@_domain_errors
def ask_command(
    question: str,
    k: int,
    mode: str,
    doc_ids: tuple[str, ...],
    sections: tuple[str, ...],
    as_json: bool,
    index_dir: Path | None,
) -> None:
    """Print the passages that best match QUESTION."""
    settings = _settings(index_dir=index_dir)
    answer = QAService.open(settings).ask(question, k, mode, Filters(doc_ids, sections))
    if as_json:
        click.echo(query_response(answer).model_dump_json(indent=2))
        return
    confidence = "" if answer.confidence is None else f" (best similarity {answer.confidence:.3f})"
    click.echo(f"match: {answer.match}{confidence}")
    for mention in answer.mentions:
        click.echo(f"recognised: {mention.name} (from {mention.matched_text!r}) in {', '.join(mention.doc_ids)}")
    if answer.unknown_drugs:
        click.echo(f"not in the corpus: {', '.join(answer.unknown_drugs)}")
    if not answer.hits:
        click.echo("No passages found.")
    for hit in answer.hits:
        c = hit.chunk
        lines = f"{c.line_start}" if c.line_start == c.line_end else f"{c.line_start}-{c.line_end}"
        kind = " FAQ" if hit.kind == "faq" else ""
        click.echo(f"{hit.rank}.{kind} [{hit.similarity or 0:.3f}] {join_path(c.heading_path)}")
        click.echo(f"   {c.path}:{lines}" + (f" (+{len(hit.also)} more places)" if hit.also else ""))
        snippet = textwrap.shorten(" ".join(c.text.split()), width=300, placeholder=" …")
        click.echo(textwrap.indent(textwrap.fill(snippet, width=96), "   "))
    click.echo(f"({answer.took_ms:.0f} ms)", err=True)


DEFAULT_FAQ_FILE = Path("eval/faq.jsonl")
DEFAULT_NEGATIVES = Path("eval/unanswerable.jsonl")
DEFAULT_BASELINE = Path("eval/baseline.json")


@main.group("eval", invoke_without_command=True)
@corpus_option
@click.option("--eval-file", type=click.Path(path_type=Path, dir_okay=False), help="JSONL gold set (default: FAQ set).")
@index_option
@click.option(
    "--retriever",
    "retriever_names",
    default="hybrid",
    show_default=True,
    help=f"Comma-separated, from: {', '.join(RETRIEVERS)}.",
)
@click.option("--limit", type=click.IntRange(1), help="Score only the first N questions (after --sample).")
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
              help="Exit 1 when section Recall@5 or MRR@10 falls more than 0.02 below this baseline.")  # fmt: skip
@click.option("--write-baseline", type=click.Path(path_type=Path, dir_okay=False),
              help="Write this run's figures as the new baseline.")  # fmt: skip
@click.option(
    "--negatives",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Questions the corpus cannot answer, to measure the match signal (default for the FAQ set: "
    "eval/unanswerable.jsonl).",
)
@click.option("--calibrate", is_flag=True, help="Set the index's match thresholds from this run (needs --negatives).")
@click.option(
    "--save-calibration",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write the thresholds to this file (the packaged default is qa/calibration/<model>.json).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
@click.pass_context
@_domain_errors
def eval_command(
    ctx: click.Context,
    corpus_dir: Path | None,
    eval_file: Path | None,
    index_dir: Path | None,
    retriever_names: str,
    limit: int | None,
    sample: int | None,
    seed: int,
    held_out: bool | None,
    name: str | None,
    reports: Path,
    strict: bool,
    baseline: Path | None,
    write_baseline: Path | None,
    negatives: Path | None,
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
    settings = _settings(corpus_dir=corpus_dir)
    if baseline and ctx.get_parameter_source("retriever_names") is click.core.ParameterSource.DEFAULT:
        retriever_names = ",".join(read_baseline(baseline)["retrievers"])  # run what the baseline gates
    corpus = load_corpus(settings.corpus_dir)
    faq_mode = eval_file is None
    held_out = faq_mode if held_out is None else held_out
    if faq_mode:
        own_corpus = settings.corpus_dir.resolve() == Path("corpus").resolve()
        faq = faq_items(corpus, DEFAULT_FAQ_FILE if own_corpus else None)
        for note in faq.notes:
            click.echo(note, err=True)
        items, problems = parse_lines(faq.lines)
        source = str(DEFAULT_FAQ_FILE) if own_corpus else f"FAQ set of {settings.corpus_dir}"
    else:
        items, problems = load_eval_file(eval_file)
        source = str(eval_file)
    name = name or "-".join(
        part
        for part in (
            "faq" if faq_mode else eval_file.stem,
            f"sample{sample}-seed{seed}" if sample else "",
            f"limit{limit}" if limit else "",
            "heldout" if held_out else "",
        )
        if part
    )

    embedder = make_embedder(settings)
    chunking = replace(chunk_settings(settings, embedder), include_faq=not held_out)
    index_dir = index_dir or eval_index_dir(settings.index_dir.parent, settings.corpus_dir, held_out)
    index, built, reasons = ensure_index(settings.corpus_dir, index_dir, embedder, chunking, progress=not quiet)
    note = f"built in {built.seconds:.1f} s ({'; '.join(reasons)})" if built else "reused"
    click.echo(f"Index {index_dir}: {note}", err=True)
    searcher = Searcher(index, embedder, retrieval_settings(settings))
    retrievers = make_retrievers([n.strip() for n in retriever_names.split(",") if n.strip()], searcher)
    if negatives is None and faq_mode and DEFAULT_NEGATIVES.is_file():
        negatives = DEFAULT_NEGATIVES
    unanswerable = load_negatives(negatives) if negatives else []
    if calibrate and not unanswerable:
        raise ConfigError("--calibrate needs questions the corpus cannot answer: pass --negatives FILE")

    run = run_evaluation(
        searcher, items, problems, retrievers, negatives=unanswerable, name=name, eval_source=source,
        held_out=held_out, corpus_dir=str(settings.corpus_dir), sample=sample, seed=seed, limit=limit,
        progress=not quiet, index_note=note,
    )  # fmt: skip
    if calibrate:
        chosen = "hybrid" if "hybrid" in retrievers else next(iter(retrievers))
        calibration = calibration_from(run, chosen, index.model_id, f"{source} + {negatives}")
        calibration.save(index.path / CALIBRATION_FILE)
        if save_calibration:
            save_calibration.parent.mkdir(parents=True, exist_ok=True)
            calibration.save(save_calibration)
        click.echo(
            f"Calibrated {index.path}: none below {calibration.none_below}, strong from {calibration.strong_from} "
            f"({calibration.calibrated_on})"
        )
    target = write_report(run, reports)
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

    failed = False
    if write_baseline:
        write_baseline.write_text(json.dumps(baseline_from_run(run), indent=2) + "\n")
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
    if failed:
        sys.exit(1)


@eval_command.command("build-faq")
@corpus_option
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), default=DEFAULT_FAQ_FILE, show_default=True)
@_domain_errors
def build_faq_command(corpus_dir: Path | None, out: Path) -> None:
    """Extract every FAQ pair into a JSONL gold set, labelled from the answers, for review.

    Hand corrections in a line's gold_override field survive regeneration."""
    settings = _settings(corpus_dir=corpus_dir)
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


@main.command("serve")
@click.option("--host", help="Address to bind [env QA_HOST; default 127.0.0.1].")
@click.option("--port", type=click.IntRange(1, 65535), help="Port [env QA_PORT; default 8000].")
@corpus_option
@index_option
@click.option("--rebuild", is_flag=True, help="Rebuild the index before serving, even if one exists.")
@_domain_errors
def serve_command(
    host: str | None, port: int | None, corpus_dir: Path | None, index_dir: Path | None, rebuild: bool
) -> None:
    """Serve the HTTP API, building the index first if there is none."""
    import uvicorn

    from qa.api import create_app

    settings = _settings(host=host, port=port, corpus_dir=corpus_dir, index_dir=index_dir)
    missing = not (settings.index_dir / MANIFEST).is_file()
    if rebuild or missing:
        click.echo(f"Building the index of {settings.corpus_dir} at {settings.index_dir} ...")
        _build(settings, quiet=False)
    # An index that exists but is stale, corrupt or built with another model is reported by
    # the server log and GET /ready; it is never silently replaced.
    click.echo(f"Serving on http://{settings.host}:{settings.port} (API docs at /docs)")
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level=settings.log_level)


if __name__ == "__main__":  # pragma: no cover
    main()
