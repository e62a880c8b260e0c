"""The speed figures of the documentation site: the saved ``make bench`` run as a Markdown table.

``python -m benchmarks.docs_page [PAGE]`` (``make docs``) writes ``page(results)`` of
``benchmarks/results.json`` to PAGE (default ``docs/reference/performance.md``), which
``docs/performance.md`` embeds. The rows are ``bench.rows_of``'s, the table ``make bench`` prints;
the run's date and machine head it, since every figure in it comes from that one run.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

from etl_lib.ops.reference import banner, table

from .bench import SAVED, rows_of

COMMAND = "python -m benchmarks.docs_page"
DEFAULT_PAGE = Path("docs/reference/performance.md")


def run_line(results: dict) -> str:
    """When and where the run was made, from its ``when`` and ``machine``."""
    when = results.get("when")
    stamp = dt.datetime.fromisoformat(when).strftime("%Y-%m-%d %H:%M UTC") if when else "an unrecorded date"
    machine = results.get("machine", {})
    host = ", ".join(
        part
        for part in (
            machine.get("cpu"),
            f"{machine['cores']} cores" if "cores" in machine else None,
            f"{machine['memory_gb']:g} GB RAM" if "memory_gb" in machine else None,
            machine.get("system"),
            f"Python {machine['python']}" if "python" in machine else None,
        )
        if part
    )
    load = machine.get("load_average_at_start")
    extras = []
    if load:
        extras.append("load average at the start " + ", ".join(f"{x:.2f}" for x in load))
    if "import_seconds" in machine:
        extras.append(f'`python -c "import pandas, sqlalchemy, httpx"` took {machine["import_seconds"]:.2f} s')
    return (
        f"Every figure below comes from one `make bench SAVE=1` run, made on {stamp} on {host or 'an unrecorded machine'}"
        + (f" ({'; '.join(extras)})" if extras else "")
        + "."
    )


def page(results: dict) -> str:
    rows = [(_indented(what), figure, notes) for what, figure, notes in rows_of(results)]
    return (
        "\n\n".join(
            [
                banner("benchmarks/results.json", f"{COMMAND} docs/reference/performance.md"),
                run_line(results),
                table(("what", "figure", "notes"), rows),
            ]
        )
        + "\n"
    )


def _indented(what: str) -> str:
    """``rows_of`` marks a figure that details the row above by indenting it; Markdown would drop the spaces."""
    stripped = what.lstrip()
    return f"… {stripped}" if stripped != what else what


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1:
        raise SystemExit(f"usage: {COMMAND} [PAGE]  (default: {DEFAULT_PAGE})")
    path = Path(args[0]) if args else DEFAULT_PAGE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page(json.loads(SAVED.read_text())), encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
