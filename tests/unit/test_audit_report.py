"""The audit report's header: the command that made the report, for a date, turbines and thresholds.
(The report's tables and figures of real farm runs: tests/integration/test_audit_report.py.)"""

from __future__ import annotations

import shlex

import nbformat
import yaml

from etl_lib.config.settings import PROJECT_ROOT
from etl_lib.reports import audit

SATURATED = 3276.7  # kW: WT01's 2024-10-06 09:10 fault (docs/quality.md)


def test_the_header_renders_the_command_that_ran_for_that_date_turbines_and_thresholds():
    plain = audit.header("2024-10-06").source
    assert "## 2024-10-06 (UTC), the whole farm" in plain
    assert "papermill notebooks/etl.ipynb runs/2024-10-06.ipynb -p date 2024-10-06\n" in plain
    assert "`etl run 2024-10-06` runs the same" in plain
    command = audit.command("2024-10-06", {"power_max_factor": 2.0, "frozen_wind_speed": 15}, turbines=["WT01", "WT03"])
    arguments = shlex.split(command)
    assert arguments[:6] == ["papermill", "notebooks/etl.ipynb", "runs/2024-10-06.ipynb", "-p", "date", "2024-10-06"]
    parameters = {}
    for flag, value in zip(arguments[6::2], arguments[7::2]):
        assert flag == "-y"
        parameters.update(yaml.safe_load(value))
    assert parameters == {
        "turbines": ["WT01", "WT03"],
        "thresholds": {"power_max_factor": 2.0, "frozen_wind_speed": 15},
    }
    assert "etl run" not in audit.header("2024-10-06", {"power_max_factor": 2.0}).source  # not the same run
    assert "the turbines WT03" in audit.header("2024-10-06", turbines="WT03").source
    hidden = audit.command("2024-10-06", target_database_url="postgresql+psycopg2://etl:s3cret@db:5432/target")
    assert "s3cret" not in hidden and "etl:***@db:5432/target" in hidden


def test_the_report_opens_with_what_the_farm_did_before_the_datas_quality():
    """The audit notebook's order (issue #20): the KPI and loss tables, the waterfall and the categories'
    timeline right after the run, before the farm's data and the checks."""
    cells = [c.source for c in nbformat.read(PROJECT_ROOT / "notebooks" / "etl.ipynb", as_version=4).cells]

    def first(text: str) -> int:
        return next(i for i, source in enumerate(cells) if text in source)

    kpis = first("audit.kpi_table(result)")
    assert first("run_etl(date") < kpis < first("audit.farm_table(result)") < first("audit.checks_table(result)")
    for part in ("audit.loss_table(result)", "audit.loss_waterfall_figure(result)", "audit.category_timeline_figure"):
        assert part in cells[kpis], part
    assert cells[kpis - 1].startswith("## What the farm did")
