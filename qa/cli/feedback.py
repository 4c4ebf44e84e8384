"""``qa feedback export``: readers' feedback as a gold set that ``qa eval --eval-file`` reads."""

from __future__ import annotations

import json
from pathlib import Path

import click

from qa.cli.common import domain_errors, make_settings
from qa.errors import ConfigError
from qa.serving.feedback import DB_FILE, FeedbackStore, export


@click.group("feedback")
def feedback_group() -> None:
    """Readers' feedback on chat answers (recorded by `qa serve`, POST /feedback)."""


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    tmp.replace(path)


@feedback_group.command("export")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True, help="Gold-set JSONL to write.")
@click.option(
    "--review",
    type=click.Path(path_type=Path, dir_okay=False),
    help="JSONL of the answers readers marked unhelpful, for a person to review [default: OUT with .review.jsonl].",
)
@click.option("--data-dir", type=click.Path(path_type=Path, file_okay=False), help="[env QA_DATA_DIR; default data]")
@domain_errors
def export_command(out: Path, review: Path | None, data_dir: Path | None) -> None:
    """Write helpful answers as gold-set lines (their citations become the gold sections) and list
    unhelpful ones for review."""
    settings = make_settings(data_dir=data_dir)
    database = settings.data_dir / DB_FILE
    if not database.is_file():
        raise ConfigError(f"no feedback at {database}; `qa serve` records it (POST /feedback), in QA_DATA_DIR")
    rows = FeedbackStore(database).rows()
    gold, to_review = export(rows)
    review = review or out.with_name(out.name.removesuffix(".jsonl") + ".review.jsonl")
    _write_jsonl(out, gold)
    _write_jsonl(review, to_review)
    click.echo(
        f"{len(rows)} pieces of feedback: {len(gold)} gold items -> {out}; {len(to_review)} for review -> {review}"
    )
    if gold:
        click.echo(f"Score them: qa eval --eval-file {out}")
