"""H08: dates arrive in the account's format; a missing due date is quarantined.

Expect every date requested as ISO text, the same landing under either date
preference (covered row by row in test_landing), and, through the real daily
run, an invoice with no due date quarantined with a reason, never reminded,
and reported to ops once.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from ar_assets.land.parsing import RAW_TABLES
from ar_assets.plan.messages import message_key
from tests.builders import LedgerBuilder
from tests.readers import body_text

AS_OF = date(2026, 6, 16)


def test_h08_every_date_column_is_requested_as_iso_text() -> None:
    for table in RAW_TABLES:
        sql = table.query(AS_OF, None).sql
        changed = table.query(AS_OF, datetime(2026, 6, 15, 9)).sql
        for column in table.columns:
            if column.sql_type in ("DATE", "TIMESTAMP"):
                iso = r"TO_CHAR\([\w.]+, 'YYYY-MM-DD( HH24:MI:SS)?'\) AS " + column.name
                assert re.search(iso, sql), (table.name, column.name)
                assert re.search(iso, changed), (table.name, column.name)


def test_h08_no_due_date_is_quarantined_never_reminded_and_reported_once(sandbox) -> None:
    b = LedgerBuilder()
    b.client("C30", "EUR")
    b.invoice("C30", "INV-3001", "500.00", None, trandate=date(2026, 3, 2))
    b.invoice("C30", "INV-3002", "200.00", date(2026, 5, 1))
    case = sandbox(b.build())
    case.session.server.faults.date_format = "DD/MM/YYYY"

    case.run(AS_OF)
    case.run(AS_OF)

    assert case.query("select tranid, reason from intermediate.int_quarantined_invoices") == [
        ("INV-3001", "missing due date")]
    [email] = case.emails()
    text = body_text(email)
    assert "INV-3002" in text and "INV-3001" not in text
    assert "€500.00" not in text
    [row] = case.ledger(kind="client_overdue", status="delivered")
    assert list(row["invoice_ids"]) == ["INV-3002"]
    key = message_key(AS_OF, "ops_alert", "quarantined_rows")
    reports = [r for r in case.ledger(kind="ops_alert") if r["message_key"] == key]
    assert [r["status"] for r in reports] == ["delivered"], case.ledger(kind="ops_alert")
    posted = [c for c in case.jsonl("chat") if c.get("message_key") == key]
    assert len(posted) == 1
    assert "INV-3001" in str(posted[0]) or "3001" in str(posted[0]) or "missing due date" in str(
        posted[0])
