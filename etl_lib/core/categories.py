"""The information categories of IEC 61400-26-1:2019 and how this product counts them.

Every minute of every turbine falls into one category. The status log says which (a status code maps
to a category); where events overlap, the category of highest priority wins (``PRIORITY``); where there
is no log, the category is inferred from the samples and marked as inferred (``metrics.availability``).

The standard's tree::

    INFORMATION AVAILABLE
      OPERATIVE
        IN SERVICE:     full performance, partial performance, ready standby
        OUT OF SERVICE: technical standby, out of environmental specification, requested shutdown,
                        out of electrical specification
      NON-OPERATIVE:    scheduled maintenance, planned corrective action, forced outage, suspended
      FORCE MAJEURE
    INFORMATION UNAVAILABLE

Availability is counted in two views, each category being available time, unavailable time or left out
of the period (``VIEWS``), and lost production is reported in groups of categories (``LOSS_GROUPS``).
Plain Python: the API imports this without pandas.
"""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    FULL_PERFORMANCE = "full_performance"
    PARTIAL_PERFORMANCE = "partial_performance"
    READY_STANDBY = "ready_standby"
    TECHNICAL_STANDBY = "technical_standby"
    OUT_OF_ENVIRONMENTAL_SPECIFICATION = "out_of_environmental_specification"
    REQUESTED_SHUTDOWN = "requested_shutdown"
    OUT_OF_ELECTRICAL_SPECIFICATION = "out_of_electrical_specification"
    SCHEDULED_MAINTENANCE = "scheduled_maintenance"
    PLANNED_CORRECTIVE_ACTION = "planned_corrective_action"
    FORCED_OUTAGE = "forced_outage"
    SUSPENDED = "suspended"
    FORCE_MAJEURE = "force_majeure"
    INFORMATION_UNAVAILABLE = "information_unavailable"


C = Category

# Where events overlap, the first of these that applies is the minute's category: force majeure, then
# the non-operative states from the most to the least severe, then the operative ones out of service,
# then in service; information unavailable only where nothing else is known.
PRIORITY: tuple[Category, ...] = (
    C.FORCE_MAJEURE,
    C.SUSPENDED,
    C.FORCED_OUTAGE,
    C.PLANNED_CORRECTIVE_ACTION,
    C.SCHEDULED_MAINTENANCE,
    C.OUT_OF_ELECTRICAL_SPECIFICATION,
    C.REQUESTED_SHUTDOWN,
    C.OUT_OF_ENVIRONMENTAL_SPECIFICATION,
    C.TECHNICAL_STANDBY,
    C.PARTIAL_PERFORMANCE,
    C.FULL_PERFORMANCE,
    C.READY_STANDBY,
    C.INFORMATION_UNAVAILABLE,
)
RANK: dict[Category, int] = {category: rank for rank, category in enumerate(PRIORITY)}  # 0: the highest

AVAILABLE, UNAVAILABLE, EXCLUDED = "available", "unavailable", "excluded"

# Time-based availability A_t = 1 − T_u / (T_a + T_u) over the categories a view counts as available (T_a)
# and unavailable (T_u); the excluded ones are left out of the period.
VIEWS: dict[str, dict[Category, str]] = {
    # The user's view (operational availability): every reason the turbine is out of service costs the
    # owner; force majeure and minutes without information are left out.
    "user": {
        C.FULL_PERFORMANCE: AVAILABLE,
        C.PARTIAL_PERFORMANCE: AVAILABLE,
        C.READY_STANDBY: AVAILABLE,
        C.TECHNICAL_STANDBY: UNAVAILABLE,
        C.OUT_OF_ENVIRONMENTAL_SPECIFICATION: UNAVAILABLE,
        C.REQUESTED_SHUTDOWN: UNAVAILABLE,
        C.OUT_OF_ELECTRICAL_SPECIFICATION: UNAVAILABLE,
        C.SCHEDULED_MAINTENANCE: UNAVAILABLE,
        C.PLANNED_CORRECTIVE_ACTION: UNAVAILABLE,
        C.FORCED_OUTAGE: UNAVAILABLE,
        C.SUSPENDED: UNAVAILABLE,
        C.FORCE_MAJEURE: EXCLUDED,
        C.INFORMATION_UNAVAILABLE: EXCLUDED,
    },
    # The manufacturer's view (technical availability): the turbine is available whenever it could run;
    # the environment, the grid and the owner's requests are not its failures; scheduled maintenance
    # and suspension (a contract's allowance, the owner's decision) are left out.
    "manufacturer": {
        C.FULL_PERFORMANCE: AVAILABLE,
        C.PARTIAL_PERFORMANCE: AVAILABLE,
        C.READY_STANDBY: AVAILABLE,
        C.TECHNICAL_STANDBY: UNAVAILABLE,
        C.OUT_OF_ENVIRONMENTAL_SPECIFICATION: AVAILABLE,
        C.REQUESTED_SHUTDOWN: AVAILABLE,
        C.OUT_OF_ELECTRICAL_SPECIFICATION: AVAILABLE,
        C.SCHEDULED_MAINTENANCE: EXCLUDED,
        C.PLANNED_CORRECTIVE_ACTION: UNAVAILABLE,
        C.FORCED_OUTAGE: UNAVAILABLE,
        C.SUSPENDED: EXCLUDED,
        C.FORCE_MAJEURE: EXCLUDED,
        C.INFORMATION_UNAVAILABLE: EXCLUDED,
    },
}

# Lost production (potential − produced, minute by minute) goes to the group of the minute's category.
# Where the turbine's power is not known (no sample, or one the checks refused), the minute's loss goes to
# information_unavailable whatever its category: nobody knows what it produced.
LOSS_GROUPS: dict[str, tuple[Category, ...]] = {
    "forced_outage": (C.FORCED_OUTAGE, C.PLANNED_CORRECTIVE_ACTION, C.TECHNICAL_STANDBY),
    "scheduled_maintenance": (C.SCHEDULED_MAINTENANCE,),
    "curtailment": (C.REQUESTED_SHUTDOWN, C.PARTIAL_PERFORMANCE),
    "grid": (C.OUT_OF_ELECTRICAL_SPECIFICATION,),
    "environmental": (C.OUT_OF_ENVIRONMENTAL_SPECIFICATION,),
    "performance": (C.FULL_PERFORMANCE,),
    "information_unavailable": (C.INFORMATION_UNAVAILABLE,),
    "residual": (C.READY_STANDBY, C.SUSPENDED, C.FORCE_MAJEURE),
}
GROUP_OF: dict[Category, str] = {category: group for group, members in LOSS_GROUPS.items() for category in members}
GROUP_DESCRIPTIONS: dict[str, str] = {
    "forced_outage": "forced outages and faults: forced outage, planned corrective action, technical standby",
    "scheduled_maintenance": "scheduled maintenance",
    "curtailment": "requested shutdown and curtailment: requested shutdown, partial performance under a set-point",
    "grid": "the grid: out of electrical specification",
    "environmental": "the environment: out of environmental specification (high-wind cut-out, icing)",
    "performance": "performance: below (or above, negative) the expected power while running at full performance",
    "information_unavailable": "information unavailable: no log and no usable power sample",
    "residual": "the rest: standby consumption in ready standby, suspended, force majeure",
}
CATEGORY_DESCRIPTIONS: dict[Category, str] = {
    C.FULL_PERFORMANCE: "generating without restriction",
    C.PARTIAL_PERFORMANCE: "generating under a restriction (a set-point cap, a derating)",
    C.READY_STANDBY: "ready to generate, the wind below cut-in",
    C.TECHNICAL_STANDBY: "not generating while the turbine resolves a condition itself (an automatic reset)",
    C.OUT_OF_ENVIRONMENTAL_SPECIFICATION: "stopped by the environment: wind above cut-out, icing, temperature",
    C.REQUESTED_SHUTDOWN: "stopped on request (the grid operator, the owner)",
    C.OUT_OF_ELECTRICAL_SPECIFICATION: "stopped by the grid: voltage or frequency out of range, a grid outage",
    C.SCHEDULED_MAINTENANCE: "planned, periodic service",
    C.PLANNED_CORRECTIVE_ACTION: "a planned repair of a known defect",
    C.FORCED_OUTAGE: "stopped by a fault of the turbine",
    C.SUSPENDED: "an action suspended, e.g. waiting for parts or access",
    C.FORCE_MAJEURE: "an event beyond anyone's control",
    C.INFORMATION_UNAVAILABLE: "nothing is known: no log and no data",
}


def category(value: str) -> Category:
    """The category named ``value`` (its name, e.g. ``forced_outage``, in any case and with spaces or
    hyphens for underscores); ``ValueError`` naming the valid ones otherwise."""
    name = value.strip().lower().replace(" ", "_").replace("-", "_")
    try:
        return Category(name)
    except ValueError:
        raise ValueError(f"{value!r} is not an IEC 61400-26-1 category: one of {', '.join(Category)}") from None
