"""Ops alerts when the daily run fails, so a silent day is impossible.

Two ways in, one alert per failure: the failure hook posts while the run is
still going (it needs no daemon), and the run-failure sensor catches what the
hook could not (a run that died outside a step, or a hook that could not
post). Both use the same ledger key, one per business date and failed step,
so whichever comes second finds the alert delivered and stays quiet.
"""

from datetime import date

from dagster import (
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    DefaultSensorStatus,
    HookContext,
    RunFailureSensorContext,
    failure_hook,
    run_failure_sensor,
)

from ar_assets.deliver.channels import Outbox
from ar_assets.deliver.chat.ops import send_ops_alert
from ar_assets.deliver.chat.settings import GoogleChatResource
from ar_assets.partitions import partition_date
from ar_assets.plan.messages import message_key
from ar_assets.resources import Warehouse

DAILY_JOB = "daily_ar_run"
TITLE = "AR run failed"


def failure_key(as_of: date, step_key: str | None) -> str:
    """One ops alert per business date and failed step (or the run as a whole)."""
    if step_key is None:
        return message_key(as_of, "ops_alert", "run_failed")
    return message_key(as_of, "ops_alert", "step_failed", step_key)


def failure_line(as_of: date, step_key: str | None, error: str) -> str:
    where = f"step {step_key}" if step_key else "the run"
    return f"{as_of}: {where} failed: {error[:1000]}"


def post_failure(warehouse: Warehouse, chat: GoogleChatResource, outbox: Outbox,
                 as_of: date, step_key: str | None, error: str) -> str:
    """Posts the failure's ops alert unless it went out already; returns its status."""
    with warehouse.connect() as con:
        return send_ops_alert(con, chat, outbox, as_of, failure_key(as_of, step_key), TITLE,
                              [failure_line(as_of, step_key, error)])


@failure_hook(required_resource_keys={"warehouse", "outbox", "chat"})
def ops_alert_on_failure(context: HookContext) -> None:
    """Posts one ops alert per failed step and business date, naming the step and error."""
    run = context.instance.get_run_by_id(context.run_id)
    partition = run.tags.get("dagster/partition") if run else None
    if not partition:
        return
    error = context.op_exception
    summary = str(getattr(error, "description", None) or error or "unknown error")
    summary = _with_failed_checks(context.instance, context.run_id, summary)
    resources = context.resources
    post_failure(resources.warehouse, resources.chat, resources.outbox,
                 partition_date(partition), context.step_key, summary)


@run_failure_sensor(name="run_failure_sensor", minimum_interval_seconds=60,
                    default_status=DefaultSensorStatus.RUNNING)
def run_failure_sensor(context: RunFailureSensorContext, warehouse: Warehouse,
                       chat: GoogleChatResource, outbox: Outbox) -> None:
    """Posts an ops alert for any failed daily run, per failed step, unless the failure
    hook already did."""
    run = context.dagster_run
    partition = run.tags.get("dagster/partition")
    if run.job_name != DAILY_JOB or not partition or run.status != DagsterRunStatus.FAILURE:
        return
    as_of = partition_date(partition)
    steps = [(event.step_key, _event_error(event))
             for event in context.get_step_failure_events()]
    if not steps:
        steps = [(None, _event_error(context.failure_event))]
    for step_key, error in steps:
        error = _with_failed_checks(context.instance, run.run_id, error)
        post_failure(warehouse, chat, outbox, as_of, step_key, error)


def _with_failed_checks(instance: DagsterInstance, run_id: str, error: str) -> str:
    """Adds what each failed blocking check found (its description: which measure,
    currency or test, and by how much), which the step's own error does not say."""
    if "blocking asset check" not in error:
        return error
    found = []
    for record in instance.get_records_for_run(
        run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION
    ).records:
        evaluation = record.event_log_entry.dagster_event.event_specific_data
        if not evaluation.passed and evaluation.description:
            found.append(f"{evaluation.check_name}: {evaluation.description}")
    return "; ".join([error, *found])


def _event_error(event) -> str:
    data = getattr(event, "event_specific_data", None)
    error = getattr(data, "error", None)
    if error is not None:
        return error.message.strip().splitlines()[-1] if error.message else error.cls_name
    return getattr(event, "message", None) or "unknown error"
