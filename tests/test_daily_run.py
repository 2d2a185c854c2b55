"""The whole daily graph, loaded from the real definitions, materialized for a small
synthetic ledger: every asset runs, every client gets exactly one decision, every
delivered email matches its ledger row, and running the day again sends nothing."""

from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import Decimal

import pytest

from ar_assets.definitions import defs
from ar_assets.sandbox.synthetic import generate_ledger
from tests.readers import attachments

AS_OF = date(2026, 6, 16)


@pytest.fixture(scope="module")
def day(tmp_path_factory):
    from ar_assets.sandbox.session import SandboxSession

    workdir = tmp_path_factory.mktemp("daily")
    with SandboxSession.start(generate_ledger(60, AS_OF), workdir) as session:
        from tests.conftest import CaseRun

        case = CaseRun(session)
        first = case.run(AS_OF)
        yield case, first


def test_every_asset_of_the_graph_materializes(day):
    case, result = day
    materialized = {
        event.asset_key for event in result.get_asset_materialization_events()
        for event in [event.event_specific_data.materialization]
    }
    expected = {spec.key for spec in defs.resolve_all_asset_specs()}
    dbt_sources = {key for key in expected if key.path[0] == "ops"}
    assert expected - dbt_sources <= materialized


def test_each_evaluated_client_gets_exactly_one_email_decision(day):
    case, _ = day
    rows = case.ledger(as_of=AS_OF, kind="client_overdue")
    per_client = Counter(r["client_id"] for r in rows)
    assert per_client and set(per_client.values()) == {1}
    assert all(r["reason"] for r in rows if r["status"] == "skipped")
    statuses = Counter(r["status"] for r in rows)
    assert statuses["delivered"] > 0 and statuses["skipped"] > 0


def test_delivered_emails_match_the_ledger_and_their_own_client(day):
    case, _ = day
    delivered = {
        r["message_key"]: r for r in case.ledger(as_of=AS_OF, kind="client_overdue")
        if r["status"] == "delivered"
    }
    emails = case.emails()
    assert len(emails) == len(delivered)
    recipients = {}
    for client_id, email in case.query("select client_id, email from marts.fct_client_recipients"):
        recipients.setdefault(client_id, set()).add(email)
    for message in emails:
        key = message["Message-ID"].strip("<>").split("@")[0].removeprefix("ar-")
        row = delivered[key]
        to = {a.addr_spec for a in message["To"].addresses}
        assert to <= recipients[row["client_id"]]
        names = sorted(name for name, _ in attachments(message))
        assert len(names) == len(row["invoice_ids"])
        assert all(any(tranid in name for name in names) for tranid in row["invoice_ids"])
    activities = case.jsonl("hubspot")
    assert sorted(a["email_message_key"] for a in activities) == sorted(delivered)


def test_running_the_day_again_delivers_nothing_new(day):
    case, _ = day
    before = (len(case.emails()), len(case.jsonl("chat")), len(case.jsonl("hubspot")),
              len(case.jsonl("campaign")))
    case.run(AS_OF)
    after = (len(case.emails()), len(case.jsonl("chat")), len(case.jsonl("hubspot")),
             len(case.jsonl("campaign")))
    assert after == before


def test_a_day_with_nothing_to_plan_succeeds_and_sends_nothing(sandbox):
    from ar_assets.sandbox.ledger import Application, Payment
    from tests.builders import LedgerBuilder

    b = LedgerBuilder()
    b.client("C01", "EUR")
    invoice = b.invoice("C01", "INV-101", "250.00", date(2026, 5, 1))
    b.ledger.payments.append(Payment(9001, "PYT-9001", 1, date(2026, 6, 1), 2,
                                     Decimal("250.00"),
                                     [Application(invoice, date(2026, 6, 1), Decimal("250.00"))]))
    case = sandbox(b.build())

    case.run(AS_OF)

    assert case.emails() == [] and case.ledger() == []
