"""Incremental loads keep raw.* the complete snapshot as of each date, and the open AR
that lands reconciles with the source to the cent or blocks every send.

Protects: consecutive days pulled incrementally land exactly what a full
snapshot of each day lands (payments, new invoices, voids), the weekly full
snapshot, past partitions loaded in full without moving the merged copy, a
deleted document caught by reconciling with the control totals, a renamed
column failing the load by name, and the blocking reconciliation gate.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import duckdb
import pytest
from dagster import AssetKey, AssetSpec, asset, materialize, multi_asset

from ar_assets.gate.reconciliation import open_ar_reconciles_with_source, reconcile_open_ar
from ar_assets.land.landing import RAW_TABLES, LandStats, LoadSettings, land_snapshot
from ar_assets.land.store import read_state
from ar_assets.land.suiteql import SchemaDriftError, SuiteQLClient
from ar_assets.resources import Warehouse
from ar_assets.sandbox.netsuite_server import NetSuiteSandbox
from ar_assets.sandbox.serve import serve_app
from ar_assets.sandbox.synthetic import generate_ledger

START = date(2026, 6, 8)
DAYS = [START + timedelta(days=i) for i in range(9)]
TABLES = [t.name for t in RAW_TABLES] + ["netsuite_quarantine"]


def voided_ledger():
    ledger = generate_ledger(50, DAYS[-1])
    open_invoices = [i for i in ledger.invoices if i.trandate < START and i.duedate]
    open_invoices[0].voided_on = DAYS[2]
    return ledger, open_invoices[0].id


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[NetSuiteSandbox, str, int]]:
    ledger, voided_id = voided_ledger()
    sandbox = NetSuiteSandbox(ledger, START)
    with serve_app(sandbox.app) as base_url:
        yield sandbox, base_url, voided_id


def _client(sandbox: NetSuiteSandbox, base_url: str) -> SuiteQLClient:
    creds = sandbox.credentials
    return SuiteQLClient.with_token_auth(creds.account_id, creds.consumer_key,
                                         creds.consumer_secret, creds.token_id,
                                         creds.token_secret, base_url=base_url)


def land(sandbox: NetSuiteSandbox, base_url: str, con: duckdb.DuckDBPyConnection,
         as_of: date, every: int = 7) -> LandStats:
    sandbox.set_clock(as_of)
    return land_snapshot(_client(sandbox, base_url), con, as_of,
                         LoadSettings(full_snapshot_every_days=every))


def snapshot(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    return {t: con.execute(f"select * exclude (landed_at) from raw.{t} order by all").fetchall()
            for t in TABLES}


def test_consecutive_incremental_days_land_what_full_snapshots_land(server) -> None:
    sandbox, base_url, voided_id = server
    kept = duckdb.connect()
    modes = []

    for as_of in DAYS:
        stats = land(sandbox, base_url, kept, as_of)
        modes.append(stats.plan.mode)
        fresh = duckdb.connect()
        land(sandbox, base_url, fresh, as_of)
        assert snapshot(kept) == snapshot(fresh), as_of
        if stats.plan.mode == "incremental":
            assert stats.pulled["netsuite_transactions"] < stats.row_counts[
                "netsuite_transactions"]

    assert modes == ["full"] + ["incremental"] * 6 + ["full", "incremental"]
    ids = {row[0] for row in kept.execute("select id from raw.netsuite_transactions").fetchall()}
    assert voided_id not in ids
    assert read_state(kept).as_of == DAYS[-1]


def test_a_past_partition_lands_in_full_and_leaves_the_merged_copy_alone(server) -> None:
    sandbox, base_url, _ = server
    kept = duckdb.connect()
    for as_of in DAYS[:4]:
        land(sandbox, base_url, kept, as_of)

    past = land(sandbox, base_url, kept, DAYS[1])
    past_snapshot = snapshot(kept)
    later = land(sandbox, base_url, kept, DAYS[4])

    fresh = duckdb.connect()
    land(sandbox, base_url, fresh, DAYS[1])
    assert past.plan.mode == "past" and past_snapshot == snapshot(fresh)
    fresh = duckdb.connect()
    land(sandbox, base_url, fresh, DAYS[4])
    assert later.plan.mode == "incremental" and snapshot(kept) == snapshot(fresh)


@pytest.mark.parametrize(("status", "measure"), [("CustInvc:A", "open invoices"),
                                                 ("CustInvc:B", "paid invoices (count)")])
def test_a_deleted_invoice_is_caught_by_a_control_total_and_reloaded(
    server, status: str, measure: str,
) -> None:
    sandbox, base_url, _ = server
    kept = duckdb.connect()
    land(sandbox, base_url, kept, DAYS[0])
    [(deleted, code)] = kept.execute(
        "select id, currency_code from raw.netsuite_transactions "
        "where status_code = ? order by id limit 1", [status]).fetchall()

    sandbox.delete_transactions([deleted])
    stats = land(sandbox, base_url, kept, DAYS[1])

    assert stats.plan.mode == "full"
    assert stats.plan.reason.startswith("incremental load differed in ")
    assert f"{measure} in {code}" in stats.plan.reason
    assert kept.execute("select count(*) from raw.netsuite_transactions where id = ?",
                        [deleted]).fetchone() == (0,)
    assert reconcile_open_ar(kept, DAYS[1].isoformat()).passed


def test_a_renamed_column_fails_the_load_naming_column_and_query(server) -> None:
    sandbox, base_url, _ = server
    sandbox.faults.rename_columns = {"foreigntotal": "foreign_total"}
    try:
        with pytest.raises(SchemaDriftError) as raised:
            land(sandbox, base_url, duckdb.connect(), DAYS[0])
    finally:
        sandbox.faults.rename_columns = {}

    message = str(raised.value)
    assert "query transactions" in message
    assert "foreigntotal missing" in message and "unexpected column(s) foreign_total" in message


def test_a_payment_posted_while_the_load_reads_is_read_again_and_reconciles(server) -> None:
    sandbox, base_url, _ = server
    sandbox.set_clock(DAYS[0])
    [(invoice, unpaid)] = sandbox.tables.con.execute("""
        select id, foreignamountunpaid from transaction
        where type = 'CustInvc' and status = 'A' order by id limit 1""").fetchall()
    # The first page (old state, invoice open) is answered before the payment posts;
    # the control totals are read after it (invoice paid).
    sandbox.faults.mid_read_changes = [f"""
        update transaction set foreignamountunpaid = 0, foreignamountpaid = foreigntotal,
               status = 'B', closedate = DATE '{DAYS[0]}' where id = {invoice}"""]
    con = duckdb.connect()
    try:
        stats = land_snapshot(_client(sandbox, base_url), con, DAYS[0])
    finally:
        sandbox.set_clock(DAYS[1])  # the as-of tables are rebuilt from the ledger

    assert unpaid > 0 and stats.rereads == 1 and stats.differences == []
    assert stats.plan.reason.startswith("the source changed while it was read")
    assert reconcile_open_ar(con, DAYS[0].isoformat()).passed
    assert con.execute("select status_code, foreignamountunpaid from raw.netsuite_transactions "
                       "where id = ?", [invoice]).fetchone() == ("CustInvc:B", 0)


def test_a_credit_changed_without_a_new_modification_time_is_caught_by_its_control_total(
    server,
) -> None:
    sandbox, base_url, _ = server
    con = duckdb.connect()
    land(sandbox, base_url, con, DAYS[0])
    sandbox.set_clock(DAYS[1])
    [(credit, code)] = sandbox.tables.con.execute(f"""
        select t.id, c.symbol from transaction t join currency c on c.id = t.currency
        where t.type = 'CustCred' and t.foreignpaymentamountunused > 1
          and t.lastmodifieddate < TIMESTAMP '{DAYS[0] - timedelta(days=2)}'
        order by t.id limit 1""").fetchall()
    # An incremental pull cannot see this change: the credit's modification time stays.
    sandbox.change_source([f"""update transaction
        set foreignpaymentamountunused = foreignpaymentamountunused - 1 where id = {credit}"""])
    try:
        stats = land_snapshot(_client(sandbox, base_url), con, DAYS[1])
    finally:
        sandbox.set_clock(DAYS[2])  # the as-of tables are rebuilt from the ledger

    assert stats.rereads == 1 and stats.differences == []
    assert stats.plan.reason == f"incremental load differed in unapplied credits in {code}"
    assert reconcile_open_ar(con, DAYS[1].isoformat()).passed


def test_reconciliation_fails_on_one_cent_and_names_the_currency(server) -> None:
    sandbox, base_url, _ = server
    con = duckdb.connect()
    land(sandbox, base_url, con, DAYS[0])
    assert reconcile_open_ar(con, DAYS[0].isoformat()).passed

    [(code,)] = con.execute("""
        update raw.netsuite_transactions set foreignamountunpaid = foreignamountunpaid + 0.01
        where id = (select min(id) from raw.netsuite_transactions
                    where status_code = 'CustInvc:A' and currency_code = 'EUR')
        returning currency_code""").fetchall()
    result = reconcile_open_ar(con, DAYS[0].isoformat())

    assert not result.passed
    assert f"{code} landed" in result.description and "difference 0.010000" in result.description
    assert not reconcile_open_ar(con, DAYS[1].isoformat()).passed  # a stale snapshot fails too


def test_an_open_invoice_quarantined_on_landing_explains_its_own_difference(server) -> None:
    sandbox, base_url, _ = server
    con = duckdb.connect()
    land(sandbox, base_url, con, DAYS[0])
    con.execute("""
        insert into raw.netsuite_quarantine
        select 'netsuite_transactions', cast(id as varchar), 'foreigntotal: not a decimal',
               json_object('type', type, 'status_code', status_code,
                           'currency_code', currency_code,
                           'foreignamountunpaid', cast(foreignamountunpaid as varchar)),
               as_of, landed_at
        from raw.netsuite_transactions where id = (
            select min(id) from raw.netsuite_transactions where status_code = 'CustInvc:A')""")
    con.execute("""delete from raw.netsuite_transactions where id = (
        select min(id) from raw.netsuite_transactions where status_code = 'CustInvc:A')""")

    result = reconcile_open_ar(con, DAYS[0].isoformat())

    assert result.passed
    assert "explained_by_quarantine" in result.metadata


@pytest.mark.parametrize(("total_over_open", "passes"), [("0", True), ("5.00", False)])
def test_an_unreadable_amount_unpaid_is_explained_only_by_total_less_paid_to_the_cent(
    server, total_over_open: str, passes: bool,
) -> None:
    sandbox, base_url, _ = server
    con = duckdb.connect()
    land(sandbox, base_url, con, DAYS[0])
    pick = "(select min(id) from raw.netsuite_transactions where status_code = 'CustInvc:A')"
    con.execute(f"""
        insert into raw.netsuite_quarantine
        select 'netsuite_transactions', cast(id as varchar), 'foreignamountunpaid: not a decimal',
               json_object('type', type, 'status_code', status_code,
                           'currency_code', currency_code, 'foreignamountunpaid', 'n/a',
                           'foreigntotal', cast(foreignamountunpaid + 7.25
                                                + {total_over_open} as varchar),
                           'foreignamountpaid', '7.25'),
               as_of, landed_at
        from raw.netsuite_transactions where id = {pick}""")
    con.execute(f"delete from raw.netsuite_transactions where id = {pick}")

    result = reconcile_open_ar(con, DAYS[0].isoformat())

    assert result.passed is passes
    assert ("explained_by_quarantine" in result.metadata) is passes


def test_a_failed_reconciliation_blocks_everything_downstream(server, tmp_path) -> None:
    sandbox, base_url, _ = server
    warehouse = Warehouse(path=str(tmp_path / "ar.duckdb"))
    sends: list[str] = []

    @multi_asset(specs=[AssetSpec(AssetKey(["raw", "netsuite_transactions"]))])
    def tampered_landing():
        with warehouse.connect() as con:
            land(sandbox, base_url, con, DAYS[0])
            con.execute("update raw.netsuite_transactions set foreignamountunpaid = "
                        "foreignamountunpaid - 0.01 where status_code = 'CustInvc:A'")

    @asset(deps=[AssetKey(["raw", "netsuite_transactions"])])
    def client_emails() -> None:
        sends.append("sent")

    result = materialize([tampered_landing, client_emails, open_ar_reconciles_with_source],
                         resources={"warehouse": warehouse}, raise_on_error=False)

    [evaluation] = result.get_asset_check_evaluations()
    assert not evaluation.passed and "differs from the source" in evaluation.description
    assert sends == [] and not result.success
