"""``qa eval calibrate``: match-signal thresholds from the answerable questions of one or more
evaluation runs (their report directories), each run holding for itself."""

from __future__ import annotations

from pathlib import Path

import click

from qa.cli.common import domain_errors
from qa.errors import ConfigError
from qa.evaluation.calibration import answered_in_report, calibration_for
from qa.indexing.calibration import CALIBRATION_FILE
from qa.serving.service import DEFAULT_MODE


@click.command("calibrate")
@click.argument("reports", nargs=-1, required=True, type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--retriever", default=DEFAULT_MODE, show_default=True, help="Whose outcomes to calibrate on.")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), help="Write the calibration to this file.")
@click.option(
    "--index",
    "index_dirs",
    multiple=True,
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="Also install it in this index directory (repeatable).",
)
@domain_errors
def calibrate_command(
    reports: tuple[Path, ...], retriever: str, out: Path | None, index_dirs: tuple[Path, ...]
) -> None:
    """Set thresholds from REPORTS (eval/reports/<run> directories written by `qa eval`).

    \b
    qa eval calibrate eval/reports/<consumer run> eval/reports/<medquad run> \\
        --out qa/indexing/calibrations/all-MiniLM-L6-v2.json
    """
    if not out and not index_dirs:
        raise ConfigError("say where the calibration goes: --out FILE and/or --index DIR")
    sets, models, sources = {}, set(), {}
    for report in reports:
        answered, name, model = answered_in_report(report, retriever)
        sets[name] = answered
        models.add(model)
        sources[name] = str(report)
    if len(models) != 1:
        raise ConfigError(f"the reports come from indexes of different models ({', '.join(sorted(models))})")
    calibration = calibration_for(sets, models.pop(), retriever, sources)
    for target in ([out] if out else []) + [d / CALIBRATION_FILE for d in index_dirs]:
        target.parent.mkdir(parents=True, exist_ok=True)
        calibration.save(target)
        click.echo(f"wrote {target}")
    click.echo(f"none below {calibration.none_below:.4f}, strong from {calibration.strong_from:.4f}")
    for name, stats in calibration.calibrated_on["sets"].items():
        click.echo(f"  {name}: {stats}")
