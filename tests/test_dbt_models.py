"""The dbt project on hand-made raw tables: what the marts tell the planner.

Protects credit allocation and money (H01, H02, H05, H06), quarantine of
invoices without a due date (H08), the pre-due window (H09), cadence from the
ledger (H10), billing recipients (H11) and the uniqueness test that blocks
every send (H13). dbt runs in this process through its programmatic runner,
once for the module, and once more for the next day on a copy.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from ar_assets.ledger import ensure_ledger
from ar_assets.policy import PROJECT_ROOT, load_policy

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
AS_OF = "2026-06-16"
NEXT_DAY = "2026-06-17"

RAW_DDL = """
create schema if not exists raw;
create table raw.netsuite_transactions (
    id bigint, tranid varchar, type varchar, entity bigint,
    status_code varchar, trandate date, duedate date, closedate date,
    currency_code varchar, exchangerate decimal(38, 10),
    foreigntotal decimal(38, 6), foreignamountpaid decimal(38, 6),
    foreignamountunpaid decimal(38, 6),
    foreignpaymentamountunused decimal(38, 6), is_disputed boolean,
    lastmodifieddate timestamp, landed_at timestamp, as_of date
);
create table raw.netsuite_transaction_lines (
    transaction bigint, linesequencenumber integer, item varchar,
    memo varchar, quantity decimal(38, 6), rate decimal(38, 6),
    foreignamount decimal(38, 6), landed_at timestamp, as_of date
);
create table raw.netsuite_customers (
    id bigint, entityid varchar, companyname varchar, email varchar,
    language varchar, currency_code varchar, subsidiary bigint,
    salesrep bigint, isinactive boolean, is_high_value boolean,
    is_manual_hold boolean, hold_until date, landed_at timestamp, as_of date
);
create table raw.netsuite_contacts (
    id bigint, company bigint, firstname varchar, lastname varchar,
    email varchar, contactrole varchar, isinactive boolean,
    landed_at timestamp, as_of date
);
create table raw.netsuite_employees (
    id bigint, firstname varchar, lastname varchar, email varchar,
    gchat_space varchar, landed_at timestamp, as_of date
);
create table raw.netsuite_currencies (
    id bigint, symbol varchar, name varchar, landed_at timestamp, as_of date
);
create table raw.netsuite_control_totals (
    currency_code varchar, open_amount decimal(38, 6),
    landed_at timestamp, as_of date
);
create table raw.netsuite_quarantine (
    source_table varchar, source_id varchar, reason varchar, payload json,
    landed_at timestamp, as_of date
);
"""

# (client id, name, currency, customer email, language)
CUSTOMERS = [
    (1, "C01", "EUR", None, "en"),
    (2, "C02", "USD", None, None),
    (3, "C03", "EUR", None, None),
    (6, "C06", "JPY", None, None),
    (9, "C09", "EUR", None, None),
    (14, "C14", "EUR", None, None),
    (15, "C15", "EUR", None, None),
    (16, "C16", "EUR", None, None),
    (17, "C17", "EUR", None, None),
    (22, "C22", "EUR", "info@c22.test", None),
    (23, "C23", "EUR", "", None),
    (24, "C24", "EUR", "billing@c24.test", None),
]

# (contact id, client id, email, role); clients 22-24 are set per H11
CONTACTS = [
    *[(100 + cid, cid, f"ap@c{cid:02d}.test", "Billing") for cid, *_ in CUSTOMERS if cid < 22],
    (2201, 22, "sales@c22.test", "Sales"),
    (2202, 22, "ap@c22.test", "billing"),
    (2301, 23, "buyer@c23.test", "Decision Maker"),
]

# Invoices: (id, tranid, client, currency, trandate, due, total, paid,
# close date, disputed). Money arrives as strings, as landed from JSON.
INVOICES = [
    # H01, landed out of order
    (103, "INV-103", 1, "EUR", "2026-04-20", "2026-05-20", "310.25", "0", None, False),
    (101, "INV-101", 1, "EUR", "2026-04-01", "2026-05-01", "1000.00", "400.00", None, False),
    (102, "INV-102", 1, "EUR", "2026-04-10", "2026-05-10", "75.50", "0", None, False),
    # H08: no due date, quarantined
    (104, "INV-104", 1, "EUR", "2026-04-10", None, "99.00", "0", None, False),
    # H02
    (201, "INV-201", 2, "USD", "2026-04-01", "2026-05-01", "500.00", "0", None, False),
    (301, "INV-301", 3, "EUR", "2026-04-01", "2026-05-01", "2000.00", "0", None, False),
    # H05
    (601, "INV-601", 6, "JPY", "2026-04-07", "2026-05-07", "123456", "0", None, False),
    (602, "INV-602", 6, "JPY", "2026-04-12", "2026-05-12", "7777", "0", None, False),
    # H06: internal ids run against document numbers
    (9001, "INV-903", 9, "EUR", "2026-04-01", "2026-05-01", "0.20", "0", None, False),
    (9002, "INV-902", 9, "EUR", "2026-04-01", "2026-05-01", "0.10", "0", None, False),
    (9003, "INV-901", 9, "EUR", "2026-04-01", "2026-05-01", "39981.70", "0", None, False),
    # H09: C14 paid late in March, C15 on time; both due 2026-06-26
    (
        1401,
        "INV-1401",
        14,
        "EUR",
        "2026-02-01",
        "2026-03-01",
        "100.00",
        "100.00",
        "2026-03-20",
        False,
    ),
    (1402, "INV-1402", 14, "EUR", "2026-05-27", "2026-06-26", "250.00", "0", None, False),
    (1403, "INV-1403", 14, "EUR", "2026-05-21", "2026-06-20", "80.00", "0", None, False),
    (
        1501,
        "INV-1501",
        15,
        "EUR",
        "2026-02-01",
        "2026-03-01",
        "100.00",
        "100.00",
        "2026-02-27",
        False,
    ),
    (1502, "INV-1502", 15, "EUR", "2026-05-27", "2026-06-26", "250.00", "0", None, False),
    # H10
    (1601, "INV-1601", 16, "EUR", "2026-04-01", "2026-05-01", "500.00", "0", None, False),
    (1701, "INV-1701", 17, "EUR", "2026-04-01", "2026-05-01", "500.00", "0", None, False),
]

# Credits: (id, tranid, type, client, currency, total, unapplied)
CREDITS = [
    (2901, "CM-201", "CustCred", 2, "USD", "-800.00", "800.00"),
    (3901, "CM-301", "CustCred", 3, "EUR", "-750.00", "750.00"),
    (6901, "CM-601", "CustCred", 6, "JPY", "-10000", "10000"),
    (9901, "CM-901", "CustCred", 9, "EUR", "-0.30", "0.30"),
]

# Ledger rows: (key, as_of, channel, kind, client, status, invoice_ids)
LEDGER = [
    ("k16", "2026-06-03", "email", "client_overdue", 16, "delivered", []),
    ("k17", "2026-06-02", "email", "client_overdue", 17, "delivered", []),
    ("k17-failed", "2026-06-10", "email", "client_overdue", 17, "failed", []),
    ("k17-chat", "2026-06-10", "chat", "am_overdue", 17, "delivered", []),
    ("k14-predue", "2026-06-15", "chat", "am_predue", 14, "delivered", ["INV-1402"]),
    ("k16-hold", "2026-06-01", "campaign", "hold_placed", 16, "delivered", []),
    ("k17-hold", "2026-05-01", "campaign", "hold_placed", 17, "delivered", []),
    ("k17-lift", "2026-06-05", "campaign", "hold_lifted", 17, "delivered", []),
    ("k01-alert", "2026-06-01", "chat", "hold_placed", 1, "delivered", []),
]


def _insert_raw(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(RAW_DDL)
    con.execute(
        "insert into raw.netsuite_employees values "
        "(900, 'Aiko', 'Manager', 'am@corp.test', 'spaces/am', now(), ?)",
        [AS_OF],
    )
    for cid, name, currency, email, language in CUSTOMERS:
        con.execute(
            "insert into raw.netsuite_customers values "
            "(?, ?, ?, ?, ?, ?, 1, 900, false, false, false, null, now(), ?)",
            [cid, name, f"{name} GmbH", email, language, currency, AS_OF],
        )
    for contact_id, cid, email, role in CONTACTS:
        con.execute(
            "insert into raw.netsuite_contacts values "
            "(?, ?, 'Pat', 'Payer', ?, ?, false, now(), ?)",
            [contact_id, cid, email, role, AS_OF],
        )
    for inv_id, tranid, cid, currency, trandate, due, total, paid, closed, disputed in INVOICES:
        unpaid = str(Decimal(total) - Decimal(paid))
        status = "CustInvc:B" if Decimal(unpaid) == 0 else "CustInvc:A"
        con.execute(
            "insert into raw.netsuite_transactions values "
            "(?, ?, 'CustInvc', ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, null, ?, "
            "now(), now(), ?)",
            [
                inv_id,
                tranid,
                cid,
                status,
                trandate,
                due,
                closed,
                currency,
                total,
                paid,
                unpaid,
                disputed,
                AS_OF,
            ],
        )
        con.execute(
            "insert into raw.netsuite_transaction_lines values "
            "(?, 1, 'Service', 'Monthly service', -1, ?, ?, now(), ?)",
            [inv_id, total, f"-{total}", AS_OF],
        )
    for credit_id, tranid, kind, cid, currency, total, unapplied in CREDITS:
        con.execute(
            "insert into raw.netsuite_transactions values "
            "(?, ?, ?, ?, ?, '2026-05-15', null, null, ?, 1, ?, null, null, ?, "
            "false, now(), now(), ?)",
            [credit_id, tranid, kind, cid, f"{kind}:A", currency, total, unapplied, AS_OF],
        )
    ensure_ledger(con)
    for key, as_of, channel, kind, cid, status, invoice_ids in LEDGER:
        con.execute(
            "insert into ops.ledger (message_key, as_of, channel, kind, "
            "client_id, invoice_ids, status, delivered_at) values "
            "(?, ?, ?, ?, ?, ?, ?, case when ? = 'delivered' then cast(? as timestamp) end)",
            [key, as_of, channel, kind, cid, invoice_ids, status, status, as_of],
        )


def run_dbt(args: list[str], as_of: str, work_dir: Path):
    """Invokes dbt in this process with the business date and the policy."""
    from dbt.cli.main import dbtRunner

    dbt_vars = {"as_of": as_of, **load_policy().dbt_vars()}
    return dbtRunner().invoke(
        [
            *args,
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target-path",
            str(work_dir / "target"),
            "--log-path",
            str(work_dir / "logs"),
            "--vars",
            json.dumps(dbt_vars),
            "--quiet",
        ]
    )


def failed_nodes(result) -> list[str]:
    if result.result is None:
        return [str(result.exception)]
    return [r.node.name for r in result.result if r.status in ("error", "fail")]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A DuckDB file with the raw cases, built by one `dbt build` for AS_OF."""
    work_dir = tmp_path_factory.mktemp("dbt")
    path = work_dir / "ar.duckdb"
    with duckdb.connect(str(path)) as con:
        _insert_raw(con)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AR_DUCKDB_PATH", str(path))
        result = run_dbt(["build"], AS_OF, work_dir)
        assert result.success, f"dbt build failed: {failed_nodes(result)}"
        yield path


def query(path: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(path)) as con:
        return con.execute(sql, params or []).fetchall()


def open_invoices(path: Path, client_id: int) -> dict[str, tuple]:
    rows = query(
        path,
        "select tranid, total_amount, credits_applied, remaining_amount, "
        "is_overdue, aging_bucket from marts.fct_open_invoices "
        "where client_id = ?",
        [client_id],
    )
    return {row[0]: row[1:] for row in rows}


def balance(path: Path, client_id: int, currency: str) -> dict:
    rows = query(
        path,
        "select overdue_amount, credits_applied, open_balance, net_balance, "
        "overdue_count from marts.fct_client_balances "
        "where client_id = ? and currency_code = ?",
        [client_id, currency],
    )
    assert len(rows) == 1
    keys = ("overdue", "credits_applied", "open_balance", "net", "count")
    return dict(zip(keys, rows[0]))


def status(path: Path, client_id: int) -> dict:
    with duckdb.connect(str(path)) as con:
        cur = con.execute("select * from marts.fct_client_status where client_id = ?", [client_id])
        names = [d[0] for d in cur.description]
        return dict(zip(names, cur.fetchone()))


def test_partial_payment_keeps_the_remainder_in_dunning(warehouse: Path) -> None:
    invoices = open_invoices(warehouse, 1)

    assert invoices["INV-101"][:4] == (Decimal("1000.00"), Decimal("0"), Decimal("600.00"), True)
    assert invoices["INV-102"][2:4] == (Decimal("75.50"), True)
    assert invoices["INV-103"][2:5] == (Decimal("310.25"), False, "1-30")
    totals = balance(warehouse, 1, "EUR")
    assert totals["overdue"] == Decimal("675.50")
    assert totals["open_balance"] == Decimal("985.75")
    assert totals["count"] == 2
    assert status(warehouse, 1)["tier"] == 2


def test_credits_are_netted_before_deciding(warehouse: Path) -> None:
    assert open_invoices(warehouse, 2) == {}
    c02 = balance(warehouse, 2, "USD")
    assert c02["overdue"] == 0
    assert c02["credits_applied"] == Decimal("500.00")
    assert c02["net"] == Decimal("-300.00")
    c02_status = status(warehouse, 2)
    assert (c02_status["tier"], c02_status["has_overdue"]) == (0, False)
    assert c02_status["has_net_credit_balance"]

    c03 = balance(warehouse, 3, "EUR")
    assert c03["overdue"] == Decimal("1250.00")
    assert c03["credits_applied"] == Decimal("750.00")
    assert status(warehouse, 3)["tier"] == 1


def test_yen_credit_goes_to_the_oldest_due_invoice(warehouse: Path) -> None:
    invoices = open_invoices(warehouse, 6)

    assert invoices["INV-601"][1:3] == (Decimal("10000"), Decimal("113456"))
    assert invoices["INV-602"][1:3] == (Decimal("0"), Decimal("7777"))
    assert balance(warehouse, 6, "JPY")["overdue"] == Decimal("121233")
    assert status(warehouse, 6)["language_code"] == "ja"


def test_due_date_tie_goes_to_the_lowest_document_number(warehouse: Path) -> None:
    invoices = open_invoices(warehouse, 9)

    assert invoices["INV-901"][2] == Decimal("39981.40")
    assert invoices["INV-902"][2] == Decimal("0.10")
    assert invoices["INV-903"][2] == Decimal("0.20")
    assert balance(warehouse, 9, "EUR")["overdue"] == Decimal("39981.70")


def test_money_columns_are_exact_decimals(warehouse: Path) -> None:
    rows = query(
        warehouse,
        "select table_name, column_name, data_type "
        "from information_schema.columns where table_schema = 'marts' "
        "and data_type <> 'BOOLEAN' "
        "and (column_name like '%amount%' or column_name like '%balance' "
        "or column_name = 'credits_applied')",
    )
    assert rows
    for table, column, data_type in rows:
        assert data_type.startswith("DECIMAL("), (table, column, data_type)
        scale = int(data_type.rstrip(")").split(",")[1])
        assert scale >= 3, (table, column, data_type)


def test_invoice_without_due_date_is_quarantined(warehouse: Path) -> None:
    assert query(
        warehouse,
        "select tranid, reason from intermediate.int_quarantined_invoices",
    ) == [("INV-104", "missing due date")]
    assert "INV-104" not in open_invoices(warehouse, 1)


def test_predue_lists_late_payers_only(warehouse: Path) -> None:
    rows = query(
        warehouse,
        "select tranid, days_until_due, has_delivered_predue_alert "
        "from marts.fct_predue_invoices order by tranid",
    )
    assert rows == [("INV-1402", 10, True), ("INV-1403", 4, False)]
    assert status(warehouse, 14)["is_late_payer"]
    assert not status(warehouse, 15)["is_late_payer"]


def test_cadence_counts_from_the_last_delivered_email(warehouse: Path) -> None:
    c16, c17 = status(warehouse, 16), status(warehouse, 17)

    assert str(c16["last_client_email_date"]) == "2026-06-03"
    assert not c16["is_cadence_eligible"]
    assert str(c17["last_client_email_date"]) == "2026-06-02"
    assert c17["is_cadence_eligible"]
    assert status(warehouse, 1)["is_cadence_eligible"]


def test_campaign_hold_is_active_until_a_delivered_lift(warehouse: Path) -> None:
    assert status(warehouse, 16)["has_active_hold"]
    assert not status(warehouse, 17)["has_active_hold"]
    assert not status(warehouse, 1)["has_active_hold"]


def test_billing_contacts_else_the_customer_email(warehouse: Path) -> None:
    rows = query(
        warehouse,
        "select client_id, email, recipient_source "
        "from marts.fct_client_recipients where client_id >= 22 "
        "order by client_id, email",
    )
    assert rows == [
        (22, "ap@c22.test", "billing_contact"),
        (24, "billing@c24.test", "customer_email"),
    ]
    assert not status(warehouse, 23)["has_recipient"]


@pytest.fixture(scope="module")
def copy_of(warehouse: Path, tmp_path_factory: pytest.TempPathFactory):
    """Copies the built warehouse so a test can change it in isolation."""

    def copy() -> tuple[Path, Path]:
        work_dir = tmp_path_factory.mktemp("dbt_copy")
        target = work_dir / "ar.duckdb"
        shutil.copy(warehouse, target)
        return work_dir, target

    return copy


def test_cadence_is_eligible_again_fourteen_days_on(copy_of) -> None:
    work_dir, path = copy_of()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AR_DUCKDB_PATH", str(path))
        result = run_dbt(["run", "--select", "+fct_client_status"], NEXT_DAY, work_dir)
    assert result.success, failed_nodes(result)

    assert status(path, 16)["is_cadence_eligible"]


def test_an_invoice_landed_twice_fails_the_uniqueness_test(copy_of) -> None:
    work_dir, path = copy_of()
    query(
        path,
        "insert into raw.netsuite_transactions "
        "select * replace (foreigntotal + 1 as foreigntotal) "
        "from raw.netsuite_transactions where tranid = 'INV-101'",
    )
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AR_DUCKDB_PATH", str(path))
        result = run_dbt(["test", "--select", "stg_netsuite__invoices"], AS_OF, work_dir)

    assert not result.success
    assert any(name.startswith("unique_") for name in failed_nodes(result))
