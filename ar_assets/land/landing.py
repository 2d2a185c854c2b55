"""Lands one SuiteQL snapshot into the typed `raw.netsuite_*` tables.

Every value arrives as a JSON string and is parsed here: money to Decimal
(never float), ISO dates, T/F flags to booleans. A row with a value that does
not parse, or without a required value, goes to `raw.netsuite_quarantine`
with the reason instead; the rest of the batch lands. A missing due date is
not a parse failure: the invoice lands with duedate NULL and the model
quarantines it. Each run replaces the tables.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

import duckdb

from ar_assets.land import queries
from ar_assets.land.bulk import insert_rows
from ar_assets.land.suiteql import SuiteQLClient, SuiteQLQuery

log = logging.getLogger(__name__)

RAW_SCHEMA = "raw"
QUARANTINE_TABLE = "netsuite_quarantine"
MONEY = "DECIMAL(38,6)"
RATE = "DECIMAL(38,10)"
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
_INTEGER = re.compile(r"-?\d+")


class ParseError(ValueError):
    pass


def parse_int(value: object) -> int:
    """Returns an integer from a JSON string or number."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        return int(value)
    raise ParseError(f"not an integer: {value!r}")


def _decimal_parser(scale: int) -> Callable[[object], Decimal]:
    plain = re.compile(rf"-?\d+(?:\.\d{{1,{scale}}})?")

    def parse(value: object) -> Decimal:
        if type(value) is str and plain.fullmatch(value):
            return Decimal(value)  # the common case, already known to fit the scale
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            raise ParseError(f"not a decimal string: {value!r}")
        try:
            number = Decimal(value) if not isinstance(value, str) else Decimal(value.strip())
        except InvalidOperation as error:
            raise ParseError(f"not a decimal: {value!r}") from error
        if not number.is_finite():
            raise ParseError(f"not a finite decimal: {value!r}")
        if number.as_tuple().exponent < -scale:
            raise ParseError(f"more than {scale} decimal places: {value!r}")
        return number

    return parse


parse_money = _decimal_parser(6)
parse_rate = _decimal_parser(10)


def parse_iso_date(value: object) -> date:
    """Returns the date of a 'YYYY-MM-DD' string."""
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ParseError(f"not an ISO date: {value!r}")


def parse_iso_timestamp(value: object) -> datetime:
    """Returns the datetime of a 'YYYY-MM-DD HH:MM:SS' string."""
    if isinstance(value, str) and _ISO_TIMESTAMP.fullmatch(value):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    raise ParseError(f"not an ISO timestamp: {value!r}")


def parse_flag(value: object) -> bool:
    """Returns True for 'T' and False for 'F'."""
    if value in ("T", "F"):
        return value == "T"
    raise ParseError(f"not a T/F flag: {value!r}")


def parse_text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return str(value)
    raise ParseError(f"not text: {value!r}")


@dataclass(frozen=True)
class Column:
    name: str
    sql_type: str
    parse: Callable[[object], object]
    required: bool = False


def _col(name: str, sql_type: str, required: bool = False) -> Column:
    parsers = {"BIGINT": parse_int, "INTEGER": parse_int, MONEY: parse_money, RATE: parse_rate,
               "DATE": parse_iso_date, "TIMESTAMP": parse_iso_timestamp,
               "BOOLEAN": parse_flag, "VARCHAR": parse_text}
    return Column(name, sql_type, parsers[sql_type], required)


@dataclass(frozen=True)
class RawTable:
    name: str
    query: Callable[[date], SuiteQLQuery]
    columns: tuple[Column, ...]


RAW_TABLES = (
    RawTable("netsuite_transactions", queries.transactions_query, (
        _col("id", "BIGINT", True), _col("tranid", "VARCHAR", True),
        _col("type", "VARCHAR", True), _col("entity", "BIGINT", True),
        _col("status_code", "VARCHAR", True), _col("trandate", "DATE", True),
        _col("duedate", "DATE"), _col("closedate", "DATE"),
        _col("currency_code", "VARCHAR", True), _col("exchangerate", RATE),
        _col("foreigntotal", MONEY, True), _col("foreignamountpaid", MONEY),
        _col("foreignamountunpaid", MONEY), _col("foreignpaymentamountunused", MONEY),
        _col("is_disputed", "BOOLEAN"), _col("lastmodifieddate", "TIMESTAMP"),
    )),
    RawTable("netsuite_transaction_lines", queries.transaction_lines_query, (
        _col("transaction", "BIGINT", True), _col("linesequencenumber", "INTEGER", True),
        _col("item", "VARCHAR"), _col("memo", "VARCHAR"), _col("quantity", MONEY),
        _col("rate", MONEY), _col("foreignamount", MONEY, True),
    )),
    RawTable("netsuite_customers", lambda _: queries.customers_query(), (
        _col("id", "BIGINT", True), _col("entityid", "VARCHAR"), _col("companyname", "VARCHAR"),
        _col("email", "VARCHAR"), _col("language", "VARCHAR"),
        _col("currency_code", "VARCHAR"), _col("subsidiary", "BIGINT"),
        _col("salesrep", "BIGINT"), _col("isinactive", "BOOLEAN"),
        _col("is_high_value", "BOOLEAN"), _col("is_manual_hold", "BOOLEAN"),
        _col("hold_until", "DATE"),
    )),
    RawTable("netsuite_contacts", lambda _: queries.contacts_query(), (
        _col("id", "BIGINT", True), _col("company", "BIGINT"), _col("firstname", "VARCHAR"),
        _col("lastname", "VARCHAR"), _col("email", "VARCHAR"),
        _col("contactrole", "VARCHAR"), _col("isinactive", "BOOLEAN"),
    )),
    RawTable("netsuite_employees", lambda _: queries.employees_query(), (
        _col("id", "BIGINT", True), _col("firstname", "VARCHAR"), _col("lastname", "VARCHAR"),
        _col("email", "VARCHAR"), _col("gchat_space", "VARCHAR"),
    )),
    RawTable("netsuite_currencies", lambda _: queries.currencies_query(), (
        _col("id", "BIGINT", True), _col("symbol", "VARCHAR", True), _col("name", "VARCHAR"),
    )),
    RawTable("netsuite_control_totals", lambda _: queries.control_totals_query(), (
        _col("currency_code", "VARCHAR", True), _col("open_amount", MONEY, True),
    )),
)


@dataclass
class Quarantined:
    source_table: str
    source_id: str | None
    reason: str
    payload: dict


def parse_items(
    table: RawTable, items: Iterable[dict]
) -> tuple[list[tuple], list[Quarantined]]:
    """Returns (typed rows in column order, quarantined items with their reasons)."""
    rows: list[tuple] = []
    bad: list[Quarantined] = []
    for item in items:
        values = []
        problems = []
        for column in table.columns:
            raw = item.get(column.name)
            if raw is None or (raw == "" and column.sql_type != "VARCHAR"):
                if column.required:
                    problems.append(f"{column.name}: missing")
                values.append(None)
                continue
            try:
                values.append(column.parse(raw))
            except ParseError as error:
                problems.append(f"{column.name}: {error}")
        if problems:
            source_id = item.get("id", item.get("transaction"))
            reason = "; ".join(problems)
            bad.append(Quarantined(table.name, None if source_id is None else str(source_id),
                                   reason, item))
        else:
            rows.append(tuple(values))
    return rows, bad


@dataclass
class LandStats:
    as_of: date
    row_counts: dict[str, int] = field(default_factory=dict)
    quarantined: dict[str, int] = field(default_factory=dict)
    open_totals: dict[str, Decimal] = field(default_factory=dict)
    control_totals: dict[str, Decimal] = field(default_factory=dict)
    requests: int = 0


def land_snapshot(
    client: SuiteQLClient, con: duckdb.DuckDBPyConnection, as_of: date
) -> LandStats:
    """Lands the source as of `as_of` into raw.netsuite_*; returns counts and totals.

    Everything is fetched before anything is written, and the tables are
    replaced in one DuckDB transaction, so a failed run leaves the previous
    snapshot in place.
    """
    stats = LandStats(as_of)
    parsed: list[tuple[RawTable, list[tuple]]] = []
    quarantine: list[Quarantined] = []
    for table in RAW_TABLES:
        result = client.fetch(table.query(as_of))
        stats.requests += result.requests
        rows, bad = parse_items(table, result.rows)
        parsed.append((table, rows))
        quarantine.extend(bad)
        stats.row_counts[table.name] = len(rows)
        stats.quarantined[table.name] = len(bad)

    landed_at = datetime.now(UTC).replace(tzinfo=None)
    con.execute("begin transaction")
    try:
        con.execute(f"create schema if not exists {RAW_SCHEMA}")
        for table, rows in parsed:
            _replace_table(con, table.name, [(c.name, c.sql_type) for c in table.columns],
                           [row + (as_of, landed_at) for row in rows])
        _replace_table(
            con, QUARANTINE_TABLE,
            [("source_table", "VARCHAR"), ("source_id", "VARCHAR"), ("reason", "VARCHAR"),
             ("payload", "JSON")],
            [(q.source_table, q.source_id, q.reason, json.dumps(q.payload, default=str),
              as_of, landed_at) for q in quarantine],
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise

    stats.open_totals = _open_totals(con)
    stats.control_totals = dict(
        con.execute(f"select currency_code, open_amount from {RAW_SCHEMA}.netsuite_control_totals"
                    " order by currency_code").fetchall()
    )
    for table in RAW_TABLES:
        log.info("landed %d rows into %s.%s (%d quarantined)", stats.row_counts[table.name],
                 RAW_SCHEMA, table.name, stats.quarantined[table.name])
    return stats


def _replace_table(
    con: duckdb.DuckDBPyConnection, name: str, columns: list[tuple[str, str]], rows: list[tuple]
) -> None:
    columns = columns + [("as_of", "DATE"), ("landed_at", "TIMESTAMP")]
    ddl = ", ".join(f'"{column}" {sql_type}' for column, sql_type in columns)
    con.execute(f"create or replace table {RAW_SCHEMA}.{name} ({ddl})")
    insert_rows(con, f"{RAW_SCHEMA}.{name}", columns, rows)


def _open_totals(con: duckdb.DuckDBPyConnection) -> dict[str, Decimal]:
    """Returns the landed open invoice amount per currency."""
    return dict(con.execute(f"""
        select currency_code, sum(foreignamountunpaid)
        from {RAW_SCHEMA}.netsuite_transactions
        where type = 'CustInvc' and status_code = 'CustInvc:A'
        group by currency_code order by currency_code
    """).fetchall())
