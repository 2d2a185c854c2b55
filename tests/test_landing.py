"""Landing turns SuiteQL strings into typed raw tables without losing a cent or a day.

Protects H06 (amounts land as exact DECIMAL), H08 (identical results under
either date preference; a missing due date lands as NULL), quarantine of
unparseable rows with a reason, the control totals, and the netsuite_raw
asset's partition-to-clock wiring and metadata.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from dagster import materialize

from ar_assets.land.assets import netsuite_raw
from ar_assets.land.landing import (
    RAW_TABLES,
    LandStats,
    land_snapshot,
    parse_items,
    parse_money,
)
from ar_assets.land.resources import NetSuiteResource
from ar_assets.land.suiteql import SuiteQLClient
from ar_assets.resources import Warehouse
from ar_assets.sandbox.ledger import (
    Application,
    Contact,
    CreditMemo,
    Currency,
    Customer,
    Employee,
    Invoice,
    Line,
    SourceLedger,
)
from ar_assets.sandbox.netsuite_server import NetSuiteSandbox
from ar_assets.sandbox.serve import serve_app

AS_OF = date(2026, 6, 16)
TRANSACTIONS = RAW_TABLES[0]


def h06_ledger() -> SourceLedger:
    """C09 (EUR) from H06, a JPY and a KWD invoice, and an invoice with no due date."""
    due = date(2026, 5, 1)
    d = date(2026, 4, 1)

    def invoice(doc_id: int, tranid: str, client: int, currency: int, total: str,
                duedate: date | None = due) -> Invoice:
        amount = Decimal(total)
        line = Line("SVC", f"Services {tranid}", Decimal(1), amount, amount)
        return Invoice(doc_id, tranid, client, d, duedate, currency, amount, [line])

    return SourceLedger(
        currencies=[Currency(1, "EUR", "Euro"), Currency(2, "JPY", "Japanese Yen"),
                    Currency(3, "KWD", "Kuwaiti Dinar")],
        employees=[Employee(7, "Aiko", "Tanaka", "aiko@vendor.example", "spaces/AAA")],
        customers=[
            Customer(9, "C09", "C09 Handel GmbH", None, 1, 7, language="de"),
            Customer(6, "C06", "株式会社青葉商事", None, 2, 7, hold_until=date(2026, 7, 1)),
            Customer(8, "C08", "Gulf Trading W.L.L.", None, 3, 7, is_high_value=True),
        ],
        contacts=[Contact(90, 9, "Ana", "Payable", "ap@c09.test", "Billing")],
        invoices=[
            invoice(901, "INV-901", 9, 1, "39981.70"),
            invoice(902, "INV-902", 9, 1, "0.10"),
            invoice(903, "INV-903", 9, 1, "0.20"),
            invoice(904, "INV-904", 9, 1, "55.00", duedate=None),
            invoice(601, "INV-601", 6, 2, "123456"),
            invoice(801, "INV-801", 8, 3, "1.234"),
        ],
        credit_memos=[
            CreditMemo(909, "CM-901", 9, d, 1, Decimal("0.30")),
            CreditMemo(910, "CM-902", 9, d, 1, Decimal("5.00"),
                       [Application(904, date(2026, 4, 2), Decimal("5.00"))]),
        ],
    )


@contextmanager
def running(ledger: SourceLedger) -> Iterator[tuple[NetSuiteSandbox, str]]:
    sandbox = NetSuiteSandbox(ledger, AS_OF)
    with serve_app(sandbox.app) as base_url:
        yield sandbox, base_url


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[NetSuiteSandbox, str]]:
    with running(h06_ledger()) as pair:
        yield pair


def land(sandbox: NetSuiteSandbox, base_url: str, con: duckdb.DuckDBPyConnection,
         as_of: date = AS_OF) -> LandStats:
    creds = sandbox.credentials
    client = SuiteQLClient.with_token_auth(creds.account_id, creds.consumer_key,
                                           creds.consumer_secret, creds.token_id,
                                           creds.token_secret, base_url=base_url)
    return land_snapshot(client, con, as_of)


def table_rows(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple]:
    return con.execute(f"select * exclude (landed_at) from raw.{table} order by all").fetchall()


def test_h08_dates_iso_under_either_preference(server) -> None:
    sandbox, base_url = server
    us, eu = duckdb.connect(), duckdb.connect()

    sandbox.faults.date_format = "M/D/YYYY"
    land(sandbox, base_url, us)
    sandbox.faults.date_format = "DD/MM/YYYY"
    land(sandbox, base_url, eu)
    sandbox.faults.date_format = "M/D/YYYY"

    for table in RAW_TABLES:
        assert table_rows(us, table.name) == table_rows(eu, table.name), table.name
    no_due = us.execute("select tranid, trandate, duedate from raw.netsuite_transactions "
                        "where type = 'CustInvc' and duedate is null").fetchall()
    assert no_due == [("INV-904", date(2026, 4, 1), None)]
    assert us.execute("select hold_until from raw.netsuite_customers where id = 6").fetchone() \
        == (date(2026, 7, 1),)
    assert us.execute("select count(*) from raw.netsuite_quarantine").fetchone() == (0,)


def test_h06_amounts_land_as_exact_decimal(server) -> None:
    sandbox, base_url = server
    con = duckdb.connect()

    stats = land(sandbox, base_url, con)

    amounts = dict(con.execute("select tranid, foreignamountunpaid from raw.netsuite_transactions "
                               "where type = 'CustInvc'").fetchall())
    assert amounts == {"INV-901": Decimal("39981.70"), "INV-902": Decimal("0.10"),
                       "INV-903": Decimal("0.20"), "INV-904": Decimal("50.00"),
                       "INV-601": Decimal("123456"), "INV-801": Decimal("1.234")}
    column_type = con.execute("select data_type from information_schema.columns where "
                              "table_name = 'netsuite_transactions' and column_name = "
                              "'foreignamountunpaid'").fetchone()[0]
    assert column_type == "DECIMAL(38,6)"
    assert stats.open_totals == {"EUR": Decimal("40032.00"), "JPY": Decimal("123456"),
                                 "KWD": Decimal("1.234")}
    assert stats.control_totals == stats.open_totals
    unused = con.execute("select foreignpaymentamountunused from raw.netsuite_transactions "
                         "where tranid = 'CM-901'").fetchone()[0]
    assert unused == Decimal("0.30")
    lines = con.execute("select foreignamount from raw.netsuite_transaction_lines "
                        "where transaction = 901").fetchall()
    assert lines == [(Decimal("-39981.70"),)]  # income lines carry the GL sign


def test_landing_replaces_the_previous_snapshot(server) -> None:
    sandbox, base_url = server
    con = duckdb.connect()
    before_any_invoice = date(2026, 3, 31)

    first = land(sandbox, base_url, con)
    sandbox.set_clock(before_any_invoice)
    try:
        second = land(sandbox, base_url, con, before_any_invoice)
    finally:
        sandbox.set_clock(AS_OF)

    assert first.row_counts["netsuite_transactions"] == 7  # CM-902 is fully applied
    assert second.row_counts["netsuite_transactions"] == 0
    assert con.execute("select count(*) from raw.netsuite_transactions").fetchone() == (0,)
    assert con.execute("select distinct as_of from raw.netsuite_customers").fetchall() == \
        [(before_any_invoice,)]


def test_unparseable_rows_are_quarantined_with_a_reason_and_the_rest_land() -> None:
    good = {"id": "1", "tranid": "INV-1", "type": "CustInvc", "entity": "9",
            "status_code": "CustInvc:A", "trandate": "2026-04-01", "currency_code": "EUR",
            "foreigntotal": "39981.70", "is_disputed": "F"}
    items = [
        good,
        {**good, "id": "2", "duedate": "13/45/2026"},
        {**good, "id": "3", "foreigntotal": "12,50"},
        {**good, "id": "4", "foreigntotal": "0.1234567"},
        {**good, "id": "5", "is_disputed": "yes"},
        {key: value for key, value in good.items() if key != "trandate"},
        {**good, "id": "7"},  # no duedate at all: lands, the model quarantines it
    ]

    rows, bad = parse_items(TRANSACTIONS, items)

    assert [row[0] for row in rows] == [1, 7]
    assert rows[1][6] is None
    reasons = {q.source_id: q.reason for q in bad}
    assert reasons == {
        "2": "duedate: not an ISO date: '13/45/2026'",
        "3": "foreigntotal: not a decimal: '12,50'",
        "4": "foreigntotal: more than 6 decimal places: '0.1234567'",
        "5": "is_disputed: not a T/F flag: 'yes'",
        "1": "trandate: missing",
    }
    assert all(q.source_table == "netsuite_transactions" for q in bad)


def test_json_numbers_parse_as_decimal_never_float() -> None:
    assert parse_money("0.10") == Decimal("0.10")
    assert parse_money(Decimal("39981.70")) == Decimal("39981.70")
    assert parse_money(12) == Decimal(12)
    with pytest.raises(ValueError):
        parse_money(0.1)
    with pytest.raises(ValueError):
        parse_money("NaN")


def test_netsuite_raw_asset_sets_the_clock_and_reports_totals(tmp_path: Path) -> None:
    with running(h06_ledger()) as (sandbox, base_url):
        sandbox.set_clock(date(2026, 1, 1))
        creds = sandbox.credentials
        netsuite = NetSuiteResource(
            account_id=creds.account_id, base_url=base_url, consumer_key=creds.consumer_key,
            consumer_secret=creds.consumer_secret, token_id=creds.token_id,
            token_secret=creds.token_secret, sandbox=True,
        )
        warehouse = Warehouse(path=str(tmp_path / "ar.duckdb"))

        result = materialize([netsuite_raw], partition_key="2026-06-16",
                             resources={"netsuite": netsuite, "warehouse": warehouse})

        assert result.success
        assert sandbox.as_of == AS_OF
    events = {tuple(m.asset_key.path): m.metadata
              for m in result.asset_materializations_for_node("netsuite_raw")}
    assert set(events) == {("raw", table.name) for table in RAW_TABLES} | {
        ("raw", "netsuite_quarantine")}
    assert events[("raw", "netsuite_transactions")]["load_mode"].value == "full"
    transactions = events[("raw", "netsuite_transactions")]
    assert transactions["dagster/row_count"].value == 7
    assert transactions["open_EUR"].value == "40032.000000"
    assert "| EUR | 40032.000000 | 40032.000000 |" in transactions["open_invoice_amount"].value
    shown = repr(events)
    assert creds.consumer_secret not in shown and creds.token_secret not in shown
    assert "@" not in shown
