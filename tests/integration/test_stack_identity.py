"""`etl stack` knows its API by identity (pid, start time, command line), not by a pid that answers
``kill -0``: a zombie is dead, an unrelated process named by the pid file is stale and never
signalled, and `stack up` after a crash ends with a working API. Real processes throughout."""

from __future__ import annotations

import pytest

from harness import process_faults as faults


def test_an_api_killed_and_still_a_zombie_is_started_again(settings):
    outcome = faults.run_zombie_api(settings)
    assert outcome.succeeded, outcome.error


@pytest.mark.parametrize("recorded_as", ["pid", "identity"])
def test_a_pid_file_naming_an_unrelated_process_is_stale_and_that_process_is_left_alone(settings, recorded_as):
    outcome = faults.run_foreign_pid(settings, recorded_as=recorded_as)
    assert outcome.succeeded, outcome.error
