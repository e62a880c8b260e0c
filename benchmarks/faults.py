"""`make faults`: every fault scenario of etl_lib.faults on a throw-away stack, as a table.

For each fault: did the run succeed (after retries) or fail, with which error, how many requests
the faulty API saw, how long it took, and whether the target day was left unchanged (or correct).
The same scenarios are asserted in tests/test_reliability.py; here they are only printed.
Run with --messages to print each error message as the user would see it.
"""

from __future__ import annotations

import datetime as dt
import sys

import pandas as pd

from etl_lib import faults
from etl_lib.testing import temporary_stack

DAY = dt.date(2024, 10, 8)


def main(show_messages: bool = False) -> None:
    with temporary_stack(export_env=False) as settings:
        outcomes = [faults.run_api_fault(name, settings, DAY) for name in faults.api_scenarios(settings.api_base_url)]
        outcomes.append(faults.run_terminated_load(settings, DAY))
        outcomes.append(faults.run_concurrent(settings, DAY, threads=4, processes=4))
    retry = faults.FAST_RETRY
    print(f"Fault injection on {DAY}: {retry['http_retries']} retries, backoff {retry['http_backoff']} s, "
          f"timeout {retry['http_timeout']} s ({faults.HANG_TIMEOUT} s against the hanging API)\n")  # fmt: skip
    table = pd.DataFrame([outcome.row() for outcome in outcomes])
    print(table.to_string(index=False))
    if show_messages:
        for outcome in outcomes:
            if outcome.message:
                print(f"\n[{outcome.scenario}]\nerror: {outcome.message}")
    bad = [o.scenario for o in outcomes if not o.target.startswith(("unchanged", "correct"))]
    if bad:
        print(f"\nTARGET DAMAGED in: {', '.join(bad)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main(show_messages="--messages" in sys.argv[1:])
