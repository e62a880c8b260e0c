"""`make faults`: every fault scenario of harness.fault_servers and harness.process_faults
on a throw-away stack, as a table.

For each fault: did the run succeed (after retries) or fail, with which error, how many requests
the faulty API saw (attempts, for the API restart), how long it took, whether the target day was
left unchanged (or correct), and what was left as the report where one is involved. The same
scenarios are asserted in tests/ (test_reliability, test_report_trail, test_stack_identity); here
they are only printed. A second table shows the API under stress (harness.api_stress, asserted in
tests/integration/test_api_stress.py): what the clients got, /health's slowest answer meanwhile, the API process's
memory. Run with --messages to print each error message as the user would see it.
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
from pathlib import Path

import pandas as pd

from etl_lib.config.settings import Settings
from etl_lib.pipeline.extract import RetryPolicy
from harness import api_stress, process_faults
from harness import fault_servers as faults
from harness.stack import temporary_stack

DAY = dt.date(2024, 10, 8)


def main(show_messages: bool = False) -> None:
    with temporary_stack(export_env=False) as settings:
        outcomes = [faults.run_api_fault(name, settings, DAY) for name in faults.api_scenarios(settings.api_base_url)]
        outcomes.append(faults.run_terminated_load(settings, DAY))
        outcomes.append(faults.run_concurrent(settings, DAY, threads=4, processes=4))
        outcomes.append(process_faults.run_api_restart(settings, DAY, down_seconds=20.0))
        outcomes.append(process_faults.run_zombie_api(settings))
        outcomes.extend(process_faults.run_foreign_pid(settings, recorded_as=form) for form in ("pid", "identity"))
        with tempfile.TemporaryDirectory() as folder:
            (Path(folder) / "a-file").write_text("")
            runs_under_a_file = Path(folder) / "a-file" / "runs"
            outcomes.append(
                process_faults.run_unwritable_reports(settings, DAY, runs_under_a_file, "path under a file")
            )
            outcomes.append(process_faults.run_killed(settings, DAY, Path(folder) / "runs"))
        outcomes.append(faults.run_non_finite_formats(settings))
        outcomes.append(api_stress.run_etl_killed_session(settings))
        stresses = api_stress.scenarios(settings)
    retry = faults.FAST_RETRY
    print(
        f"Fault injection on {DAY}: {retry['http_retries']} retries, backoff {retry['http_backoff']} s, "
        f"timeout {retry['http_timeout']} s ({faults.HANG_TIMEOUT} s against the hanging API); the API restart "
        f"with the default settings, attempts at {RetryPolicy.from_settings(Settings()).schedule()} s\n"
    )
    table = pd.DataFrame([outcome.row() for outcome in outcomes])
    print(table.to_string(index=False))
    print(
        f"\nThe API under stress (limits: {settings.api_pool_size} database connections, "
        f"{settings.api_max_answers} answers of which {settings.api_max_long_answers} long, "
        f"headers within {settings.api_header_timeout_s:g} s and {settings.api_max_header_bytes} bytes)\n"
    )
    print(pd.DataFrame([stress.row() for stress in stresses]).to_string(index=False))
    if show_messages:
        for outcome in outcomes:
            if outcome.message:
                print(f"\n[{outcome.scenario}]\nerror: {outcome.message}")
        for stress in stresses:
            print(f"\n[{stress.scenario}]\n{stress.facts}")
    bad = [o.scenario for o in outcomes if not o.target.startswith(("unchanged", "correct", "-"))]
    if bad:
        print(f"\nTARGET DAMAGED in: {', '.join(bad)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main(show_messages="--messages" in sys.argv[1:])
