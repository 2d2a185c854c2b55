"""The daily run over IBM's public history sends what SPEC 3 says, day by day.

Replays short windows of the IBM sandbox through the real daily job and checks
every pre-due AM alert and every client overdue email against an independent
oracle (scripts/ibm_oracle.py) that reads the CSV with the standard library
only. Protects the open-until-SettledDate mapping, late-payer detection, the
pre-due catch-up on the first day, the cadence, and what the email lists.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from scripts.ibm_oracle import (
    DayOutcome,
    ProductDay,
    differences,
    read_ibm_invoices,
    replay_oracle,
    replay_product,
    window_days_of,
)

# 2013-03-22..29 at threshold 10: pre-due alerts every day (catch-up on the
# first), 5573-KSOIA emailed on the 23rd and held by cadence after, 0783-PEPYR
# emailed on the 29th.
MARCH_2013 = window_days_of(date(2013, 3, 22), 8)
# 2012-03-19..20 at threshold 31: the one undisputed invoice of the whole file
# that stood open 31 days past due (0688-XNJRO's 8493182849, due 2012-02-17).
# 1408-OQZUE's first late payment (9180666472, due 03-14) settles on 03-19.
MARCH_2012 = window_days_of(date(2012, 3, 19), 2)

class Replay:
    def __init__(self, days: list[date], threshold: int, workdir: Path) -> None:
        self.invoices = read_ibm_invoices()
        self.threshold = threshold
        self.expected = replay_oracle(self.invoices, days, threshold_days=threshold)
        self.actual: list[ProductDay] = replay_product(days, workdir, threshold_days=threshold)
        self.duckdb_path = str(workdir / "run" / "ar.duckdb")

    def delivered_emails(self) -> list[dict]:
        with duckdb.connect(self.duckdb_path, read_only=True) as con:
            rows = con.execute(
                """
                select l.as_of, c.entityid, l.invoice_ids, l.amounts::varchar, l.tier
                from ops.ledger l join raw.netsuite_customers c on c.id = l.client_id
                where l.kind = 'client_overdue' and l.status = 'delivered'
                order by l.as_of, c.entityid
                """
            ).fetchall()
        return [
            {"as_of": r[0], "client": r[1], "invoices": sorted(r[2]),
             "amounts": json.loads(r[3]), "tier": r[4]}
            for r in rows
        ]

    def email_skips(self, client: str) -> dict[date, str]:
        with duckdb.connect(self.duckdb_path, read_only=True) as con:
            return dict(con.execute(
                """
                select l.as_of, l.reason
                from ops.ledger l join raw.netsuite_customers c on c.id = l.client_id
                where l.kind = 'client_overdue' and l.status = 'skipped'
                    and c.entityid = ?
                """,
                [client],
            ).fetchall())

    def predue_owners(self) -> list[tuple[str, str]]:
        with duckdb.connect(self.duckdb_path, read_only=True) as con:
            return con.execute(
                """
                select unnest(l.invoice_ids), c.entityid
                from ops.ledger l join raw.netsuite_customers c on c.id = l.client_id
                where l.kind = 'am_predue' and l.status = 'delivered'
                """
            ).fetchall()


@pytest.fixture(scope="module")
def march_2013(tmp_path_factory: pytest.TempPathFactory) -> Replay:
    return Replay(MARCH_2013, 10, tmp_path_factory.mktemp("ibm-2013-t10"))


@pytest.fixture(scope="module")
def march_2012(tmp_path_factory: pytest.TempPathFactory) -> Replay:
    return Replay(MARCH_2012, 31, tmp_path_factory.mktemp("ibm-2012-t31"))


def _totals(days: list[DayOutcome]) -> tuple[int, int]:
    return (
        sum(len(d.predue_invoices) for d in days),
        sum(len(d.emailed_clients) for d in days),
    )


def test_every_day_at_threshold_10_sends_exactly_what_the_oracle_expects(
    march_2013: Replay,
) -> None:
    assert differences(march_2013.expected, march_2013.actual) == []
    assert _totals(march_2013.expected) == (40, 2)
    assert [d.emailed_clients for d in march_2013.expected] == [
        (), ("5573-KSOIA",), (), (), (), (), (), ("0783-PEPYR",),
    ]


def test_the_first_day_catches_up_on_every_invoice_already_in_the_window(
    march_2013: Replay,
) -> None:
    first = march_2013.actual[0].outcome
    assert first.predue_invoices == march_2013.expected[0].predue_invoices
    assert len(first.predue_invoices) == 25
    later = {i for day in march_2013.actual[1:] for i in day.outcome.predue_invoices}
    assert not later & set(first.predue_invoices)


def test_pre_due_alerts_go_to_the_client_that_owns_the_invoice(march_2013: Replay) -> None:
    owner = {inv.number: inv.client for inv in march_2013.invoices}
    pairs = march_2013.predue_owners()
    assert len(pairs) == 40
    assert all(owner[invoice] == client for invoice, client in pairs)


def test_an_emailed_client_is_held_by_cadence_while_still_overdue(march_2013: Replay) -> None:
    skips = march_2013.email_skips("5573-KSOIA")
    held = [day for day, reason in sorted(skips.items()) if reason.startswith("cadence")]
    assert held == window_days_of(date(2013, 3, 24), 5)
    assert all("2013-03-23" in skips[day] for day in held)


def test_each_email_lists_the_open_undisputed_invoices_past_threshold_to_the_cent(
    march_2013: Replay,
) -> None:
    def expected_listing(client: str, as_of: date) -> tuple[list[str], Decimal]:
        listed = [
            inv for inv in march_2013.invoices
            if inv.client == client and inv.is_open(as_of) and not inv.is_disputed
            and (as_of - inv.due_date).days >= 10
        ]
        return sorted(i.number for i in listed), sum((i.amount for i in listed), Decimal(0))

    emails = march_2013.delivered_emails()
    assert [(e["as_of"], e["client"]) for e in emails] == [
        (date(2013, 3, 23), "5573-KSOIA"), (date(2013, 3, 29), "0783-PEPYR"),
    ]
    for email in emails:
        numbers, total = expected_listing(email["client"], email["as_of"])
        assert email["invoices"] == numbers
        assert {k: Decimal(v) for k, v in email["amounts"].items()} == {"USD": total}
        assert email["tier"] >= 1


def test_at_threshold_31_the_one_undisputed_31_day_invoice_is_emailed_once(
    march_2012: Replay,
) -> None:
    emailed = [(d.outcome.as_of, d.outcome.emailed_clients) for d in march_2012.actual]
    assert emailed == [(d.as_of, d.emailed_clients) for d in march_2012.expected]
    assert all(d.success and not d.other_email_rows for d in march_2012.actual)
    emails = march_2012.delivered_emails()
    assert [(e["as_of"], e["client"], e["invoices"]) for e in emails] == [
        (date(2012, 3, 19), "0688-XNJRO", ["8493182849"]),
    ]
    assert {k: Decimal(v) for k, v in emails[0]["amounts"].items()} == {"USD": Decimal("18.03")}


def test_a_late_payment_settled_on_the_run_date_counts_from_the_next_run(
    march_2012: Replay,
) -> None:
    first, second = (set(d.outcome.predue_invoices) for d in march_2012.actual)
    oqzue = {"1012251297", "1660153943"}  # due 2012-03-22, one of them disputed
    assert not oqzue & first
    assert oqzue <= second
    assert differences(march_2012.expected, march_2012.actual) == []
