"""The dbt models (staging -> intermediate -> marts) as partitioned assets.

dbt runs inside the step's own process through dbt's programmatic runner, so
a replay of many days pays dbt's import and start-up once, not once per day.
Its structured events become Dagster materializations and asset checks through
dagster-dbt's own event translation.
"""


import os
from collections.abc import Iterator, Mapping
from typing import Any

from dagster import AssetExecutionContext, AssetKey, Failure
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, dbt_assets
from dagster_dbt.asset_utils import get_subset_selection_for_context
from dagster_dbt.core.dbt_cli_event import DbtCoreCliEventMessage

from ar_assets.ledger import ensure_ledger
from ar_assets.model.project import DBT_PROJECT_DIR, dbt_project, dbt_vars
from ar_assets.partitions import daily_partitions, one_day_per_run
from ar_assets.resources import Warehouse

RESULT_EVENTS = {"LogSeedResult", "LogModelResult", "LogSnapshotResult", "LogTestResult"}


class WarehouseTranslator(DagsterDbtTranslator):
    """Keys mirror where the data lives: <schema>/<table>; groups follow folders."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            table = dbt_resource_props.get("identifier") or dbt_resource_props["name"]
            return AssetKey([dbt_resource_props["schema"], table])
        schema = dbt_resource_props.get("config", {}).get("schema") or dbt_resource_props["schema"]
        return AssetKey([schema, dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn") or []
        return fqn[1] if len(fqn) > 2 else "model"


translator = WarehouseTranslator(
    settings=DagsterDbtTranslatorSettings(enable_asset_checks=True)
)


def run_dbt_in_process(args: list[str]) -> tuple[bool, list[dict], BaseException | None]:
    """Invokes dbt in this process; returns success, result events and any exception."""
    from dbt.cli.main import dbtRunner
    from dbt_common.events.functions import msg_to_dict

    events: list[dict] = []

    def keep_results(msg: Any) -> None:
        if msg.info.name in RESULT_EVENTS:
            events.append(msg_to_dict(msg))

    result = dbtRunner(callbacks=[keep_results]).invoke(args)
    return result.success, events, result.exception


@dbt_assets(
    manifest=dbt_project.manifest_path,
    dagster_dbt_translator=translator,
    partitions_def=daily_partitions,
    project=dbt_project,
    name="dbt_models",
    # Each business date builds on the ledger of the dates before it: one day per run.
    backfill_policy=one_day_per_run,
)
def dbt_models(context: AssetExecutionContext, warehouse: Warehouse) -> Iterator[Any]:
    """Builds and tests every model for the partition's business date.

    An error-severity dbt test fails this step, which stops every send
    downstream in the run.
    """
    as_of = context.partition_key
    manifest = dbt_project.manifest_path
    from dagster_dbt.dbt_manifest import validate_manifest

    manifest_blob = validate_manifest(manifest)
    selection, indirect = get_subset_selection_for_context(
        context=context,
        manifest=manifest_blob,
        select="fqn:*",
        exclude=None,
        selector=None,
        dagster_dbt_translator=translator,
        current_dbt_indirect_selection_env=os.environ.get("DBT_INDIRECT_SELECTION"),
    )
    if indirect:
        os.environ["DBT_INDIRECT_SELECTION"] = indirect
    os.environ["AR_DUCKDB_PATH"] = warehouse.resolved_path()
    with warehouse.connect() as con:
        # The ledger is a dbt source (cadence, holds); on a new warehouse it is empty.
        ensure_ledger(con)
        con.execute(
            "create or replace table ops.run_context as select cast(? as date) as as_of",
            [as_of],
        )

    args = [
        "build",
        *selection,
        "--project-dir", str(DBT_PROJECT_DIR),
        "--profiles-dir", str(DBT_PROJECT_DIR),
        "--vars", dbt_vars(),
        # Unit tests do not depend on the day's data; the test suite runs them.
        "--exclude-resource-type", "unit_test",
        "--quiet",
    ]
    success, events, exception = run_dbt_in_process(args)

    failed: list[str] = []
    for raw in events:
        event = DbtCoreCliEventMessage(raw_event=raw, event_history_metadata={})
        status = raw["data"].get("node_info", {}).get("node_status", "")
        if status in ("error", "fail"):
            failed.append(raw["data"]["node_info"].get("node_name", "?"))
        yield from event.to_default_asset_events(
            manifest=manifest_blob,
            dagster_dbt_translator=translator,
            context=context,
            project=dbt_project,
        )

    if not success:
        names = ", ".join(failed) or str(exception)
        raise Failure(
            description=f"dbt build failed for {as_of}: {names}",
            metadata={"failed_nodes": names},
        )
