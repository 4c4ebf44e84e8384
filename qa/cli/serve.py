"""``qa serve``: the HTTP API, building the index first if there is none."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import click

from qa.cli.common import (
    CliContext,
    build_with_report,
    corpus_option,
    domain_errors,
    index_option,
    make_settings,
    pass_cli,
)
from qa.indexing.manifest import MANIFEST
from qa.serving.logs import configure_logging
from qa.serving.metrics import MULTIPROCESS_ENV


@click.command("serve")
@click.option("--host", help="Address to bind [env QA_HOST; default 127.0.0.1].")
@click.option("--port", type=click.IntRange(1, 65535), help="Port [env QA_PORT; default 8000].")
@corpus_option
@index_option
@click.option("--rebuild", is_flag=True, help="Rebuild the index before serving, even if one exists.")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Worker processes (uvicorn). They share the index files through the page cache (memory-mapped).",
)
@domain_errors
@pass_cli
def serve_command(
    cli: CliContext,
    host: str | None,
    port: int | None,
    corpus_dir: Path | None,
    index_dir: Path | None,
    rebuild: bool,
    workers: int,
) -> None:
    """Serve the HTTP API, building the index first if there is none."""
    import uvicorn

    from qa.api import create_app

    settings = make_settings(host=host, port=port, corpus_dir=corpus_dir, index_dir=index_dir)
    embedder = cli.make_embedder(settings)
    missing = not (settings.index_dir / MANIFEST).is_file()
    if rebuild or missing:
        click.echo(f"Building the index of {settings.corpus_dir} at {settings.index_dir} ...")
        build_with_report(settings, embedder, quiet=False)
    # An index that exists but is stale, corrupt or built with another model is reported by
    # the server log and GET /ready; it is never silently replaced.
    click.echo(f"Serving on http://{settings.host}:{settings.port} (API docs at /docs)")
    configure_logging(settings.log_level, settings.log_format)
    # Our access log (with route, status, duration and request id) replaces uvicorn's.
    common = {"host": settings.host, "port": settings.port, "log_config": None, "access_log": False}
    if workers == 1:
        uvicorn.run(create_app(settings, embedder=embedder), log_level=settings.log_level, **common)
        return
    embedder.embed(["prepare the encoder (an ONNX export happens once, here, not in every worker)"])
    # Each worker process reads its settings from the environment: pass on what the options set.
    os.environ.update(
        QA_HOST=settings.host,
        QA_PORT=str(settings.port),
        QA_CORPUS_DIR=str(settings.corpus_dir),
        QA_INDEX_DIR=str(settings.index_dir),
    )
    made = None
    if not os.environ.get(MULTIPROCESS_ENV):  # metrics summed over the workers (prometheus-client)
        made = os.environ[MULTIPROCESS_ENV] = tempfile.mkdtemp(prefix="qa-metrics-")
    try:
        uvicorn.run(
            "qa.api.app:app_from_environment",
            factory=True,
            workers=workers,
            log_level=settings.log_level,
            **common,
        )
    finally:
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)
