"""Lands NetSuite as of a business date into the typed `raw.netsuite_*` tables.

Transactions and their lines are the large tables. The first load, every
`full_snapshot_every_days` days (weekly by default), and any past partition
pull the landed set in full; the days between pull only the documents modified
since the last load's newest `lastmodifieddate`, less a safety lookback, and
merge them into the copy in `netsuite_sync` (see store.py). Deletions leave no
modification time, but every landed document counts in one of the source's
control totals (control.py: open invoices, unapplied credits, paid invoices in
the history window), so an incremental load whose totals differ is redone in
full at once, which drops what was deleted; the periodic full snapshot is the
net behind that. Customers, contacts, employees, currencies and control totals
are small and read whole every run.

A past partition (a backfill, or a replay going back in time) is loaded in full
into raw only: the merged copy keeps standing at its latest date, and the next
current-date run carries on incrementally from there.

Everything is fetched before anything is written, and every table is written in
one DuckDB transaction, so a failed run leaves the previous snapshot in place.

TODO: stream pages into a staging table inside that transaction instead of
holding every row in memory, because a 1M-row load peaks near 1.1 GiB; remove
when landing writes each page as it arrives.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import duckdb

from ar_assets.land import store
from ar_assets.land.control import (
    Difference,
    control_totals,
    currency_label,
    landed_totals,
    unexplained_differences,
)
from ar_assets.land.parsing import (
    RAW_TABLES,
    PageParser,
    Quarantined,
    parse_items,
    parse_money,
    split_parsed,
)
from ar_assets.land.suiteql import SuiteQLClient

__all__ = ["RAW_TABLES", "LandStats", "LoadPlan", "LoadSettings", "land_snapshot",
           "parse_items", "parse_money", "plan_load"]

log = logging.getLogger(__name__)

TRANSACTIONS, LINES = RAW_TABLES[0], RAW_TABLES[1]
INCREMENTAL_TABLES = tuple(t for t in RAW_TABLES if t.incremental)
WHOLE_TABLES = tuple(t for t in RAW_TABLES if not t.incremental)


@dataclass(frozen=True)
class LoadSettings:
    full_snapshot_every_days: int = 7
    lookback_hours: int = 24


@dataclass(frozen=True)
class LoadPlan:
    mode: str  # "full", "incremental" or "past"
    reason: str
    since: datetime | None = None


@dataclass
class LandStats:
    as_of: date
    plan: LoadPlan
    row_counts: dict[str, int] = field(default_factory=dict)
    quarantined: dict[str, int] = field(default_factory=dict)
    pulled: dict[str, int] = field(default_factory=dict)
    open_totals: dict[str, Decimal] = field(default_factory=dict)
    control_totals: dict[str, Decimal] = field(default_factory=dict)
    requests: int = 0
    windows: int = 0
    rereads: int = 0  # whole second reads after a difference from the control totals
    # control totals that landed rows (and rows quarantined) do not add up to
    differences: list[Difference] = field(default_factory=list)


def plan_load(state: store.SyncState | None, as_of: date, settings: LoadSettings) -> LoadPlan:
    """Decides how to load `as_of` given where the merged copy stands."""
    if state is None or state.watermark is None:
        return LoadPlan("full", "first load")
    if as_of < state.as_of:
        return LoadPlan("past", f"past partition; the merged copy stands at {state.as_of}")
    age = (as_of - state.full_as_of).days
    if age >= settings.full_snapshot_every_days:
        return LoadPlan("full", f"last full snapshot {age} days ago (every "
                                f"{settings.full_snapshot_every_days})")
    since = state.watermark - timedelta(hours=settings.lookback_hours)
    return LoadPlan("incremental", f"changes since {since:%Y-%m-%d %H:%M:%S} "
                                   f"(lookback {settings.lookback_hours} h)", since)


def land_snapshot(
    client: SuiteQLClient, con: duckdb.DuckDBPyConnection, as_of: date,
    settings: LoadSettings | None = None,
) -> LandStats:
    """Lands the source as of `as_of` into raw.netsuite_*; returns counts and totals."""
    settings = settings or LoadSettings()
    state = store.read_state(con)
    plan = plan_load(state, as_of, settings)
    stats = _land(client, con, as_of, plan, state)
    differences = stats.differences
    if differences:
        # An incremental copy that drifted is reloaded in full. A full read can differ
        # because SuiteQL has no read snapshot: a payment posted between the control query
        # and the pages changes one but not the other. Either way the source is read once
        # more, whole; a difference that remains is left to the reconciliation gate.
        codes = ", ".join(f"{d.measure.name} in {currency_label(d.currency)}"
                          for d in differences)
        if plan.mode == "incremental":
            reason = f"incremental load differed in {codes}"
        else:
            reason = f"the source changed while it was read ({codes} differed)"
        log.warning("landed totals differ from the source's control totals (%s); reading "
                    "it again in full", codes)
        requests = stats.requests
        stats = _land(client, con, as_of,
                      LoadPlan("past" if plan.mode == "past" else "full", reason), state)
        stats.requests += requests
        stats.rereads = 1
    log.info("landed %s: %s (%s); %s quarantined", as_of, plan.mode, stats.plan.reason,
             sum(stats.quarantined.values()))
    return stats


def _land(
    client: SuiteQLClient, con: duckdb.DuckDBPyConnection, as_of: date, plan: LoadPlan,
    state: store.SyncState | None,
) -> LandStats:
    stats = LandStats(as_of, plan)
    queries = [table.query(as_of, plan.since if table.incremental else None)
               for table in RAW_TABLES]
    # The large incremental tables come out of the parser as encoded CSV records.
    parsers = {q.name: PageParser(table, q.name, encode=table.incremental)
               for q, table in zip(queries, RAW_TABLES)}
    results = client.fetch_all(queries, parsers)
    parsed: dict[str, list[tuple | str]] = {}
    bad: dict[str, list[Quarantined]] = {}
    for table, result in zip(RAW_TABLES, results):
        parsers[result.name].check()
        parsed[table.name], bad[table.name] = split_parsed(result.rows)
        stats.pulled[table.name] = len(result.rows)
        stats.requests += result.requests
        stats.windows += result.windows

    landed_at = datetime.now(UTC).replace(tzinfo=None)
    incremental_bad = [q for t in INCREMENTAL_TABLES for q in bad[t.name]]
    con.execute("begin transaction")
    try:
        store.ensure_schemas(con)
        if plan.mode == "incremental":
            store.merge_changes(con, TRANSACTIONS, LINES, parsed, incremental_bad)
            source = store.SYNC_SCHEMA
        else:
            source = store.SYNC_SCHEMA if plan.mode == "full" else "temp"
            store.replace_copy(con, source, INCREMENTAL_TABLES, parsed, incremental_bad)
        store.materialize_snapshot(con, source, TRANSACTIONS, LINES, as_of, landed_at)
        for table in WHOLE_TABLES:
            store.land_table(con, table, parsed[table.name], as_of, landed_at)
        store.add_quarantine(con, [q for t in WHOLE_TABLES for q in bad[t.name]], as_of,
                             landed_at)
        stats.open_totals = landed_totals(con)
        stats.control_totals = control_totals(con)
        stats.differences = unexplained_differences(con)
        if plan.mode == "incremental" and stats.differences:
            con.execute("rollback")
            return stats
        if plan.mode != "past":
            full_as_of = as_of if plan.mode == "full" or state is None else state.full_as_of
            store.write_state(con, as_of, full_as_of)
        _count(con, stats)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return stats


def _count(con: duckdb.DuckDBPyConnection, stats: LandStats) -> None:
    quarantined = dict(con.execute(
        f"select source_table, count(*) from {store.RAW_SCHEMA}.{store.QUARANTINE_TABLE} "
        "group by source_table"
    ).fetchall())
    for table in RAW_TABLES:
        stats.row_counts[table.name] = con.execute(
            f"select count(*) from {store.RAW_SCHEMA}.{table.name}"
        ).fetchone()[0]
        stats.quarantined[table.name] = quarantined.get(table.name, 0)
