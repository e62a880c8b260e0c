"""Dagster's view of what the farms did: ``daily_kpis`` on the same partitions farm x day as
``daily_statistics`` (which writes them, in the day's transaction), its checks, and the monthly roll-up
``monthly_kpis`` (farm x month).

Both read the target's ``turbine_day_kpi`` rows of the partition's farm and aggregate them with
``metrics.kpis.period_kpis``, as ``etl kpis --farm FARM`` does: the farm's and each turbine's figures become
the materialization's metadata.
The checks: the sum rule (potential = produced + the losses, to the kWh) as an error, and the
availability below the contract's threshold as a warning.
"""

# No `from __future__ import annotations`: Dagster reads the type hints of assets and checks.
import datetime as dt
import warnings

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetDep,
    AssetExecutionContext,
    AssetMaterialization,
    AssetsDefinition,
    AutomationCondition,
    BetaWarning,
    Config,
    DimensionPartitionMapping,
    Failure,
    IdentityPartitionMapping,
    MaterializeResult,
    MetadataValue,
    MonthlyPartitionsDefinition,
    MultiPartitionMapping,
    MultiPartitionsDefinition,
    PreviewWarning,
    StaticPartitionsDefinition,
    TimeWindowPartitionMapping,
    asset,
    asset_check,
)
from pydantic import Field

from ..core.categories import VIEWS
from ..metrics.kpis import LOSSES, RATIOS, period_kpis, sum_rule_error
from ..storage.query import read_kpis
from .coverage import DAY, FARM, farm_day
from .instance import TARGET_DATABASE_POOL
from .provenance import day_provenance
from .resources import TargetDatabase

DAILY_KPIS = "daily_kpis"
MONTHLY_KPIS = "monthly_kpis"
SUM_RULE_TOLERANCE_KWH = 1.0
# A contract's usual guarantee, on the manufacturer's view of time-based availability.
CONTRACT_AVAILABILITY = 0.97


MONTH = "month"


def _metadata(rows, by: str) -> dict:
    """The farm's figures, and each turbine's, of ``rows`` (one farm's) as Dagster metadata."""
    farm = period_kpis(rows, by, total=True).iloc[0]
    turbines = period_kpis(rows, by).set_index("turbine")
    metadata: dict = {"days": MetadataValue.int(int(farm["days"]))}
    for column in ["energy_kwh", "potential_energy_kwh", *LOSSES]:
        metadata[f"farm/{column}"] = MetadataValue.float(round(float(farm[column]), 3))
    for column in RATIOS:
        value = float(farm[column])
        if value == value:  # not NaN
            metadata[f"farm/{column}"] = MetadataValue.float(round(value, 6))
    columns = ["energy_kwh", "potential_energy_kwh", *LOSSES, *RATIOS]
    metadata["turbines"] = MetadataValue.json(
        {
            name: {c: (None if row[c] != row[c] else round(float(row[c]), 6)) for c in columns}
            for name, row in turbines.iterrows()
        }
    )
    return metadata


def build_daily_kpis(
    daily_statistics: AssetsDefinition,
    partitions: MultiPartitionsDefinition,
    automation: AutomationCondition | None = None,
) -> AssetsDefinition:
    # The same backfill policy as daily_statistics, so a job or backfill of both groups their days alike
    # (a beta parameter of @asset in Dagster 1.13, pinned: its warning at each build is noise).
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=BetaWarning)
        return _daily_kpis(daily_statistics, partitions, automation)


def _daily_kpis(
    daily_statistics: AssetsDefinition, partitions: MultiPartitionsDefinition, automation: AutomationCondition | None
) -> AssetsDefinition:
    @asset(
        automation_condition=automation,
        pool=TARGET_DATABASE_POOL,
        name=DAILY_KPIS,
        partitions_def=partitions,
        deps=[daily_statistics],
        group_name="wind_etl",
        kinds={"python", "postgres"},
        backfill_policy=daily_statistics.backfill_policy,
        output_required=False,
        description="What a farm did each UTC day (docs/kpis.md): energy produced and potential, lost production "
        "by cause, time-based availability in the user's and the manufacturer's view (IEC 61400-26-1), "
        "production-based availability, capacity factor and data availability, per turbine and for the farm. "
        "Written by daily_statistics in the day's transaction; this asset reads and reports them.",
    )
    def daily_kpis(context: AssetExecutionContext, target_database: TargetDatabase):
        single = len(context.partition_keys) == 1  # a range of one day too: its output, so its checks run after it
        missing = []
        for key in context.partition_keys:
            farm, day = farm_day(key)
            rows = read_kpis(day, day, engine=target_database.get_engine(), farms=[farm])
            if rows.empty:
                missing.append(f"{day.isoformat()} of farm {farm}")
            elif single:
                yield MaterializeResult(metadata=_metadata(rows, "day"))
            else:
                yield AssetMaterialization(
                    asset_key=context.asset_key,
                    partition=key,
                    metadata=_metadata(rows, "day"),
                    tags=day_provenance(context, key),
                )
        if missing:
            raise Failure(
                description=f"The target holds no KPIs for {', '.join(missing)}. What to do: materialize "
                "daily_statistics for that farm's day first (the ETL writes them), then this partition."
            )

    return daily_kpis


class AvailabilityContract(Config):
    min_availability: float = Field(
        CONTRACT_AVAILABILITY, ge=0.0, le=1.0, description="The least time-based availability the contract guarantees."
    )
    view: str = Field("manufacturer", description="The view it is counted in: manufacturer or user.")


def build_kpi_checks(daily_kpis: AssetsDefinition, partitions: MultiPartitionsDefinition) -> list:
    """The day's KPI checks: the sum rule (an error), the contract's availability (a warning)."""
    with warnings.catch_warnings():  # partitioned asset checks are a preview in Dagster 1.13 (see checks.py)
        warnings.filterwarnings(
            "ignore", message="Specifying a partitions_def on an AssetCheckSpec", category=PreviewWarning
        )
        return _kpi_checks(daily_kpis, partitions)


def _kpi_checks(daily_kpis: AssetsDefinition, partitions: MultiPartitionsDefinition) -> list:
    @asset_check(
        pool=TARGET_DATABASE_POOL,
        asset=daily_kpis,
        partitions_def=partitions,
        description=f"Each turbine's potential energy equals what it produced plus its losses, within "
        f"{SUM_RULE_TOLERANCE_KWH:g} kWh (an error otherwise: the figures disagree).",
    )
    def kpi_sum_rule(context: AssetCheckExecutionContext, target_database: TargetDatabase) -> AssetCheckResult:
        farm, day = farm_day(context.partition_key)
        rows = read_kpis(day, day, engine=target_database.get_engine(), farms=[farm])
        if rows.empty:
            return AssetCheckResult(
                passed=False, description=f"The target holds no KPIs for {day.isoformat()} of farm {farm}."
            )
        errors = sum_rule_error(rows).abs()
        worst = int(errors.to_numpy().argmax())
        off = {name: round(float(e), 6) for name, e in zip(rows["turbine"], errors) if e > SUM_RULE_TOLERANCE_KWH}
        return AssetCheckResult(
            passed=not off,
            severity=AssetCheckSeverity.ERROR,
            description=(
                f"{day.isoformat()}: potential = produced + losses for every turbine (largest difference "
                f"{errors.iloc[worst]:.2e} kWh, {rows['turbine'].iloc[worst]})."
                if not off
                else f"{day.isoformat()}: the figures disagree by more than {SUM_RULE_TOLERANCE_KWH:g} kWh: {off}."
            ),
            metadata={"largest_difference_kwh": MetadataValue.float(float(errors.max()))},
        )

    @asset_check(
        pool=TARGET_DATABASE_POOL,
        asset=daily_kpis,
        partitions_def=partitions,
        description=f"Each turbine's time-based availability that day reaches the contract's guarantee (default "
        f"{CONTRACT_AVAILABILITY:.0%} in the manufacturer's view; a warning below it).",
    )
    def availability_above_contract(
        context: AssetCheckExecutionContext, config: AvailabilityContract, target_database: TargetDatabase
    ) -> AssetCheckResult:
        if config.view not in VIEWS:
            raise Failure(description=f"view {config.view!r} is not one of {', '.join(VIEWS)}.")
        farm, day = farm_day(context.partition_key)
        rows = read_kpis(day, day, engine=target_database.get_engine(), farms=[farm])
        if rows.empty:
            return AssetCheckResult(
                passed=False,
                severity=AssetCheckSeverity.WARN,
                description=f"The target holds no KPIs for {day} of farm {farm}.",
            )
        column = "time_availability" + ("" if config.view == "user" else f"_{config.view}")
        shares = period_kpis(rows, "day").set_index("turbine")[column]
        below = {name: round(float(share), 4) for name, share in shares.items() if share < config.min_availability}
        return AssetCheckResult(
            passed=not below,
            severity=AssetCheckSeverity.WARN,
            description=(
                f"{day.isoformat()}: every turbine at least {config.min_availability:.1%} available ({config.view}'s view)."
                if not below
                else f"{day.isoformat()}: below the contract's {config.min_availability:.1%} ({config.view}'s view): "
                + ", ".join(f"{name} {share:.1%}" for name, share in below.items())
            ),
            metadata={"availability": MetadataValue.json({n: round(float(s), 6) for n, s in shares.items()})},
        )

    return [kpi_sum_rule, availability_above_contract]


def monthly_partitions(farm_days: MultiPartitionsDefinition) -> MultiPartitionsDefinition:
    """Each farm of the partitions farm x day, times the months their days touch."""
    daily = farm_days.get_partitions_def_for_dimension(DAY)
    first = dt.date.fromisoformat(daily.get_first_partition_key()).replace(day=1)
    if daily.end is None:  # days up to today, growing with it: the months up to this one, likewise
        months = MonthlyPartitionsDefinition(start_date=first.isoformat(), end_offset=1, timezone="UTC")
    else:
        last = dt.date.fromisoformat(daily.get_last_partition_key())
        end = (last.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
        months = MonthlyPartitionsDefinition(start_date=first.isoformat(), end_date=end.isoformat(), timezone="UTC")
    farms = farm_days.get_partitions_def_for_dimension(FARM)
    return MultiPartitionsDefinition({FARM: StaticPartitionsDefinition(farms.get_partition_keys()), MONTH: months})


def days_of_the_month() -> MultiPartitionMapping:
    """A farm's month depends on the same farm's days of that month. (The mapping between two multi-partitions is
    a beta class in Dagster 1.13; the pin in constraints.txt keeps it fixed, so its warning is only noise.)"""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=BetaWarning)
        return MultiPartitionMapping(
            {
                FARM: DimensionPartitionMapping(FARM, IdentityPartitionMapping()),
                DAY: DimensionPartitionMapping(MONTH, TimeWindowPartitionMapping()),
            }
        )


def build_monthly_kpis(
    daily_kpis: AssetsDefinition, farm_days: MultiPartitionsDefinition, automation: AutomationCondition | None = None
) -> AssetsDefinition:
    @asset(
        automation_condition=automation,
        pool=TARGET_DATABASE_POOL,
        name=MONTHLY_KPIS,
        partitions_def=monthly_partitions(farm_days),
        deps=[AssetDep(daily_kpis, partition_mapping=days_of_the_month())],
        group_name="wind_etl",
        kinds={"python", "postgres"},
        description="A farm's month (a partition: farm x month): its KPIs per turbine and for the farm, the days' "
        "energies and minutes added up, every ratio recomputed from the sums (as `etl kpis --farm FARM --by "
        "month`); `days` says how many days the target holds.",
    )
    def monthly_kpis(context: AssetExecutionContext, target_database: TargetDatabase) -> MaterializeResult:
        keys = context.partition_key.keys_by_dimension
        first = dt.date.fromisoformat(keys[MONTH])
        last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
        rows = read_kpis(first, last, engine=target_database.get_engine(), farms=[keys[FARM]])
        if rows.empty:
            raise Failure(
                description=f"The target holds no KPIs for {keys[FARM]} in {first:%Y-%m}: materialize its days first."
            )
        return MaterializeResult(metadata=_metadata(rows, "month"))

    return monthly_kpis
