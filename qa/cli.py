"""Command-line adapter: ``qa index``, ``qa ask``, ``qa serve``.

Each command reads the settings once (environment ``QA_*``, then its options), calls the
core, and turns domain errors into one-line messages and exit codes (1: the operation
failed, 2: bad settings or arguments).
"""

from __future__ import annotations

import functools
import logging
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from qa.errors import ConfigError, QAError
from qa.index import MANIFEST, BuildReport
from qa.schemas import query_response
from qa.service import QAService, build, make_embedder
from qa.settings import Settings, load_settings
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
@click.option("-k", "k", type=click.IntRange(1, 50), default=5, show_default=True, help="Passages to return.")
@click.option("--json", "as_json", is_flag=True, help="Print the same JSON as POST /query.")
@index_option
@_domain_errors
def ask_command(question: str, k: int, as_json: bool, index_dir: Path | None) -> None:
    """Print the passages that best match QUESTION."""
    settings = _settings(index_dir=index_dir)
    answer = QAService.open(settings).ask(question, k)
    if as_json:
        click.echo(query_response(answer).model_dump_json(indent=2))
        return
    if not answer.hits:
        click.echo("No passages found.")
    for hit in answer.hits:
        c = hit.chunk
        lines = f"{c.line_start}" if c.line_start == c.line_end else f"{c.line_start}-{c.line_end}"
        click.echo(f"{hit.rank}. [{hit.score:.3f}] {join_path(c.heading_path)}")
        click.echo(f"   {c.path}:{lines}")
        snippet = textwrap.shorten(" ".join(c.text.split()), width=300, placeholder=" …")
        click.echo(textwrap.indent(textwrap.fill(snippet, width=96), "   "))
    click.echo(f"({answer.took_ms:.0f} ms)", err=True)


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
