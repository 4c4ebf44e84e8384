"""What every command shares: options, settings, the embedder factory (replaceable through
``CliContext``), and turning domain errors into one-line messages and exit codes (1: the
operation failed, 2: bad settings or arguments)."""

from __future__ import annotations

import functools
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from qa.errors import ConfigError, QAError
from qa.indexing.build import BuildReport
from qa.indexing.embedding import Embedder
from qa.serving.service import build, make_embedder
from qa.settings import Settings, load_settings

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class CliContext:
    """Per-invocation objects: how to make the embedder. Tests pass their own
    (``CliRunner().invoke(main, args, obj=CliContext(make_embedder=...))``)."""

    make_embedder: Callable[[Settings], Embedder] = make_embedder


pass_cli = click.make_pass_decorator(CliContext, ensure=True)

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


def domain_errors(func: F) -> F:
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
        except OSError as exc:  # a full disk, a permission: the index in place is never half-replaced
            where = f" ({exc.filename})" if exc.filename else ""
            click.echo(
                f"Error: {exc.strerror or exc}{where}. Any index already in place is unchanged (an index is "
                "replaced only once it is complete); fix the cause and run the command again.",
                err=True,
            )
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def make_settings(**overrides: Any) -> Settings:
    settings = load_settings(**overrides)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("qa").setLevel(settings.log_level.upper())
    return settings


def print_report(report: BuildReport, model_seconds: float) -> None:
    click.echo(
        f"Indexed {report.documents} documents into {report.chunks} chunks in {report.seconds:.1f} s "
        f"({report.chunks_per_second:.1f} chunks/s) -> {report.index_dir}"
    )
    steps = ", ".join(f"{name} {secs:.1f} s" for name, secs in report.timings.items())
    click.echo(f"  steps: {steps}; model load {model_seconds:.1f} s (not included)")
    if report.reused_vectors:
        click.echo(f"  reused {report.reused_vectors} unchanged chunk vectors from the previous index")
    if report.rechunked_documents < report.documents:
        click.echo(f"  re-chunked {report.rechunked_documents} changed documents; kept the chunks of the rest")
    click.echo(f"  skipped files: {len(report.skipped)}")
    for item in report.skipped:
        click.echo(f"    {item.path}: {item.reason}")
    if report.dropped:
        rules = ", ".join(f"{rule} {n}" for rule, n in sorted(report.dropped.items()))
        click.echo(f"  site chrome dropped: {sum(report.dropped.values())} blocks ({rules})")
    if report.warnings:
        click.echo(f"  parse warnings: {report.warnings} (see GET /documents/{{doc_id}})")
    click.echo(f"  corpus fingerprint: {report.fingerprint[:16]}")


def build_with_report(settings: Settings, embedder: Embedder, *, quiet: bool) -> None:
    """Build the index and print what was built, with the model load timed apart."""
    started = time.perf_counter()
    embedder.max_tokens  # noqa: B018 - load the model now so the build timing excludes it
    model_seconds = time.perf_counter() - started
    report = build(settings, embedder, progress=not quiet)
    print_report(report, model_seconds)
