"""Client emails over SMTP against a real aiosmtpd server on loopback (STARTTLS and AUTH
required): one session per batch, exactly-once outcomes in the ledger for a wrong
password, a 451, a refused recipient and a connection dropped after DATA, and the
ops alert that lists them without an address.

The day is planned and rendered once (a dry run of the real daily job); each test
then delivers a fresh copy of that warehouse through the email and Chat steps.
"""

from __future__ import annotations

import json
import shutil
import time
from datetime import date
from email import message_from_bytes, policy
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterInstance, EnvVar, materialize

from ar_assets.deliver.channels import Outbox
from ar_assets.deliver.chat.assets import deliver_chat_alerts
from ar_assets.deliver.email.addresses import (
    Envelope,
    InvalidEnvelope,
    is_valid_address,
    message_envelope,
)
from ar_assets.deliver.email.assets import deliver_client_emails
from ar_assets.deliver.email.failures import failed_deliveries_key
from ar_assets.deliver.email.smtp import SmtpSender, smtp_sender_for_mode
from ar_assets.resources import Warehouse
from ar_assets.sandbox.smtp_server import SmtpSandbox, serve_smtp, throwaway_certificate
from tests.builders import AM_EMAIL, LedgerBuilder

AS_OF = date(2026, 6, 16)
CLIENTS = ("C41", "C42", "C43", "C44", "C45")

pytestmark = pytest.mark.filterwarnings("ignore:Session.login_data is deprecated")


def smtp_ledger():
    b = LedgerBuilder()
    for name in CLIENTS:
        contacts = None
        if name == "C45":
            contacts = [("ap@c45.test", "Billing"), ("ap2@c45.test", "Billing")]
        b.client(name, "EUR", contacts=contacts)
        b.invoice(name, f"INV-{name[1:]}01", "980.40", date(2026, 5, 1))
    return b.build()


@pytest.fixture(scope="module")
def planned_day(tmp_path_factory):
    """The warehouse after a dry run of the day: every client email rendered and planned."""
    from ar_assets.sandbox.session import SandboxSession

    workdir = tmp_path_factory.mktemp("smtp-day")
    with SandboxSession.start(smtp_ledger(), workdir) as session:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("AR_DRY_RUN", "1")
            assert session.run_day(AS_OF).success
        yield Path(session.duckdb_path)


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    return throwaway_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def server(tls):
    context, _ = tls
    sandbox = SmtpSandbox()
    with serve_smtp(sandbox, context) as (host, port):
        sandbox.address = (host, port)
        yield sandbox


@pytest.fixture
def warehouse(planned_day, tmp_path) -> Warehouse:
    copy = tmp_path / "ar.duckdb"
    shutil.copy(planned_day, copy)
    return Warehouse(path=str(copy))


def sender(server: SmtpSandbox, tls, **overrides) -> SmtpSender:
    host, port = server.address
    settings = dict(
        live=True, host=host, port=port, username=server.username, password=server.password,
        cafile=tls[1], starttls=True, allow_test_domains=True,
        timeout_seconds=3, data_timeout_seconds=3,
    )
    return SmtpSender(**(settings | overrides))


def deliver(warehouse: Warehouse, smtp: SmtpSender, outbox_dir: Path):
    """One run of the email step and the Chat step after it, with the sandbox's other
    resources as the definitions build them."""
    from ar_assets.definitions import defs

    resources = {**defs.resources, "warehouse": warehouse, "smtp": smtp,
                 "outbox": Outbox(outbox_dir=str(outbox_dir))}
    result = materialize(
        [deliver_client_emails, deliver_chat_alerts],
        partition_key=AS_OF.isoformat(),
        instance=DagsterInstance.ephemeral(),
        resources={k: v for k, v in resources.items() if k != "io_manager"},
    )
    assert result.success
    return result


def email_rows(warehouse: Warehouse) -> dict[int, dict]:
    with duckdb.connect(warehouse.path, read_only=True) as con:
        rows = con.execute(
            "select client_id, status, reason, attempts from ops.ledger "
            "where as_of = ? and kind = 'client_overdue' order by client_id",
            [AS_OF],
        ).fetchall()
    return {cid: {"status": s, "reason": r, "attempts": a} for cid, s, r, a in rows}


def received_by_recipient(server: SmtpSandbox) -> dict[str, int]:
    counts: dict[str, int] = {}
    for message in server.received:
        for rcpt in message.rcpt_tos:
            counts[rcpt] = counts.get(rcpt, 0) + 1
    return counts


def ops_alerts(outbox_dir: Path) -> list[dict]:
    path = outbox_dir / "chat.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return [r for r in map(json.loads, lines) if r["message_key"] == failed_deliveries_key(AS_OF)]


def test_the_dry_run_left_every_client_email_planned(warehouse):
    rows = email_rows(warehouse)
    assert sorted(rows) == [41, 42, 43, 44, 45]
    assert {r["status"] for r in rows.values()} == {"planned"}


def test_a_batch_of_fifty_emails_shares_one_tls_session_and_one_login(planned_day, server, tls):
    with duckdb.connect(str(planned_day), read_only=True) as con:
        [(eml_path,)] = con.execute(
            "select eml_path from render.outgoing where client_id = 41 and channel = 'email'"
        ).fetchall()
    eml = Path(eml_path).read_bytes()
    envelope = message_envelope(message_from_bytes(eml, policy=policy.default),
                                allow_test_domains=True)

    began = time.perf_counter()
    with sender(server, tls).open_batch() as batch:
        outcomes = [
            batch.send(eml, Envelope(envelope.sender, (f"ap{i}@bulk.test",), envelope.cc))
            for i in range(50)
        ]
    per_email = (time.perf_counter() - began) / 50

    assert [o.status for o in outcomes] == ["delivered"] * 50
    assert (batch.connections, server.logins) == (1, 1)
    assert sorted(m.rcpt_tos for m in server.received) == sorted(
        (f"ap{i}@bulk.test", AM_EMAIL) for i in range(50)
    )
    assert server.received[0].content.replace(b"\r\n", b"\n") == eml
    print(f"SMTP over STARTTLS, {len(eml):,} byte message: {per_email * 1000:.1f} ms per email")
    assert per_email < 1.0


def test_no_reply_after_data_in_time_is_unknown_and_the_batch_goes_on(planned_day, server, tls):
    with duckdb.connect(str(planned_day), read_only=True) as con:
        [(eml_path,)] = con.execute(
            "select eml_path from render.outgoing where client_id = 42 and channel = 'email'"
        ).fetchall()
    eml = Path(eml_path).read_bytes()
    envelope = message_envelope(message_from_bytes(eml, policy=policy.default),
                                allow_test_domains=True)
    server.stall_after_data["slow@bulk.test"] = 2.0
    slow = Envelope(envelope.sender, ("slow@bulk.test",), envelope.cc)

    with sender(server, tls, data_timeout_seconds=0.3).open_batch() as batch:
        outcomes = [batch.send(eml, slow), batch.send(eml, envelope)]

    assert [(o.status, o.reason) for o in outcomes] == [
        ("unknown", "smtp timed out after DATA; not resent"), ("delivered", None),
    ]
    assert batch.connections == 2


def test_a_wrong_password_fails_every_email_with_535_and_loses_none(
    warehouse, server, tls, tmp_path
):
    deliver(warehouse, sender(server, tls, password="not-the-password"), tmp_path / "out1")

    rows = email_rows(warehouse)
    assert {r["status"] for r in rows.values()} == {"failed"}
    assert all(r["reason"].startswith("smtp 535") for r in rows.values())
    assert server.received == []
    assert server.failed_logins <= 2  # one session tried, not one per email

    deliver(warehouse, sender(server, tls), tmp_path / "out2")

    assert {r["status"] for r in email_rows(warehouse).values()} == {"delivered"}
    assert received_by_recipient(server) == {
        "ap@c41.test": 1, "ap@c42.test": 1, "ap@c43.test": 1, "ap@c44.test": 1,
        "ap@c45.test": 1, "ap2@c45.test": 1, AM_EMAIL: 5,
    }


def test_a_451_is_retried_by_the_next_run_and_a_drop_after_data_is_never_resent(
    warehouse, server, tls, tmp_path
):
    server.data_reply["ap@c42.test"] = "451 4.3.0 Try again later"
    server.drop_after_data.add("ap@c43.test")
    server.refuse_recipient["ap2@c45.test"] = "550 5.1.1 Mailbox unavailable"
    outbox_dir = tmp_path / "out"
    deliver(warehouse, sender(server, tls), outbox_dir)

    rows = email_rows(warehouse)
    assert {c: r["status"] for c, r in rows.items()} == {
        41: "delivered", 42: "failed", 43: "unknown", 44: "delivered", 45: "delivered",
    }
    assert rows[42]["reason"].startswith("smtp 451 4.3.0")
    assert rows[43]["reason"] == "smtp connection lost after DATA; not resent"
    [c45] = [m for m in server.received if "ap@c45.test" in m.rcpt_tos]
    assert c45.rcpt_tos == ("ap@c45.test", AM_EMAIL)

    [alert] = ops_alerts(outbox_dir)
    notes = json.dumps(alert["body"], ensure_ascii=False)
    assert "client 42 C42 Trading: failed, smtp 451 4.3.0" in notes
    assert "client 43 C43 Trading: unknown, smtp connection lost after DATA" in notes
    assert "client 45 C45 Trading: delivered, To refused (smtp 550)" in notes
    assert "client 41 " not in notes and "@" not in notes

    server.clear_faults()
    deliver(warehouse, sender(server, tls), tmp_path / "rerun")

    rows = email_rows(warehouse)
    assert (rows[42]["status"], rows[42]["attempts"]) == ("delivered", 2)
    assert (rows[43]["status"], rows[43]["attempts"]) == ("unknown", 1)
    counts = received_by_recipient(server)
    assert [counts.get(f"ap@c{n}.test") for n in (41, 42, 43, 44, 45)] == [1, 1, 1, 1, 1]


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"starttls": False}, "smtp: server does not offer STARTTLS or AUTH"),
        ({"username": "", "password": ""}, "smtp 530"),
        ({"cafile": ""}, "smtp connect failed: SSLCertVerificationError"),
    ],
    ids=["without-starttls", "without-login", "untrusted-certificate"],
)
def test_the_server_accepts_nothing_without_tls_login_and_a_trusted_certificate(
    warehouse, server, tls, tmp_path, overrides, reason
):
    deliver(warehouse, sender(server, tls, **overrides), tmp_path / "out")

    rows = email_rows(warehouse)
    assert {r["status"] for r in rows.values()} == {"failed"}
    assert all(r["reason"].startswith(reason) for r in rows.values())
    assert server.received == []


def test_a_malformed_address_is_invalid_and_the_reason_never_repeats_it():
    assert not is_valid_address("ap@@c26.test", allow_test_domains=True)
    assert not is_valid_address("ap@c26.test")  # reserved name: never deliverable live
    assert is_valid_address("ap@c26.test", allow_test_domains=True)
    message = message_from_bytes(
        b"From: ar@ar-demo.example\nTo: ap@@c26.test\n\nbody\n", policy=policy.default
    )
    with pytest.raises(InvalidEnvelope) as raised:
        message_envelope(message, allow_test_domains=True)
    assert "@" not in str(raised.value)


def test_sandbox_mode_needs_no_smtp_settings_and_live_mode_reads_them_at_run_time(
    monkeypatch,
):
    for name in ("SMTP_HOST", "SMTP_PORT", "SMTP_USERNAME", "SMTP_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    assert not smtp_sender_for_mode("sandbox").live

    live = smtp_sender_for_mode("live")
    assert live.live
    assert isinstance(live.password, EnvVar) and live.password.env_var_name == "SMTP_PASSWORD"
    assert isinstance(live.host, EnvVar) and live.host.env_var_name == "SMTP_HOST"
