"""The `etl` command's help as a user reads it: every paragraph of a command's description reflows.
(The message of each error a user can cause: tests/integration/test_cli_messages.py.)"""

from __future__ import annotations

from harness.process_faults import etl

SECRET = "s3cret-pw"
LEAKS = ("Traceback", SECRET, "[SQL", "INSERT INTO", "[parameters", "sqlalche.me")


CASES = {
    "API down, through the notebook": (("run", "2024-10-02"), "api", "could not be reached"),
    "API down, library only": (("run", "2024-10-02", "--no-report"), "api", "could not be reached"),
    "target down, through the notebook": (
        ("run", "2024-10-02"),
        "target",
        "failed with OperationalError: connection to server",
    ),
    "target down, library only": (
        ("run", "2024-10-02", "--no-report"),
        "target",
        "The target database failed: connection to server",
    ),
    "source down: seed": (("seed",), "source", "The source database failed: connection to server"),
    "source down: init": (("init",), "source", "The source database failed: connection to server"),
    "full-width digits": (("run", "２０２４-１０-０２", "--no-report"), None, "(ASCII digits 0-9)"),
    "a year typed 1924": (("run", "1924-10-02", "--no-report"), None, "is before 2000-01-01"),
    "a backfill of a century": (("backfill", "1924-10-01", "2024-09-30"), None, "is before 2000-01-01"),
    "a backfill of 15 years": (("backfill", "2009-10-01", "2024-09-30"), None, "more than 3,660"),
}


def test_help_reflows_every_paragraph_of_a_commands_description():
    """``etl CMD --help`` shows each paragraph of the command's docstring as one flowing text: at a width
    that fits it, on one line (the docstring's own line breaks are the source's, not the reader's).
    Before the CLI's Markdown mode, Rich kept them: "... (else nothing is run); a run that" ended a line."""
    import inspect

    from etl_lib.ops.cli import app, stack_app

    commands = {(c.name or c.callback.__name__,): c.callback for c in app.registered_commands}
    commands |= {("stack", c.name): c.callback for c in stack_app.registered_commands}
    assert ("run",) in commands and ("stack", "up") in commands
    for words, callback in commands.items():
        shown = etl(*words, "--help", env={"COLUMNS": "400"})
        assert shown.returncode == 0, shown.stderr
        lines = [" ".join(line.split()) for line in shown.stdout.splitlines()]
        for paragraph in inspect.getdoc(callback).split("\n\n"):  # Markdown: `code` is shown without the marks
            assert " ".join(paragraph.replace("`", "").split()) in lines, (words, paragraph, shown.stdout)
