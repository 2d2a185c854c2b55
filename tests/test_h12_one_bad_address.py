"""H12: one bad address never stops the batch.

Five eligible clients go through the real daily run with client emails submitted
over SMTP (live transport, settings from the environment) to a loopback aiosmtpd
server that requires STARTTLS and AUTH. The server refuses C25's billing contact
with 550; C26's billing address is `ap@@c26.test`. The other three must arrive,
both failures must be recorded with their reason, reported to ops once, kept out
of HubSpot and the cadence, and retried (only they) on the next business day.
"""

from __future__ import annotations

import json
from datetime import date

import pytest
from dagster import DagsterInstance, Definitions

from ar_assets.deliver.email.failures import failed_deliveries_key
from ar_assets.deliver.email.smtp import smtp_sender_for_mode
from ar_assets.sandbox.smtp_server import SmtpSandbox, serve_smtp, throwaway_certificate
from tests.builders import AM_EMAIL, LedgerBuilder

AS_OF = date(2026, 6, 16)
NEXT_DAY = date(2026, 6, 17)
GOOD = ("C31", "C32", "C33")

pytestmark = pytest.mark.filterwarnings("ignore:Session.login_data is deprecated")


def h12_ledger():
    b = LedgerBuilder()
    for name in ("C25", "C26", *GOOD):
        contacts = [("ap@@c26.test", "Billing")] if name == "C26" else None
        b.client(name, "EUR", contacts=contacts)
        b.invoice(name, f"INV-{name[1:]}01", "1200.00", date(2026, 5, 1))
    return b.build()


@pytest.fixture
def smtp_server(tmp_path, monkeypatch):
    """The loopback SMTP server, with the live SMTP settings exported as a deployment would."""
    tls, cafile = throwaway_certificate(tmp_path / "tls")
    server = SmtpSandbox()
    with serve_smtp(server, tls) as (host, port):
        for name, value in {
            "SMTP_HOST": host,
            "SMTP_PORT": str(port),
            "SMTP_USERNAME": server.username,
            "SMTP_PASSWORD": server.password,
            "SMTP_CAFILE": cafile,
        }.items():
            monkeypatch.setenv(name, value)
        yield server


def run_with_smtp(case, instance: DagsterInstance, as_of: date):
    """The real daily job, with the `smtp` resource built for live mode."""
    from ar_assets.definitions import defs

    smtp = smtp_sender_for_mode(
        "live", allow_test_domains=True, timeout_seconds=5, data_timeout_seconds=5
    )
    live_defs = Definitions(
        assets=defs.assets, asset_checks=defs.asset_checks, jobs=defs.jobs,
        resources={**defs.resources, "smtp": smtp},
    )
    result = live_defs.resolve_job_def("daily_ar_run").execute_in_process(
        partition_key=as_of.isoformat(), instance=instance, raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
    )
    assert result.success, f"daily run failed for {as_of}"
    return result


def run_text(instance: DagsterInstance, run_id: str) -> str:
    """Every log message and metadata value the run recorded, as one string."""
    return "\n".join(
        f"{entry.user_message} {entry.dagster_event!r}" for entry in instance.all_logs(run_id)
    )


def email_rows(case, as_of: date) -> dict[int, dict]:
    return {r["client_id"]: r for r in case.ledger(as_of=as_of, kind="client_overdue")}


def test_h12_one_bad_address_never_stops_the_batch(sandbox, smtp_server):
    case = sandbox(h12_ledger())
    instance = DagsterInstance.ephemeral()
    smtp_server.refuse_recipient["ap@c25.test"] = "550 5.1.1 Mailbox unavailable"
    first = run_with_smtp(case, instance, AS_OF)

    received = smtp_server.messages()
    assert sorted(str(m["To"]) for m in received) == [f"ap@{n.lower()}.test" for n in GOOD]
    assert {str(m["Cc"]) for m in received} == {AM_EMAIL}
    assert sorted(r.rcpt_tos for r in smtp_server.received) == [
        (f"ap@{n.lower()}.test", AM_EMAIL) for n in GOOD
    ]
    assert smtp_server.logins == 1

    rows = email_rows(case, AS_OF)
    assert {cid: rows[cid]["status"] for cid in rows} == {
        25: "failed", 26: "failed", 31: "delivered", 32: "delivered", 33: "delivered",
    }
    assert rows[26]["reason"] == "invalid address"
    assert rows[25]["reason"].startswith("smtp 550")
    assert all(rows[c]["external_id"].startswith("<ar-") for c in (31, 32, 33))

    activities = {a["netsuite_customer_id"] for a in case.jsonl("hubspot")}
    assert activities == {"31", "32", "33"}

    [alert] = [m for m in case.jsonl("chat") if m["message_key"] == failed_deliveries_key(AS_OF)]
    text = json.dumps(alert["body"], ensure_ascii=False)
    assert "client 25 C25 Trading: failed, smtp 550" in text
    assert "client 26 C26 Trading: failed, invalid address" in text
    assert not any(f"client {c} " in text for c in (31, 32, 33))
    assert "@" not in text
    [alert_row] = case.ledger(message_key=failed_deliveries_key(AS_OF))
    assert (alert_row["kind"], alert_row["status"]) == ("ops_alert", "delivered")

    logged = run_text(instance, first.run_id)
    assert "c25.test" not in logged and "c26.test" not in logged and AM_EMAIL not in logged

    # Next business day: C25's mailbox accepts again, C26's address is still malformed.
    smtp_server.clear_faults()
    run_with_smtp(case, instance, NEXT_DAY)

    assert case.query(
        "select client_id, last_client_email_date from marts.fct_client_status "
        "where client_id in (25, 26) order by client_id"
    ) == [(25, None), (26, None)]
    rows = email_rows(case, NEXT_DAY)
    attempted = {cid for cid, r in rows.items() if r["status"] != "skipped"}
    assert attempted == {25, 26}
    assert all(rows[c]["reason"].startswith("cadence") for c in (31, 32, 33))
    assert (rows[25]["status"], rows[26]["status"]) == ("delivered", "failed")
    assert rows[26]["reason"] == "invalid address"

    received = smtp_server.messages()
    assert len(received) == 4
    assert [str(m["To"]) for m in received].count("ap@c25.test") == 1
    activities = [a["netsuite_customer_id"] for a in case.jsonl("hubspot")]
    assert sorted(activities) == ["25", "31", "32", "33"]
    [alert] = [m for m in case.jsonl("chat")
               if m["message_key"] == failed_deliveries_key(NEXT_DAY)]
    text = json.dumps(alert["body"], ensure_ascii=False)
    assert "client 26 C26 Trading: failed, invalid address" in text
    assert "client 25 " not in text


def test_an_email_with_an_unknown_outcome_holds_the_clients_next_one(sandbox, smtp_server):
    b = LedgerBuilder()
    for name in ("C34", "C35"):
        b.client(name, "EUR")
        b.invoice(name, f"INV-{name[1:]}01", "730.25", date(2026, 5, 1))
    case = sandbox(b.build())
    instance = DagsterInstance.ephemeral()
    smtp_server.drop_after_data.add("ap@c34.test")
    run_with_smtp(case, instance, AS_OF)

    rows = email_rows(case, AS_OF)
    assert (rows[34]["status"], rows[35]["status"]) == ("unknown", "delivered")
    [alert] = [m for m in case.jsonl("chat") if m["message_key"] == failed_deliveries_key(AS_OF)]
    assert "client 34 C34 Trading: unknown" in json.dumps(alert["body"], ensure_ascii=False)

    smtp_server.clear_faults()
    run_with_smtp(case, instance, NEXT_DAY)

    rows = email_rows(case, NEXT_DAY)
    assert rows[34]["status"] == "skipped"
    assert rows[34]["reason"].startswith("held: an earlier client email has an unknown outcome")
    assert rows[34]["invoice_ids"] == ["INV-3401"]
    assert [r.rcpt_tos[0] for r in smtp_server.received].count("ap@c34.test") == 1
    assert "34" not in {a["netsuite_customer_id"] for a in case.jsonl("hubspot")}
    [alert] = [m for m in case.jsonl("chat")
               if m["message_key"] == failed_deliveries_key(NEXT_DAY)]
    text = json.dumps(alert["body"], ensure_ascii=False)
    assert "client 34 C34 Trading: held, an earlier email has an unknown outcome" in text
