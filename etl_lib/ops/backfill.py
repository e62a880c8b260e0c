"""Backfill: run every date of a range through ``run_etl`` (or ``run_notebook``), in parallel workers, for
every farm of the source (or the one named): one run per farm-day.

A failing day is recorded and the others go on; the result lists the failures. With one
worker the days run in this process on one kept HTTP connection; with more, each worker is its
own process with its own connections, and the notebook kernels of ``notebooks=True`` run side by side.

Through the notebook, a day has two results that can part ways: its data in the target and its
report in ``runs/``. A day whose notebook failed is looked up in the target's ``etl_run``, so a day
whose data was written but whose report was not counts as written (and as failed).

A day the source has no samples of is **skipped**, as Dagster skips it: not run, no report, no
record, and no failure (``run_etl`` refuses it; through the notebook it is asked before the kernel
starts, from the source's coverage, read once per worker). A backfill whose days all succeeded or
were skipped exits 0. With ``DAGSTER_HOME`` set, Dagster's instance is told of each day written
(``dagster_sync``), as ``etl run`` does.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from ..config.settings import Settings, get_settings
from ..core.contract import RunStatus
from ..core.dates import MAX_RANGE_DAYS, parse_run_date
from ..core.errors import InvalidDateError, NoCompleteBucketError, NoSourceDataError, NotebookRunError, clean_message
from .failures import as_etl_error


@dataclass(frozen=True)
class DayOutcome:
    """One day: ``ok`` when everything asked for was done (or the day was ``skipped``: the reason, the
    source having no samples of it); ``data_written`` says whether the day's data reached the target
    (None: unknown, the target could not be asked), ``report`` the report this run left (also for a
    failed cell: the report shows the error), ``record`` the run's ``etl_run`` row when it was read."""

    run_date: dt.date
    seconds: float
    rows_written: int | None = None
    report: Path | None = None
    error: str | None = None
    data_written: bool | None = None
    skipped: str | None = None
    record: dict | None = field(default=None, repr=False)
    farm: str | None = None  # the farm's name in a fleet of several (None: the source's only farm)

    @property
    def label(self) -> str:
        """``2024-10-01``, or ``WF02 2024-10-01`` in a fleet."""
        return self.run_date.isoformat() if self.farm is None else f"{self.farm} {self.run_date.isoformat()}"

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class BackfillResult:
    outcomes: list[DayOutcome]
    seconds: float
    workers: int
    notebooks: bool
    failures: list[DayOutcome] = field(init=False)

    skips: list[DayOutcome] = field(init=False)
    dagster_warning: str | None = None  # why Dagster's instance could not be told of the days written

    def __post_init__(self) -> None:
        self.outcomes.sort(key=lambda outcome: (outcome.run_date, outcome.farm or ""))
        self.failures = [outcome for outcome in self.outcomes if not outcome.ok]
        self.skips = [outcome for outcome in self.outcomes if outcome.skipped]

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def days_per_second(self) -> float:
        return len(self.outcomes) / self.seconds if self.seconds else float("inf")

    @property
    def farms(self) -> list[str]:
        """The farms of a fleet's backfill (empty for a source of one farm)."""
        return sorted({outcome.farm for outcome in self.outcomes if outcome.farm is not None})

    def summary(self) -> dict:
        fleet = {"farms": self.farms} if self.farms else {}
        return {
            **fleet,
            "days": len(self.outcomes),
            "succeeded": len(self.outcomes) - len(self.failures) - len(self.skips),
            "skipped": len(self.skips),
            "failed": len(self.failures),
            "data_written": sum(outcome.data_written is True for outcome in self.outcomes),
            "reports_written": sum(outcome.report is not None for outcome in self.outcomes),
            "workers": self.workers,
            "notebooks": self.notebooks,
            "seconds": round(self.seconds, 3),
            "days_per_second": round(self.days_per_second, 2),
            "rows_written": sum(outcome.rows_written or 0 for outcome in self.outcomes),
            "failures": [
                {
                    "date": f.run_date.isoformat(),
                    **({"farm": f.farm} if f.farm else {}),
                    "error": f.error,
                    "data_written": f.data_written,
                }
                for f in self.failures
            ],
            "skips": [
                {"date": s.run_date.isoformat(), **({"farm": s.farm} if s.farm else {}), "reason": s.skipped}
                for s in self.skips
            ],
        }

    def summary_line(self, start: str, end: str) -> str:
        """The one line ``etl backfill`` prints; through the notebook it says how many days' data and
        how many reports were written, which differ when a report failed after its data was written."""
        s = self.summary()
        days = f"farm-day(s) of {len(self.farms)} farms" if self.farms else "day(s)"
        line = f"backfill {start} to {end}: {s['succeeded']} of {s['days']} {days} done"
        line += (
            f", {s['skipped']} skipped (no source data), {s['failed']} failed"
            if s["skipped"]
            else f", {s['failed']} failed"
        )
        if self.notebooks:
            unknown = sum(outcome.data_written is None for outcome in self.outcomes)
            line += (
                f"; data written for {s['data_written']} day(s)"
                + (f" ({unknown} unknown: the target could not be asked)" if unknown else "")
                + f", reports for {s['reports_written']}"
            )
        return f"{line}, in {s['seconds']:.1f} s ({s['days_per_second']:.1f} days/s, {self.workers} worker(s))"

    def skipped_lines(self) -> list[str]:
        """The skipped days, a line per stretch of consecutive days (of a farm, in a fleet), with why (the first
        day's reason names what the source, or the farm, covers)."""
        lines, stretch = [], []
        skips = sorted(self.skips, key=lambda outcome: (outcome.farm or "", outcome.run_date))
        for outcome in [*skips, None]:
            if stretch and (
                outcome is None
                or outcome.farm != stretch[-1].farm
                or outcome.run_date != stretch[-1].run_date + dt.timedelta(days=1)
            ):
                first, last = stretch[0].run_date, stretch[-1].run_date
                days = first.isoformat() if first == last else f"{first} to {last} ({len(stretch)} days)"
                farm = "" if stretch[0].farm is None else f"{stretch[0].farm} "
                lines.append(f"SKIPPED {farm}{days}: {stretch[0].skipped}.")
                stretch = []
            if outcome is not None:
                stretch.append(outcome)
        return lines


def date_range(start: dt.date | str, end: dt.date | str, *, force: bool = False) -> list[dt.date]:
    """Every date from ``start`` to ``end``, both included (the way people name a backfill); at most
    ``MAX_RANGE_DAYS`` days unless ``force``."""
    first, last = parse_run_date(start), parse_run_date(end)
    if first > last:
        raise InvalidDateError(
            f"The backfill range {first.isoformat()} to {last.isoformat()} is empty: START is after END.",
            f"Give the earlier date first, e.g. etl backfill {last.isoformat()} {first.isoformat()}.",
            value=(start, end),
        )
    days = (last - first).days + 1
    if days > MAX_RANGE_DAYS and not force:
        raise InvalidDateError(
            f"The backfill range {first.isoformat()} to {last.isoformat()} is {days:,} days, "
            f"more than {MAX_RANGE_DAYS:,} (ten years); nothing was run.",
            "Check the years, or split the range; pass --force (force=True) if you mean it.",
            value=(start, end),
        )
    return [first + dt.timedelta(days=offset) for offset in range(days)]


def _process_context(notebooks: bool) -> multiprocessing.context.BaseContext:
    """A fork server where there is one: it imports the library once, then forks each worker
    ready to run (60 days on 2 workers here: 3.5 s, against 8.4 s when every worker is spawned and
    imports pandas itself). Neither start method hands a database connection to a worker."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["etl_lib.pipeline.run", *(["papermill"] if notebooks else [])])
    return context


# The state a worker keeps between days: its settings and one HTTP client.
_worker: dict = {}


def _start_worker(settings: Settings, notices: bool = False) -> None:
    _worker.clear()
    _worker["settings"] = settings
    if notices:  # a retry or a wait is said at once on stderr, from every worker
        from ..pipeline import notices as pipeline_notices

        pipeline_notices.show()


def _stop_worker() -> None:
    client = _worker.pop("client", None)
    if client is not None:
        client.close()


def _client():
    """The worker's HTTP client, made at its first use."""
    from ..pipeline.extract import make_client

    if "client" not in _worker:
        _worker["client"] = make_client(_worker["settings"])
    return _worker["client"]


def _skipped(run_date: dt.date, started: float, error: NoSourceDataError, farm: str | None = None) -> DayOutcome:
    """A day the source has no samples of: ``skipped`` says so, and what the source (or the farm) covers."""
    if isinstance(error, NoCompleteBucketError):  # a day not over yet, without a complete bucket so far
        reason = error.problem
    else:
        reason = "the source has no samples of it" + (f"; {error.covers}" if error.covers else "")
    return DayOutcome(run_date, time.perf_counter() - started, data_written=False, skipped=reason, farm=farm)


def _run_day(run_date: dt.date, notebooks: bool, farm: str | None = None, fleet: bool = False) -> DayOutcome:
    """One farm-day through the same library call as ``etl run`` (``farm``: its name, None for the source's only
    farm; ``fleet``: the source holds several); any failure becomes the outcome's error."""
    if notebooks:
        return _run_day_notebook(run_date, farm, fleet)
    settings = _worker["settings"]
    started = time.perf_counter()
    named = farm if fleet else None  # an outcome names its farm in a fleet
    try:
        from ..pipeline.run import run_etl

        result = run_etl(run_date, settings, farm=farm, client=_client())
        record = _read_record(settings, result.key) if settings.dagster_home is not None else None
        return DayOutcome(
            run_date,
            time.perf_counter() - started,
            rows_written=result.rows_written,
            data_written=True,
            record=record,
            farm=named,
        )
    except NoSourceDataError as exc:  # no run: skipped, as Dagster skips it
        return _skipped(run_date, started, exc, named)
    except Exception as exc:  # a bug on one day must not stop the others; the summary shows it
        return DayOutcome(run_date, time.perf_counter() - started, error=describe(exc), data_written=False, farm=named)


def _read_record(settings: Settings, key: str) -> dict | None:
    """The run's record (for Dagster's metadata); None when the target cannot say."""
    from ..storage.engines import target_engine
    from ..storage.run_record import read_run

    try:
        return read_run(target_engine(settings), key)
    except Exception:  # the day is written; only Dagster's copy of its metadata is lost, and the summary says so
        return None


def _day_without_data(run_date: dt.date, farm: str | None = None) -> NoSourceDataError | None:
    """Whether the source (the farm named ``farm``, in a fleet) lacks the day, from its coverage (read once per
    worker and farm) and, inside it, one small request; asked before a notebook's kernel starts."""
    from ..pipeline.coverage import day_without_data, fetch_coverage
    from ..pipeline.extract import RetryPolicy

    retry = RetryPolicy.from_settings(_worker["settings"])
    coverages = _worker.setdefault("coverage", {})
    if farm not in coverages:
        coverages[farm] = fetch_coverage(_client(), retry, farm)
    return day_without_data(_client(), run_date, retry, coverages[farm], farm)


def _run_day_notebook(run_date: dt.date, farm: str | None = None, fleet: bool = False) -> DayOutcome:
    """One farm-day through the notebook; the run's record says what was written, also when it failed."""
    from ..notebook.runner import run_notebook

    started = time.perf_counter()
    named = farm if fleet else None
    try:
        missing = _day_without_data(run_date, named)
        if missing is not None:
            return _skipped(run_date, started, missing, named)
        done = run_notebook(run_date, _worker["settings"], farm=farm, fleet=fleet)
    except Exception as exc:
        # A notebook that ran carries its record (None: the target could not be asked); one that never
        # started (a bad setting, a folder refusing the report) has none and wrote nothing.
        record = getattr(exc, "record", {})
        written = None if record is None else record.get("status") == RunStatus.SUCCEEDED
        return DayOutcome(
            run_date,
            time.perf_counter() - started,
            rows_written=(record or {}).get("rows_written") if written else None,
            report=exc.report if isinstance(exc, NotebookRunError) else None,
            error=describe(exc),
            data_written=written,
            record=record or None,
            farm=named,
        )
    record = done.record
    return DayOutcome(
        run_date,
        time.perf_counter() - started,
        rows_written=(record or {}).get("rows_written"),
        report=done.report,
        error=None
        if done.ok
        else (record or {}).get("report_error")
        or f"{done.report} ran without an error, but the run's record could not be read or does not say it succeeded",
        data_written=None if record is None else record["status"] == RunStatus.SUCCEEDED,
        record=record,
        farm=named,
    )


def fleet_of(settings: Settings, farm: str | None = None) -> tuple[list[str | None], bool]:
    """The farms a backfill runs (every farm of the source, or the one named: an unknown name is an error that
    lists them) and whether the source holds several; a source of one farm runs it unnamed (``[None]``), as
    ``etl run`` does. An API that cannot be reached leaves that to each day: the farm named (or the source's
    only one) is run, and each day fails with the API's error, saying its retries as it waits."""
    from ..core.errors import SourceUnavailableError
    from ..pipeline.extract import RetryPolicy, choose_farm, fetch_farms, make_client

    try:
        with make_client(settings) as client:
            farms = fetch_farms(client, retry=RetryPolicy.from_settings(settings))
    except SourceUnavailableError:
        return [farm], False
    fleet = len(farms) > 1
    if farm is not None:
        chosen = choose_farm(farms, farm).name
        return [chosen if fleet else None], fleet
    return ([site.name for site in farms] if fleet else [None]), fleet


def describe(exc: BaseException) -> str:
    """A day's failure as the CLI would print it: the project's message, without SQL text."""
    return clean_message(str(as_etl_error(exc, "target")))


def _progress(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="day", disable=not enabled, dynamic_ncols=True)


def run_backfill(
    dates: Iterable[dt.date],
    settings: Settings | None = None,
    *,
    workers: int = 1,
    notebooks: bool = False,
    progress: bool = True,
    notices: bool = False,
    farm: str | None = None,
) -> BackfillResult:
    """Run every date of every farm (or of the farm named ``farm``): one run per farm-day; return all outcomes
    (sorted by date, then farm) with the failures listed. With ``notices``, every retry and wait of a run is
    said on stderr as it happens (``pipeline.notices``)."""
    settings = settings or get_settings()
    dates = list(dates)
    if workers < 1:
        raise ValueError(f"workers must be 1 or more, not {workers}")
    if notices:  # the fleet's farms are asked for first: a retry is said at once on stderr, as a day's
        from ..pipeline import notices as pipeline_notices

        pipeline_notices.show()
    farms, fleet = fleet_of(settings, farm) if dates else ([farm], False)
    items = [(run_date, name) for run_date in dates for name in farms]
    if notebooks and dates:  # a folder that refuses reports fails the backfill before any day runs
        from ..notebook.runner import check_writable, report_path

        for name in farms:
            check_writable(report_path(dates[0], settings, name if fleet else None))
    return run_farm_days(
        items, settings, fleet=fleet, workers=workers, notebooks=notebooks, progress=progress, notices=notices
    )


def run_farm_days(
    items: list[tuple[dt.date, str | None]],
    settings: Settings,
    *,
    fleet: bool,
    workers: int = 1,
    notebooks: bool = False,
    progress: bool = False,
    notices: bool = False,
) -> BackfillResult:
    """Run exactly these farm-days (``(day, farm name)``; the name None for the source's only farm; ``fleet``:
    the source holds several farms), as ``run_backfill`` runs its own: one run each, a failed one does not stop
    the others; Dagster is told of the days written when ``DAGSTER_HOME`` is set. ``etl sync`` calls this."""
    workers = min(workers, max(len(items), 1))
    outcomes: list[DayOutcome] = []
    started = time.perf_counter()
    with _progress(len(items), progress) as bar:

        def record(outcome: DayOutcome) -> None:
            outcomes.append(outcome)
            bar.update(1)
            if not outcome.ok:
                bar.set_postfix(failed=sum(not o.ok for o in outcomes))

        if workers == 1:
            _start_worker(settings, notices)
            try:
                for run_date, name in items:
                    record(_run_day(run_date, notebooks, name, fleet))
            finally:
                _stop_worker()
        else:
            context = _process_context(notebooks)
            with ProcessPoolExecutor(
                workers, mp_context=context, initializer=_start_worker, initargs=(settings, notices)
            ) as pool:
                futures = {
                    pool.submit(_run_day, run_date, notebooks, name, fleet): (run_date, name)
                    for run_date, name in items
                }
                for future in as_completed(futures):
                    try:
                        outcome = future.result()
                    except Exception as exc:  # the worker process itself died (killed, out of memory)
                        run_date, name = futures[future]
                        outcome = DayOutcome(
                            run_date, 0.0, error=f"its worker process failed: {exc!r}", farm=name if fleet else None
                        )
                    record(outcome)
    result = BackfillResult(outcomes, time.perf_counter() - started, workers, notebooks)
    if settings.dagster_home is not None:
        from .dagster_sync import tell_dagster

        written = [o for o in result.outcomes if o.data_written]
        _, warning = tell_dagster(settings, [(o.record, o.report, True) for o in written], "etl backfill")
        unread = [o.label for o in written if o.record is None]
        if unread:  # written, but their records could not be read back for Dagster's metadata
            warning = "\n".join(
                filter(
                    None,
                    [
                        warning,
                        f"warning: Dagster was not told of {', '.join(unread)}: their run records could not be read.",
                    ],
                )
            )
        result.dagster_warning = warning
    return result
