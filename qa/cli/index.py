"""``qa index``: build the index."""

from __future__ import annotations

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


@click.command("index")
@corpus_option
@index_option
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
@domain_errors
@pass_cli
def index_command(cli: CliContext, corpus_dir: Path | None, index_dir: Path | None, quiet: bool) -> None:
    """Read, chunk and embed the corpus; write the index atomically."""
    settings = make_settings(corpus_dir=corpus_dir, index_dir=index_dir)
    build_with_report(settings, cli.make_embedder(settings), quiet=quiet)
