"""A day backfilled after later days ran recomputes its plan and sends nothing.

Protects: a run of a later date has decided with newer data (who is still
overdue, who has paid, whether a campaign hold stands) and its messages went
out, so a backfilled day records every decision, skipped with the reason, and
delivers nothing: no stale reminder for an invoice paid since, no second
reminder inside the cadence, no campaign hold placed again after its lift.
Re-running the latest day still delivers what it planned.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from ar_assets.sandbox.ledger import Application, Payment
from tests.builders import LedgerBuilder

BACKFILLED, LATER, PAID_ON, NEXT = (date(2026, 6, 16), date(2026, 6, 17), date(2026, 6, 18),
                                    date(2026, 6, 19))
SUPERSEDED = f"backfill: the run of {NEXT} supersedes this day's messages"


def _ledger():
    b = LedgerBuilder()
    b.client("C01", "EUR")
    b.invoice("C01", "INV-101", "500.00", date(2026, 5, 1))
    # C70: three overdue invoices make it tier 3 (campaign hold), all paid on PAID_ON.
    b.client("C70", "EUR")
    ids = [b.invoice("C70", f"INV-70{k}", "100.00", date(2026, 4, 1) + timedelta(days=k))
           for k in range(3)]
    b.ledger.payments.append(Payment(
        7001, "PYT-7001", 70, PAID_ON, 2, Decimal("300.00"),
        [Application(i, PAID_ON, Decimal("100.00")) for i in ids]))
    return b.build()


def test_a_backfilled_day_sends_nothing_once_later_days_have_run(sandbox):
    case = sandbox(_ledger())
    for day in (LATER, PAID_ON, NEXT):
        case.run(day)
    sent = (len(case.emails()), case.jsonl("chat"), case.jsonl("campaign"))

    case.run(BACKFILLED)

    assert (len(case.emails()), case.jsonl("chat"), case.jsonl("campaign")) == sent
    assert [(r["as_of"], r["action"]) for r in case.jsonl("campaign")] == [
        (str(LATER), "place"), (str(PAID_ON), "lift")]
    backfilled = case.ledger(as_of=BACKFILLED)
    assert backfilled and {r["status"] for r in backfilled} == {"skipped"}
    c01 = [r for r in backfilled if r["client_id"] == 1 and r["kind"] == "client_overdue"]
    assert [(r["reason"], r["invoice_ids"], r["amounts"]) for r in c01] == [
        (SUPERSEDED, ["INV-101"], '{"EUR": "500.00"}')]
    assert {r["reason"] for r in backfilled if r["client_id"] == 70} == {SUPERSEDED}


def test_re_running_the_latest_day_delivers_what_it_planned_once(sandbox):
    case = sandbox(_ledger())
    case.run(LATER)
    case.run(LATER)

    assert sorted(m["To"] for m in case.emails()) == ["ap@c01.test", "ap@c70.test"]
    assert [r["status"] for r in case.ledger(as_of=LATER, kind="client_overdue")] == [
        "delivered", "delivered"]
