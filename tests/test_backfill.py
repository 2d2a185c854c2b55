"""A day backfilled after later days ran reminds no client a later run already reminded.

Protects: the 14-day cadence looking both ways from a backfilled date, for the
client email and the account manager's alert. The later run's email counts
when it is less than cadence_days away; one exactly cadence_days later does not.
"""

from __future__ import annotations

from datetime import date

from tests.builders import LedgerBuilder
from tests.readers import body_text

BACKFILLED = date(2026, 6, 16)
LATER = date(2026, 6, 17)


def test_a_backfilled_day_does_not_remind_a_client_a_later_run_already_reminded(sandbox):
    b = LedgerBuilder()
    for name, total in (("C01", "500.00"), ("C03", "125.40")):
        b.client(name, "EUR")
        b.invoice(name, f"INV-{name[1:]}1", total, date(2026, 5, 1))
    case = sandbox(b.build())
    # C03 was reminded on 2026-06-30: 13 days after the later run, 14 after the backfill.
    case.record_prior_email(3, date(2026, 6, 30))

    case.run(LATER)
    case.run(BACKFILLED)

    emails = case.emails()
    assert sorted(m["To"] for m in emails) == ["ap@c01.test", "ap@c03.test"]
    by_day = {(r["as_of"], r["client_id"]): r for r in case.ledger(kind="client_overdue")}
    assert by_day[(LATER, 1)]["status"] == "delivered"
    assert by_day[(LATER, 3)]["status"] == "skipped"
    assert by_day[(LATER, 3)]["reason"] == "cadence: a later run emailed the client on 2026-06-30"
    assert by_day[(BACKFILLED, 1)]["status"] == "skipped"
    assert by_day[(BACKFILLED, 1)]["reason"] == (
        "cadence: a later run emailed the client on 2026-06-17")
    assert by_day[(BACKFILLED, 3)]["status"] == "delivered"
    [c03] = [m for m in emails if m["To"] == "ap@c03.test"]
    assert "€125.40" in body_text(c03)
    # The account manager heard about C01 from the later run, once.
    am_alerts = [(r["as_of"], r["status"]) for r in case.ledger(kind="am_overdue", client_id=1)]
    assert am_alerts == [(LATER, "delivered")]
