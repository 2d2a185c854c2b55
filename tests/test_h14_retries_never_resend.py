"""H14: a run delivers ten client emails, then the HubSpot step fails (HubSpot answers 503
to everything). The run is retried from failure once HubSpot is back, then re-executed
in full. Exactly ten emails leave, HubSpot ends with exactly ten activities, and the
failure raises exactly one ops alert although both the failure hook and the run-failure
sensor see it.

The real daily job runs with a persistent Dagster instance (execute_job on a
reconstructable job, ReexecutionOptions.from_failure), against the loopback NetSuite,
HubSpot and Chat servers; emails go to the sandbox outbox as .eml files."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

import duckdb
import pytest
from dagster import (
    DagsterEventType,
    DagsterInstance,
    ReexecutionOptions,
    build_run_status_sensor_context,
    execute_job,
    reconstructable,
)

from ar_assets.alerts import failure_key, run_failure_sensor
from ar_assets.deliver.channels import Outbox
from ar_assets.deliver.chat.settings import GoogleChatResource
from ar_assets.resources import Warehouse
from ar_assets.sandbox.chat_server import serve_delivery_sandboxes
from ar_assets.sandbox.session import SandboxSession
from tests.builders import LedgerBuilder
from tests.conftest import CaseRun

AS_OF = date(2026, 6, 16)
CLIENTS = [f"C{n}" for n in range(51, 61)]
RUN_CONFIG = {
    "loggers": {"console": {"config": {"log_level": "WARNING"}}},
    "resources": {
        "hubspot": {"config": {"max_attempts": 2, "backoff_seconds": 0.05}},
        "chat": {"config": {"digest_threshold": 3}},
    },
}


def daily_job():
    from ar_assets.definitions import defs

    return defs.resolve_job_def("daily_ar_run")


def failed_steps(instance: DagsterInstance, run_id: str) -> list[str]:
    return [e.step_key for e in instance.all_logs(run_id, of_type=DagsterEventType.STEP_FAILURE)]


def evaluate_failure_sensor(instance: DagsterInstance, run_id: str, duckdb_path: str) -> None:
    """One tick of the run-failure sensor for the failed run, as the daemon would run it."""
    run = instance.get_run_by_id(run_id)
    failure = next(iter(instance.all_logs(run_id, of_type=DagsterEventType.RUN_FAILURE)))
    context = build_run_status_sensor_context(
        sensor_name="run_failure_sensor", dagster_event=failure.dagster_event,
        dagster_instance=instance, dagster_run=run,
        resources={"warehouse": Warehouse(path=duckdb_path), "chat": GoogleChatResource(),
                   "outbox": Outbox()},
    ).for_run_failure()
    run_failure_sensor(context)


@pytest.fixture(scope="module")
def h14(tmp_path_factory):
    b = LedgerBuilder()
    for name in CLIENTS:
        b.client(name, "EUR")
        b.invoice(name, f"INV-{name[1:]}01", "250.00", date(2026, 5, 1))
    source = b.build()
    workdir = Path(tmp_path_factory.mktemp("h14"))
    with serve_delivery_sandboxes(source) as servers, \
            SandboxSession.start(source, workdir) as session:
        (workdir / "dagster").mkdir()
        instance = DagsterInstance.local_temp(str(workdir / "dagster"))
        job = reconstructable(daily_job)
        tags = {"dagster/partition": AS_OF.isoformat()}
        outbox = Path(session.outbox_dir, "email")
        hubspot = servers.hubspot
        seen = {}

        hubspot.faults.down = True
        first = execute_job(job, instance, run_config=RUN_CONFIG, tags=tags)
        seen["first"] = (len(list(outbox.rglob("*.eml"))), len(hubspot.activities()))

        hubspot.faults.down = False
        retry = execute_job(job, instance, run_config=RUN_CONFIG, tags=tags, reexecution_options=(
            ReexecutionOptions.from_failure(first.run_id, instance)))
        seen["retry"] = (len(list(outbox.rglob("*.eml"))), len(hubspot.activities()))

        full = execute_job(job, instance, run_config=RUN_CONFIG, tags=tags, reexecution_options=(
            ReexecutionOptions(parent_run_id=first.run_id)))
        seen["full"] = (len(list(outbox.rglob("*.eml"))), len(hubspot.activities()))

        yield {"session": session, "servers": servers, "instance": instance, "first": first,
               "retry": retry, "full": full, "seen": seen}
        instance.dispose()


def test_h14_the_first_run_fails_at_the_hubspot_step_after_ten_emails(h14):
    first, instance = h14["first"], h14["instance"]

    assert not first.success
    assert failed_steps(instance, first.run_id) == ["deliver__hubspot_activities"]
    assert h14["seen"]["first"] == (10, 0)


def test_h14_the_retry_from_failure_runs_only_the_hubspot_step_and_logs_ten(h14):
    retry, instance = h14["retry"], h14["instance"]

    steps = {e.step_key for e in instance.all_logs(retry.run_id,
                                                   of_type=DagsterEventType.STEP_SUCCESS)}

    assert retry.success
    assert steps == {"deliver__hubspot_activities"}
    assert h14["seen"]["retry"] == (10, 10)


def test_h14_the_full_re_execution_sends_nothing_again(h14):
    full, servers = h14["full"], h14["servers"]

    assert full.success
    assert h14["seen"]["full"] == (10, 10)
    keys = Counter(e["properties"]["ar_message_key"] for e in servers.hubspot.activities())
    assert len(keys) == 10 and set(keys.values()) == {1}
    companies = {e["associations"]["companies"][0] for e in servers.hubspot.activities()}
    assert companies == {servers.hubspot.company_ids(name[1:])[0] for name in CLIENTS}


def test_h14_the_ledger_shows_each_email_and_activity_delivered_once(h14):
    case = CaseRun(h14["session"])
    emails = [r for r in case.ledger(kind="client_overdue") if r["status"] == "delivered"]
    activities = [r for r in case.ledger(channel="hubspot") if r["status"] == "delivered"]

    assert len(emails) == 10 and {r["attempts"] for r in emails} == {1}
    assert len(activities) == 10


def test_h14_one_failure_raises_one_ops_alert_from_hook_and_sensor(h14):
    servers, instance, first, session = (h14["servers"], h14["instance"], h14["first"],
                                         h14["session"])
    before = servers.chat.messages("OPS")
    evaluate_failure_sensor(instance, first.run_id, session.duckdb_path)

    after = servers.chat.messages("OPS")
    assert len(before) == len(after) == 1
    text = str(after[0].body)
    assert "deliver__hubspot_activities" in text and "503" in text


def test_h14_the_sensor_posts_the_alert_the_hook_could_not(h14):
    servers, instance, first, session = (h14["servers"], h14["instance"], h14["first"],
                                         h14["session"])
    key = failure_key(AS_OF, "deliver__hubspot_activities")
    with duckdb.connect(session.duckdb_path) as con:
        con.execute("update ops.ledger set status = 'failed', reason = 'chat 503' "
                    "where message_key = ?", [key])
    evaluate_failure_sensor(instance, first.run_id, session.duckdb_path)

    assert len(servers.chat.messages("OPS")) == 2
    with duckdb.connect(session.duckdb_path, read_only=True) as con:
        assert con.execute("select status from ops.ledger where message_key = ?",
                           [key]).fetchone() == ("delivered",)
