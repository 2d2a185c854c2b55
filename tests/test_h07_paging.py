"""H07: SuiteQL paging returns every row or fails loudly, at NetSuite's real ceiling.

The source holds more than 100,000 open invoices; the sandbox refuses any
offset at or past 100,000, as NetSuite does. Expect the load to narrow by id
into a second window and land every row exactly once, with the open amount
reconciling to the cent.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal

import duckdb
import pytest

from ar_assets.land.landing import land_snapshot
from ar_assets.land.suiteql import SuiteQLClient
from ar_assets.sandbox.ledger import (
    Currency,
    Customer,
    Employee,
    Invoice,
    SourceLedger,
    paused_gc,
)
from ar_assets.sandbox.netsuite_server import NetSuiteSandbox
from ar_assets.sandbox.serve import serve_app

AS_OF = date(2026, 6, 16)
OPEN_INVOICES = 100_250


def large_ledger() -> SourceLedger:
    """100,250 open EUR invoices of 250 clients, each 0.01 more than the last."""
    with paused_gc():
        invoices = [
            Invoice(500_000 + i, f"INV-{i:06d}", 1000 + i % 250,
                    AS_OF - timedelta(days=1 + i % 200), AS_OF + timedelta(days=30 - i % 200),
                    1, Decimal(i) / 100 + Decimal("1.00"))
            for i in range(OPEN_INVOICES)
        ]
    return SourceLedger(
        currencies=[Currency(1, "EUR", "Euro")],
        employees=[Employee(7, "Aiko", "Tanaka", "aiko@vendor.example")],
        customers=[Customer(1000 + c, f"C{c}", f"Client {c}", None, 1, 7) for c in range(250)],
        invoices=invoices,
    )


@pytest.fixture(scope="module")
def landed() -> Iterator[tuple[NetSuiteSandbox, duckdb.DuckDBPyConnection, object]]:
    sandbox = NetSuiteSandbox(large_ledger(), AS_OF)
    with serve_app(sandbox.app) as base_url:
        creds = sandbox.credentials
        client = SuiteQLClient.with_token_auth(
            creds.account_id, creds.consumer_key, creds.consumer_secret, creds.token_id,
            creds.token_secret, base_url=base_url)
        con = duckdb.connect()
        stats = land_snapshot(client, con, AS_OF)
        yield sandbox, con, stats


def test_h07_more_than_100000_rows_are_narrowed_and_every_row_lands(landed) -> None:
    sandbox, con, stats = landed

    count, unique = con.execute(
        "select count(*), count(distinct id) from raw.netsuite_transactions").fetchone()

    assert count == unique == OPEN_INVOICES
    windows = Counter(
        r.query for r in sandbox.requests if r.query == "transactions" and r.offset == 0)
    assert windows["transactions"] == 2  # id > -1, then id > the last id of window one
    offsets = [r.offset for r in sandbox.requests if r.query == "transactions"]
    assert max(offsets) == 99_000 and all(r.status == 200 for r in sandbox.requests)
    assert all(r.limit == 1000 and r.offset % 1000 == 0 for r in sandbox.requests)


def test_h07_the_open_amount_reconciles_to_the_cent(landed) -> None:
    _, con, stats = landed
    expected = sum(Decimal(i) / 100 + Decimal("1.00") for i in range(OPEN_INVOICES))

    assert stats.open_totals == stats.control_totals == {"EUR": expected}
    assert con.execute("select sum(foreignamountunpaid) from raw.netsuite_transactions"
                       ).fetchone() == (expected,)
