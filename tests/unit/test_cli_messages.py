"""The `etl` command's help as a user reads it: every paragraph of a command's description reflows.
(The message of each error a user can cause: tests/integration/test_cli_messages.py.)"""

from __future__ import annotations

import inspect

from typer.testing import CliRunner

from etl_lib.ops.cli import app, stack_app


def test_help_reflows_every_paragraph_of_a_commands_description():
    """``etl CMD --help`` shows each paragraph of the command's docstring as one flowing text: at a width
    that fits it, on one line (the docstring's own line breaks are the source's, not the reader's).
    Before the CLI's Markdown mode, Rich kept them: "... (else nothing is run); a run that" ended a line.
    Typer's own test runner, in this process (help is printed before any of our code runs: a process per
    command took four seconds for nothing more)."""
    runner = CliRunner()
    commands = {(c.name or c.callback.__name__,): c.callback for c in app.registered_commands}
    commands |= {("stack", c.name): c.callback for c in stack_app.registered_commands}
    assert ("run",) in commands and ("stack", "up") in commands
    for words, callback in commands.items():
        shown = runner.invoke(app, [*words, "--help"], env={"COLUMNS": "400"})
        assert shown.exit_code == 0, shown.output
        lines = [" ".join(line.split()) for line in shown.stdout.splitlines()]
        for paragraph in inspect.getdoc(callback).split("\n\n"):  # Markdown: `code` is shown without the marks
            assert " ".join(paragraph.replace("`", "").split()) in lines, (words, paragraph, shown.stdout)
