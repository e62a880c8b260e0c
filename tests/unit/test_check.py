"""`etl check FILE` as a user runs it: SCADA exports of a generated farm (1-minute and 10-minute, CSV and
Parquet, UTC and local time with a clock change, the industry's column names) checked with the
ETL's checks; unreadable input refused with the reason and a non-zero exit, without a traceback."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from etl_lib.core.errors import ConfigurationError, InputFileError
from etl_lib.core.scope import RunScope
from etl_lib.pipeline.check_file import check_file, flag_rows
from etl_lib.pipeline.extract_file import detect_period, models_for, read_export
from etl_lib.pipeline.quality import check_day
from etl_lib.simulation.faults import FARM, Fault
from harness.farm_data import FARM_MODELS, at, generated, ten_minute_means

ETL = str(Path(sys.executable).parent / "etl")
DAY = dt.date(2024, 10, 1)  # 2024-10-01..03: the default data's faults on the first and third day
SPRING = dt.date(2024, 3, 30)  # Europe's clocks go forward on 2024-03-31 at 01:00Z
FAULTS = (
    Fault("stuck", at(DAY, "10:00"), 70, "wind_speed", turbine="WT02"),
    Fault("curtailment", at(DAY, "18:00"), 240, value=600.0, turbine="WT03"),
)
# What the industry's exports call the columns, and --columns to map them.
THEIR_NAMES = {
    "turbine": "Turbine",
    "timestamp": "Date and time",
    "wind_speed": "Wind speed (m/s)",
    "power": "Power (kW)",
    "ambient_temperature": "Ambient temperature (°C)",
}
MAPPING = ",".join(f"{ours}={theirs}" for ours, theirs in THEIR_NAMES.items())


def etl_check(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([ETL, "check", *map(str, args)], capture_output=True, text=True, timeout=300)


def export(samples: pd.DataFrame, path: Path, *, timezone: str | None = None, names: dict | None = None) -> Path:
    """``samples`` as a SCADA export: CSV or Parquet by ``path``'s suffix; timestamps in ``timezone`` with their
    offset (as text in CSV), columns renamed to ``names``."""
    rows = samples.reset_index()
    if timezone is not None:
        rows["timestamp"] = rows["timestamp"].dt.tz_convert(timezone)
    if path.suffix == ".csv":
        rows["timestamp"] = rows["timestamp"].map(lambda stamp: stamp.isoformat())
        rows.rename(columns=names or {}).to_csv(path, index=False)
    else:
        rows.rename(columns=names or {}).to_parquet(path, index=False)
    return path


@pytest.fixture(scope="module")
def one_minute() -> pd.DataFrame:
    return generated(DAY, 3, FAULTS)


@pytest.fixture(scope="module")
def models_file(tmp_path_factory) -> Path:
    """A models file as a user writes it: catalogue names, a curve table of its own, * for the others."""
    folder = tmp_path_factory.mktemp("models")
    curve = pd.DataFrame({"wind_speed": FARM_MODELS["WT03"].wind_speeds, "power": FARM_MODELS["WT03"].powers})
    (folder / "e82.csv").write_text("# name: our E-82\n# cut_in: 2.5\n" + curve.to_csv(index=False))
    (folder / "models.csv").write_text("turbine,model\nWT01,V90/2000\nWT02,V90/2000\nWT03,e82.csv\n*,E-82/2000\n")
    return folder / "models.csv"


def read_flags(path: Path) -> pd.DataFrame:
    rows = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    rows["timestamp"] = pd.to_datetime(rows["timestamp"], utc=True)
    return rows.set_index(["turbine", "timestamp"])


def line_of(stdout: str, turbine: str, check_name: str) -> str:
    """The table's line of ``check`` for ``turbine`` (turbine names stand on the first line of their block)."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{turbine} "))
    return next(line for line in lines[start:] if check_name in line.split()[:2])


@pytest.mark.costly
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_one_minute_export_in_utc(tmp_path, one_minute, models_file, suffix):
    path = export(one_minute, tmp_path / f"scada{suffix}")
    out = tmp_path / "flags.parquet"
    done = etl_check(path, "--models", models_file, "--out", out)
    assert done.returncode == 0, done.stderr
    assert "4 turbine(s) (WT01, WT02, WT03, WT04)" in done.stdout and "sample period 1 min (detected)" in done.stdout
    assert "samples per turbine: WT01 4,320, WT02 4,320, WT03 4,320, WT04 4,320" in done.stdout
    assert "expected power of WT03: our E-82" in done.stdout
    assert line_of(done.stdout, "WT02", "frozen").split()[-6:-4] == ["70", "(1.62%)"]
    assert line_of(done.stdout, "WT03", "under_performance").split()[-2:] == ["240", "(5.56%)"]
    flags = read_flags(out)
    assert len(flags) == 4 * 3 * 1440
    frozen = flags.loc["WT02", "wind_speed.frozen"]
    assert frozen[frozen].index.equals(pd.date_range(at(DAY, "10:00"), periods=70, freq="1min"))
    assert flags["power.under_performance"].sum() == 240
    assert flags.loc["WT01"].filter(like=".good").all().all()  # nothing wrong with WT01


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_ten_minute_export_in_local_time_with_a_clock_change_duplicate(tmp_path, models_file, suffix):
    """Local time with offsets across the spring clock change; one interval written twice. The first is kept."""
    samples = ten_minute_means(
        generated(SPRING, 2, [Fault("stuck", at(SPRING, "12:00"), 120, "wind_speed", turbine="WT04")])
    )
    twice = samples.loc[[("WT01", at(SPRING + dt.timedelta(days=1), "01:00"))]].assign(power=1234.5)
    rows = pd.concat([samples, twice])  # the duplicate comes after the original in the file
    path = export(rows, tmp_path / f"scada{suffix}", timezone="Europe/Berlin", names=THEIR_NAMES)
    if suffix == ".csv":
        assert "2024-03-31T03:00:00+02:00" in path.read_text()
    out = tmp_path / "flags.csv"
    done = etl_check(path, "--models", models_file, "--columns", MAPPING, "--out", out)
    assert done.returncode == 0, done.stderr
    assert "sample period 10 min (detected)" in done.stdout
    assert "duplicated timestamps: 1 (the first row of each kept)" in done.stdout
    assert "WT01  2024-03-31T01:00:00+00:00  2 rows" in done.stdout
    assert "samples per turbine: WT01 288, WT02 288, WT03 288, WT04 288" in done.stdout
    flags = read_flags(out)
    assert len(flags) == 4 * 288 and not flags["wind_speed.gap"].any()
    assert flags.loc[("WT01", at(SPRING + dt.timedelta(days=1), "01:00")), "power"] != 1234.5  # the first row
    frozen = flags.loc["WT04", "wind_speed.frozen"]
    assert frozen[frozen].index.equals(pd.date_range(at(SPRING, "12:00"), periods=12, freq="10min"))
    others = flags.drop(index="WT04", level="turbine")
    assert others.filter(like=".good").all().all()  # nothing else, and no flag from the clock change


def test_the_file_check_runs_the_etl_checks(one_minute, models_file, tmp_path):
    """What `etl check` writes is what check_day says, day by day (here without the fitted curves)."""
    path = export(one_minute, tmp_path / "scada.parquet")
    result = check_file(path, str(models_file), fit=False, out=tmp_path / "flags.parquet")
    written = read_flags(tmp_path / "flags.parquet")
    file = read_export(path)
    models = models_for(str(models_file), file.turbines)
    for day in (DAY, DAY + dt.timedelta(days=2)):
        scope_rows = file.samples.values.index.get_level_values("timestamp").floor("D") == pd.Timestamp(day, tz="UTC")
        scope = RunScope.day(day, file.turbines)
        direct = flag_rows(
            check_day(file.samples.values[scope_rows], file.samples.non_finite[scope_rows], scope, models)
        )
        mine = written.loc[written.index.get_level_values("timestamp").floor("D") == pd.Timestamp(day, tz="UTC")]
        pd.testing.assert_frame_equal(mine.reset_index(), direct.reset_index(drop=True), check_dtype=False)
    assert result.days == [DAY, DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=2)]


def test_the_period_is_detected_or_given():
    index = pd.MultiIndex.from_product(
        [["WT01", "WT02"], pd.date_range("2024-10-01", periods=5, freq="10min")], names=["turbine", "timestamp"]
    )
    assert detect_period(index) == dt.timedelta(minutes=10)
    assert detect_period(index[[0, 5]]) is None


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        (None, [], "does not exist"),
        (b"\x89PNG\r\n\x1a\n\x00\x00 not a table", ["--period", "1min"], "cannot be read"),
        (b"turbine,time,wind_speed,power\nWT01,2024-10-01T00:00Z,5,300\n", [], "has no column for timestamp"),
        (b"turbine,timestamp,wind_speed,power\nWT01,01.10.2024 00:00,5,300\n", [], "data row 1: the timestamp"),
        (
            b"turbine,timestamp,wind_speed,power\nWT01,2024-10-01T00:00Z,5,300\nWT01,2024-10-01T00:01Z,five,300\n",
            [],
            "data row 2: the value 'five' of 'wind_speed' is not a number",
        ),
        (b"turbine,timestamp,wind_speed,power\nWT01,2024-10-01T00:00Z,5,300\n", [], "sample period cannot be told"),
        (
            b"turbine,timestamp,wind_speed,power\nWT09,2024-10-01T00:00Z,5,300\n",
            ["--period", "1min", "--models", "X"],
            "no turbine model 'X'",
        ),
        (b"turbine,timestamp,wind_speed,power\n", [], "has no rows"),
        (
            b"turbine,timestamp,wind_speed,power\nWT01,2024-10-01T00:00Z,5,300\n",
            ["--out", "flags.xlsx"],
            "is not one of .parquet, .csv",
        ),
        (
            b"turbine,timestamp,wind_speed,power\nWT01,2024-10-01T00:00Z,5,300\n",
            ["--thresholds", "frozen_wind=3"],
            "frozen_wind",
        ),
    ],
)
def test_unreadable_input_is_refused_with_the_reason(tmp_path, content, args, message):
    path = tmp_path / ("scada.parquet" if content and content.startswith(b"\x89") else "scada.csv")
    if content is not None:
        path.write_bytes(content)
    arguments = [*args] if "--models" in args else [*args, "--models", "V90/2000"]
    done = etl_check(path, *[str(tmp_path / a) if a.endswith(".xlsx") else a for a in arguments])
    assert done.returncode != 0
    assert message in done.stderr, done.stderr
    assert done.stderr.startswith("error: ") and "Traceback" not in done.stderr
    assert "What to do:" in done.stderr
    assert not list(tmp_path.glob("*flags*"))  # nothing half-written


def test_a_check_without_models_says_how_to_give_them(tmp_path, one_minute):
    path = export(one_minute.loc[["WT01"]], tmp_path / "scada.csv")
    with pytest.raises(ConfigurationError, match="needs each turbine's model"):
        check_file(path, None)
    done = etl_check(path)
    assert done.returncode == 1 and "--models" in done.stderr and "V90/2000" in done.stderr


def test_a_models_file_must_cover_every_turbine(tmp_path, one_minute):
    (tmp_path / "models.csv").write_text("turbine,model\nWT01,V90/2000\n")
    path = export(one_minute, tmp_path / "scada.csv")
    with pytest.raises(InputFileError, match="no model to the turbine\\(s\\) WT02, WT03, WT04"):
        check_file(path, str(tmp_path / "models.csv"))


def test_an_iced_majority_in_a_ten_minute_export(tmp_path, models_file):
    """Three of four anemometers iced at -2 °C, their turbines stopped, while the fourth produces: `etl check`
    names the iced anemometers and the stops the farm's power says were in wind."""
    day, iced = dt.date(2025, 2, 1), ("WT01", "WT02", "WT03")
    start = at(day, "12:30")  # three hours of 6-11 m/s in the generated day
    faults = [Fault("level", start, 180, "ambient_temperature", -2.0, turbine=FARM)]
    faults += [Fault("feathered", start, 180, "wind_speed", 0.3, turbine=name) for name in iced]
    path = export(ten_minute_means(generated(day, faults=faults)), tmp_path / "scada.csv")
    done = etl_check(path, "--models", models_file)
    assert done.returncode == 0, done.stderr
    for name in iced:
        assert line_of(done.stdout, name, "icing").split()[-2:] == ["18", "(12.50%)"], name
        assert line_of(done.stdout, name, "stopped_iced").split()[-2:] == ["18", "(12.50%)"], name
        assert line_of(done.stdout, name, "stopped_in_wind").split()[-2:] == ["0", "(0.00%)"], name
    assert line_of(done.stdout, "WT04", "good").split()[-6:] == ["144", "(100.00%)"] * 3


# --- hostile files: columns of another kind, instants no sample has, names that are not names ---------


def day_export(one_minute: pd.DataFrame, path: Path, **changes) -> Path:
    """A day of two turbines as an export, with columns replaced by ``changes`` (name -> values)."""
    rows = one_minute.loc[["WT01", "WT02"]].reset_index()
    rows = rows[rows["timestamp"] < pd.Timestamp(DAY + dt.timedelta(days=1), tz="UTC")].reset_index(drop=True)
    return export(rows.assign(**changes).set_index(["turbine", "timestamp"]), path)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_boolean_wind_speed_column_is_bad_input_not_numbers(tmp_path, one_minute, suffix):
    """True/False read as 1/0 made a day of 100 % good wind speeds out of a column of the wrong meaning."""
    path = day_export(one_minute, tmp_path / f"scada{suffix}", wind_speed=True)
    done = etl_check(path, "--models", "V90/2000")
    assert done.returncode == 2, done.stdout
    assert "the column 'wind_speed' holds true/false values, not numbers" in done.stderr


def test_true_and_false_among_numbers_are_refused_with_their_row(tmp_path):
    path = tmp_path / "scada.csv"
    path.write_text(
        "turbine,timestamp,wind_speed,power\nWT01,2024-10-01T00:00Z,5,300\nWT01,2024-10-01T00:01Z,True,300\n"
    )
    done = etl_check(path, "--models", "V90/2000")
    assert done.returncode == 2
    assert "data row 2: the value 'True' of 'wind_speed' is not a number" in done.stderr


def test_a_column_of_dates_as_power_is_bad_input(tmp_path, one_minute):
    path = day_export(one_minute, tmp_path / "scada.parquet", power=pd.Timestamp("2024-10-01"))
    done = etl_check(path, "--models", "V90/2000")
    assert done.returncode == 2
    assert "the column 'power' is of type datetime64" in done.stderr and "not numbers" in done.stderr


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_timestamp_the_checks_cannot_represent_is_bad_input_with_its_row(tmp_path, one_minute, suffix):
    """9999-12-31T23:59Z is an ISO instant; it ended in an unexpected "ValueError: year 10000 is out of range"."""
    rows = one_minute.loc[["WT01"]].reset_index().iloc[:1440]
    rows["timestamp"] = rows["timestamp"].astype("datetime64[us, UTC]")
    rows.loc[5, "timestamp"] = pd.Timestamp("9999-12-31T23:59", tz="UTC")
    path = export(rows.set_index(["turbine", "timestamp"]), tmp_path / f"scada{suffix}")
    done = etl_check(path, "--models", "V90/2000")
    assert done.returncode == 2, done.stderr
    assert "data row 6: the timestamp ('timestamp') 9999-12-31" in done.stderr
    assert "outside the instants the checks can represent" in done.stderr and "Traceback" not in done.stderr


# `etl check` as the console script runs it, which at its exit writes the process's peak resident memory
# (VmHWM: of this program alone; ru_maxrss would count the test process's pages, inherited at the spawn).
MEASURED_ETL = """
import atexit, sys
from etl_lib.ops.cli import main

def peak(to=sys.argv.pop(1)):
    with open("/proc/self/status") as status, open(to, "w") as out:
        out.write(next(line for line in status if line.startswith("VmHWM:")).split()[1])

atexit.register(peak)
sys.argv[0] = "etl"
main()
"""


def peak_memory_mib(*args: str, folder: Path) -> tuple[int, float, str]:
    """`etl check` run as a user runs it: its exit code, its peak resident memory (MiB) and its stderr."""
    done = subprocess.run(
        [sys.executable, "-c", MEASURED_ETL, str(folder / "peak"), "check", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    return done.returncode, int((folder / "peak").read_text()) / 1024, done.stderr


def with_a_turbine_named(one_minute: pd.DataFrame, path: Path, name: str, rows: int) -> Path:
    """Two turbines' day, and ``rows`` samples of a third turbine called ``name``, as a CSV export."""
    day = one_minute.loc[["WT01", "WT02"]].reset_index()
    day = day[day["timestamp"] < pd.Timestamp(DAY + dt.timedelta(days=1), tz="UTC")]
    third = day.iloc[:rows].assign(turbine=name)
    return export(pd.concat([day, third]).set_index(["turbine", "timestamp"]), path)


@pytest.mark.costly
def test_memory_does_not_grow_with_the_longest_turbine_name(tmp_path, one_minute):
    """Each output row was padded to the longest name: a 1 MB name took ~400 MB (3 GB with --out), 20 MB
    ran out of memory. A name over 256 characters is refused at once (exit 2, its row named), and up
    to that the table shows long names cut, and the flags file holds each name once."""
    out = tmp_path / "flags.parquet"
    code, baseline, stderr = peak_memory_mib(
        with_a_turbine_named(one_minute, tmp_path / "short.csv", "WT99", 10),
        "--models",
        "V90/2000",
        "--out",
        out,
        folder=tmp_path,
    )
    assert code == 0, stderr
    for size in (1_000_000, 20_000_000):
        path = with_a_turbine_named(one_minute, tmp_path / "long.csv", "X" * size, 1)
        code, peak, stderr = peak_memory_mib(path, "--models", "V90/2000", "--out", out, folder=tmp_path)
        assert peak < baseline + 4 * size / 2**20 + 64, (size, peak, baseline)  # the file read, and no more
        assert code == 2, stderr
        assert f"data row 2881: the turbine's name ('turbine') is {size:,} characters long" in stderr
    longest = "W" * 256  # the longest name allowed, on every row of its turbine
    path = with_a_turbine_named(one_minute, tmp_path / "longest.csv", longest, 1440)
    code, peak, stderr = peak_memory_mib(path, "--models", "V90/2000", "--out", out, folder=tmp_path)
    assert code == 0, stderr
    assert peak < baseline + 64, (peak, baseline)
    flags = pd.read_parquet(out)
    assert set(flags["turbine"]) == {"WT01", "WT02", longest} and len(flags) == 3 * 1440
    shown = etl_check(path, "--models", "V90/2000").stdout
    assert f"{'W' * 30}… (256 characters)" in shown and longest not in shown
    assert max(map(len, shown.splitlines())) < 400
