"""The provenance Dagster records on a materialization, for a day materialized inside a run of several days.

A run of one partition returns a ``MaterializeResult``, and Dagster tags its materialization with the code
version and, for each parent asset, the data version and the event it read (``dagster/input_event_pointer``).
Its UI marks a partition *stale* from those tags: when a parent's partition has a newer event, of another
version, than the one the materialization read. A run of several days (the automation's catch-up, a grouped
backfill) reports each day with its own ``AssetMaterialization``, which Dagster leaves without those tags, so
such a day could never show stale (``CachingStaleStatusResolver``: "If dep is a source, then we'll never provide
a stale reason here"). ``day_provenance`` makes the same tags for one day, with the parent's event *of that day*.
"""

from dagster import AssetExecutionContext
from dagster._core.definitions.data_version import (
    CODE_VERSION_TAG,
    DATA_VERSION_TAG,
    DEFAULT_DATA_VERSION,
    NULL_EVENT_POINTER,
    compute_logical_data_version,
    extract_data_version_from_entry,
    get_input_data_version_tag,
    get_input_event_pointer_tag,
)


def day_provenance(context: AssetExecutionContext, partition_key: str) -> dict[str, str]:
    """The provenance tags of the asset's ``partition_key`` as it is about to be computed: the code version (the
    asset's, else the run's id, as Dagster does), and for each parent the data version and the event of its
    same partition (the latest materialization, else observation); the asset's own data version from them."""
    key = context.asset_key
    code_version = context.assets_def.code_versions_by_key.get(key) or context.run.run_id
    tags: dict[str, str] = {CODE_VERSION_TAG: code_version}
    versions = {}
    for parent in sorted(context.assets_def.asset_deps[key], key=str):
        record = context.instance.get_latest_data_version_record(parent, partition_key=partition_key)
        version = (extract_data_version_from_entry(record.event_log_entry) if record else None) or DEFAULT_DATA_VERSION
        versions[parent] = version
        tags[get_input_data_version_tag(parent)] = version.value
        tags[get_input_event_pointer_tag(parent)] = str(record.storage_id) if record else NULL_EVENT_POINTER
    tags[DATA_VERSION_TAG] = compute_logical_data_version(code_version, versions).value
    return tags
