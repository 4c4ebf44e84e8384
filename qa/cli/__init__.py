"""The command-line adapter (Click): ``qa index``, ``qa ask``, ``qa eval``, ``qa serve``,
``qa feedback export``.

Each command reads the settings once (environment ``QA_*``, then its options), calls the
core, and turns domain errors into one-line messages and exit codes. Nothing outside this
package imports Click.
"""

from __future__ import annotations

import click

from qa.cli.ask import ask_command
from qa.cli.calibrate import calibrate_command
from qa.cli.evaluate import eval_command
from qa.cli.feedback import feedback_group
from qa.cli.index import index_command
from qa.cli.serve import serve_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="drugqa")
def main() -> None:
    """Question answering over drug reference documents, with exact source attribution."""


for command in (index_command, ask_command, eval_command, serve_command, feedback_group):
    main.add_command(command)
eval_command.add_command(calibrate_command)
