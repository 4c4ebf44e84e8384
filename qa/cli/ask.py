"""``qa ask``: the passages that best match a question, in the terminal or as JSON."""

from __future__ import annotations

import textwrap
from pathlib import Path

import click

from qa.cli.common import CliContext, domain_errors, index_option, make_settings, pass_cli
from qa.retrieval.query import Filters
from qa.serving.schemas.query import query_response
from qa.serving.service import DEFAULT_MODE, MODES, QAService
from qa.text import join_path


@click.command("ask")
@click.argument("question")
@click.option("-k", "k", type=click.IntRange(1, 50), default=5, show_default=True, help="Results to return.")
@click.option("--mode", type=click.Choice(MODES), default=DEFAULT_MODE, show_default=True, help="Retrieval mode.")
@click.option("--doc", "doc_ids", multiple=True, help="Only this document (repeatable).")
@click.option("--section", "sections", multiple=True, help="Only passages under this heading (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the same JSON as POST /query.")
@index_option
@domain_errors
@pass_cli
def ask_command(
    cli: CliContext,
    question: str,
    k: int,
    mode: str,
    doc_ids: tuple[str, ...],
    sections: tuple[str, ...],
    as_json: bool,
    index_dir: Path | None,
) -> None:
    """Print the passages that best match QUESTION."""
    settings = make_settings(index_dir=index_dir)
    answer = QAService.open(settings, cli.make_embedder(settings)).ask(question, k, mode, Filters(doc_ids, sections))
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
