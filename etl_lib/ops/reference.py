"""The generated pages of the documentation site: Markdown made from the code, so they cannot drift.

One function per page returns its Markdown; ``python -m etl_lib.ops.reference [DOCS_DIR]`` writes
them into ``DOCS_DIR/reference/`` (default ``docs/``), where the hand-written pages embed them
(``pymdownx.snippets``). ``make docs`` runs this, then builds the site strictly; the docs test holds
every page here equal to what is committed. The output is deterministic: no dates, no machine paths
(defaults under the project's root are shown relative to it).

- ``checks_page``: the quality checks (the registry ``CHECKS`` of ``etl_lib.pipeline.quality``) and their thresholds;
- ``configuration_page``: the settings (``etl_lib.config.settings.Settings``): variable, default, meaning;
- ``cli_page``: every command of ``etl`` (``etl_lib.ops.cli.app``) with its arguments and options;
- ``categories_page``: the IEC 61400-26-1 categories, how each view and loss group counts them, and the
  simulator's status codes.

The speed figures' table is generated outside the library (``benchmarks/docs_page.py``).
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from pathlib import Path

from ..config.settings import PROJECT_ROOT
from ..core.contract import SOURCE_VARIABLES

COMMAND = "python -m etl_lib.ops.reference"


def banner(source: str, command: str = COMMAND) -> str:
    """The first line of a generated page: that it is generated, from what, and by which command."""
    return f"<!-- Generated from {source} by `{command}` (make docs). Do not edit: edit the code and run make docs. -->"


def cell(value: object) -> str:
    """``value`` as the text of one Markdown table cell (no line breaks, no bare ``|``)."""
    return " ".join(str(value).split()).replace("|", "\\|")


def table(header: tuple[str, ...], rows: list[tuple[object, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def page(*parts: str) -> str:
    return "\n\n".join(part.strip("\n") for part in parts if part) + "\n"


# --- the quality checks -------------------------------------------------------------------------------


def check_rows() -> list[tuple[str, str, tuple[str, ...], str, tuple[str, ...]]]:
    """Every check of the registry ``CHECKS`` in order: its name, when it flags a sample, the variables it
    can flag, its rule with the default thresholds as one line of text, and the thresholds it reads."""
    from ..pipeline.quality import CHECKS, QualityThresholds

    rules = QualityThresholds().describe()
    return [
        (
            check.name,
            check.description,
            tuple(variable for variable in SOURCE_VARIABLES if check.applies_to(variable)),
            rules[check.name],
            check.thresholds,
        )
        for check in CHECKS
    ]


def threshold_rows() -> list[tuple[str, str, str]]:
    """Every field of ``QualityThresholds``: name, default and description."""
    from ..pipeline.quality import QualityThresholds

    return [
        (name, _number(field.default), field.description or "")
        for name, field in QualityThresholds.model_fields.items()
    ]


def checks_page() -> str:
    checks = [
        (f"`{name}`", description, ", ".join(variables), rule, ", ".join(f"`{t}`" for t in read) or "—")
        for name, description, variables, rule, read in check_rows()
    ]
    thresholds = [(f"`{name}`", f"`{default}`", description) for name, default, description in threshold_rows()]
    return page(
        banner("etl_lib/pipeline/quality.py"),
        "### The checks",
        table(("check", "flags a sample when", "flags", "rule (default thresholds)", "reads"), checks),
        "### The thresholds",
        "Every field of `QualityThresholds`, overridable by name; durations are minutes, whatever the sample period.",
        table(("threshold", "default", "meaning"), thresholds),
    )


def _number(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


# --- the configuration --------------------------------------------------------------------------------


def setting_rows() -> list[tuple[str, str, str]]:
    """Every field of the settings: its environment variable, its default and its description.

    Raises ``ValueError`` for a field without a description: every setting is documented where it is
    declared."""
    from ..config.settings import Settings

    rows = []
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        choices = getattr(alias, "choices", [alias])
        variable = next(choice for choice in choices if isinstance(choice, str) and choice.isupper())
        if not field.description:
            raise ValueError(
                f"The setting {name} ({variable}) has no description: give its Field a description= "
                "in etl_lib/config/settings.py."
            )
        rows.append((variable, _default(field.default), field.description))
    return rows


def _default(value: object) -> str:
    """A default as the page shows it: unset, a number, or a path relative to the project's root."""
    if value is None:
        return "unset"
    if isinstance(value, Path):
        try:
            relative = value.relative_to(PROJECT_ROOT)
        except ValueError:
            return f"`{value}`"
        return f"`{relative.as_posix()}{'' if relative.suffix else '/'}` (in the project)"
    return f"`{_number(value)}`"


def configuration_page() -> str:
    rows = [(f"`{variable}`", default, description) for variable, default, description in setting_rows()]
    return page(banner("etl_lib/config/settings.py"), table(("variable", "default", "meaning"), rows))


# --- the command line ---------------------------------------------------------------------------------


def cli_page() -> str:
    """Every command and subcommand of ``etl``, read from the Typer app as click objects."""
    import typer.main

    from .cli import app

    root = typer.main.get_command(app)
    parts = [banner("etl_lib/ops/cli.py")]
    for path, command in _commands(root, ("etl",)):
        parts.append(_command_section(path, command))
    return page(*parts)


def _commands(command, path: tuple[str, ...]):
    """``(path, command)`` for ``command`` and every command under it, depth first, in declared order."""
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        if not sub.hidden:
            yield from _commands(sub, (*path, name))


def _command_section(path: tuple[str, ...], command) -> str:
    context = command.context_class(command, info_name=path[-1])
    params = [p for p in command.params if not p.hidden]
    arguments = [p for p in params if p.param_type_name == "argument"]
    options = [p for p in params if p.param_type_name == "option"]
    usage = " ".join(
        [*path, *(["[OPTIONS]"] if options else []), *(p.name.upper() for p in arguments)]
        + (["COMMAND [ARGS]..."] if getattr(command, "commands", None) else [])
    )
    rows = [
        (f"`{p.name.upper()}`", _type(p, context), "required" if p.required else _param_default(p), p.help or "")
        for p in arguments
    ]
    rows += [(_option_names(p), _type(p, context), _param_default(p), p.help or "") for p in options]
    subcommands = [
        (f"[`{' '.join((*path, name))}`](#{'-'.join((*path, name))})", _first_line(sub.help))
        for name, sub in getattr(command, "commands", {}).items()
        if not sub.hidden
    ]
    return page(
        f"### `{' '.join(path)}` {{ #{'-'.join(path)} }}",
        f"```\n{usage}\n```",
        inspect.cleandoc(command.help or ""),
        table(("argument or option", "type", "default", "meaning"), rows) if rows else "",
        table(("command", "what it does"), subcommands) if subcommands else "",
    )


def _option_names(param) -> str:
    return " / ".join(f"`{name}`" for name in (*param.opts, *param.secondary_opts))


def _type(param, context) -> str:
    if getattr(param, "is_flag", False):
        return "flag"
    name = param.display_type(context).strip("<>").removesuffix(" range")
    low, high = getattr(param, "min", None), getattr(param, "max", None)
    if low is not None or high is not None:
        name += f", {'' if low is None else low}..{'' if high is None else high}"
    return name


def _param_default(param) -> str:
    default = param.default
    if getattr(param, "is_flag", False):
        if param.secondary_opts:
            return f"`{param.opts[0] if default else param.secondary_opts[0]}`"
        return "off" if not default else "on"
    if default is None:
        return "—"
    return f"`{_number(default)}`"


def _first_line(text: str | None) -> str:
    return inspect.cleandoc(text or "").split("\n\n")[0].replace("\n", " ")


# --- the IEC 61400-26-1 categories, the availability views, the loss groups, the simulated status codes ---


def categories_page() -> str:
    """How each category counts (``etl_lib.core.categories``) and the simulator's status codes."""
    from ..core.categories import CATEGORY_DESCRIPTIONS, GROUP_DESCRIPTIONS, GROUP_OF, LOSS_GROUPS, RANK, VIEWS
    from ..simulation.status_log import STATUS_CODES

    categories = [
        (
            f"`{category.value}`",
            CATEGORY_DESCRIPTIONS[category],
            RANK[category] + 1,
            VIEWS["user"][category],
            VIEWS["manufacturer"][category],
            f"`{GROUP_OF[category]}`",
        )
        for category in sorted(RANK, key=lambda c: list(CATEGORY_DESCRIPTIONS).index(c))
    ]
    groups = [
        (f"`lost_kwh_{group}`", GROUP_DESCRIPTIONS[group], ", ".join(f"`{c.value}`" for c in members))
        for group, members in LOSS_GROUPS.items()
    ]
    codes = [(status.code, status.description, f"`{status.category.value}`") for status in STATUS_CODES]
    return page(
        banner("etl_lib/core/categories.py and etl_lib/simulation/status_log.py"),
        "### The categories and how they count",
        "Priority 1 is the highest: where events overlap, the category of highest priority is the minute's. In each "
        "view a category is available time, unavailable time, or excluded from the period.",
        table(
            ("category", "what it means", "priority", "user's view", "manufacturer's view", "loss group"), categories
        ),
        "### The groups of lost production",
        table(("column", "what it holds", "categories"), groups),
        "### The simulator's status codes",
        table(("code", "description", "category"), codes),
    )


# --- writing ------------------------------------------------------------------------------------------

PAGES: dict[str, Callable[[], str]] = {
    "checks.md": checks_page,
    "configuration.md": configuration_page,
    "cli.md": cli_page,
    "categories.md": categories_page,
}


def write_pages(docs_dir: Path) -> list[Path]:
    """Write every generated page into ``docs_dir/reference/``; return the paths written."""
    folder = Path(docs_dir) / "reference"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, make in PAGES.items():
        path = folder / name
        path.write_text(make(), encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1:
        raise SystemExit(f"usage: {COMMAND} [DOCS_DIR]  (default: docs)")
    for path in write_pages(Path(args[0]) if args else Path("docs")):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
