"""Typed columns of the raw NetSuite tables and the parsers that fill them.

Every value arrives as a JSON string and is parsed here: money straight to
Decimal (never float), ISO dates, T/F flags to booleans. A row with a value
that does not parse, or without a required value, is quarantined with the
reason instead; the rest of the batch lands. A missing due date is not a parse
failure: the invoice lands with duedate NULL and the model quarantines it.

A result whose columns differ from the table's (a field renamed or removed at
the source, or an alias changed) is schema drift, not bad rows: it fails the
load naming the column and the query.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from ar_assets.land import queries
from ar_assets.land.bulk import encode_rows
from ar_assets.land.suiteql import SchemaDriftError, SuiteQLQuery

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
    """A raw table: its query (as of a date, or modified since a time) and typed columns.

    `incremental` tables can be pulled by modification time and merged;
    `store_only` columns are kept for merging but not landed in raw.
    """

    name: str
    query: Callable[[date, datetime | None], SuiteQLQuery]
    columns: tuple[Column, ...]
    incremental: bool = False
    store_only: tuple[str, ...] = ()

    @property
    def raw_columns(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.name not in self.store_only)

    def typed(self, columns: Iterable[Column] | None = None) -> list[tuple[str, str]]:
        return [(c.name, c.sql_type) for c in (self.columns if columns is None else columns)]


RAW_TABLES = (
    RawTable("netsuite_transactions", queries.transactions_query, (
        _col("id", "BIGINT", True), _col("tranid", "VARCHAR", True),
        _col("type", "VARCHAR", True), _col("entity", "BIGINT", True),
        _col("status_code", "VARCHAR", True), _col("trandate", "DATE", True),
        _col("duedate", "DATE"), _col("closedate", "DATE"),
        _col("currency_code", "VARCHAR"), _col("exchangerate", RATE),
        _col("foreigntotal", MONEY, True), _col("foreignamountpaid", MONEY),
        _col("foreignamountunpaid", MONEY), _col("foreignpaymentamountunused", MONEY),
        _col("is_disputed", "BOOLEAN"), _col("is_voided", "BOOLEAN"),
        _col("lastmodifieddate", "TIMESTAMP"),
    ), incremental=True, store_only=("is_voided",)),
    RawTable("netsuite_transaction_lines", queries.transaction_lines_query, (
        _col("transaction", "BIGINT", True), _col("linesequencenumber", "INTEGER", True),
        _col("item", "VARCHAR"), _col("memo", "VARCHAR"), _col("quantity", MONEY),
        _col("rate", MONEY), _col("foreignamount", MONEY, True),
    ), incremental=True),
    RawTable("netsuite_customers", lambda *_: queries.customers_query(), (
        _col("id", "BIGINT", True), _col("entityid", "VARCHAR"), _col("companyname", "VARCHAR"),
        _col("email", "VARCHAR"), _col("language", "VARCHAR"),
        _col("currency_code", "VARCHAR"), _col("subsidiary", "BIGINT"),
        _col("salesrep", "BIGINT"), _col("isinactive", "BOOLEAN"),
        _col("is_high_value", "BOOLEAN"), _col("is_manual_hold", "BOOLEAN"),
        _col("hold_until", "DATE"),
    )),
    RawTable("netsuite_contacts", lambda *_: queries.contacts_query(), (
        _col("id", "BIGINT", True), _col("company", "BIGINT"), _col("firstname", "VARCHAR"),
        _col("lastname", "VARCHAR"), _col("email", "VARCHAR"),
        _col("contactrole", "VARCHAR"), _col("isinactive", "BOOLEAN"),
    )),
    RawTable("netsuite_employees", lambda *_: queries.employees_query(), (
        _col("id", "BIGINT", True), _col("firstname", "VARCHAR"), _col("lastname", "VARCHAR"),
        _col("email", "VARCHAR"), _col("gchat_space", "VARCHAR"),
    )),
    RawTable("netsuite_currencies", lambda *_: queries.currencies_query(), (
        _col("id", "BIGINT", True), _col("symbol", "VARCHAR", True), _col("name", "VARCHAR"),
    )),
    RawTable("netsuite_control_totals", lambda as_of, _: queries.control_totals_query(as_of), (
        _col("currency_code", "VARCHAR"), _col("open_amount", MONEY, True),
        _col("unapplied_amount", MONEY, True), _col("paid_count", "BIGINT", True),
    )),
)


@dataclass
class Quarantined:
    source_table: str
    source_id: str | None
    reason: str
    payload: dict


def parse_item(table: RawTable, item: dict) -> tuple | Quarantined:
    """Returns the typed row in column order, or the item quarantined with its reasons."""
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
        return Quarantined(table.name, None if source_id is None else str(source_id),
                           "; ".join(problems), item)
    return tuple(values)


def split_parsed(
    parsed: Iterable[tuple | str | Quarantined],
) -> tuple[list[tuple | str], list[Quarantined]]:
    """Returns (typed or encoded rows, quarantined items) from parse_item or PageParser."""
    rows: list[tuple | str] = []
    bad: list[Quarantined] = []
    for output in parsed:
        (bad if isinstance(output, Quarantined) else rows).append(output)
    return rows, bad


def parse_items(
    table: RawTable, items: Iterable[dict]
) -> tuple[list[tuple], list[Quarantined]]:
    """Returns (typed rows in column order, quarantined items with their reasons)."""
    return split_parsed(parse_item(table, item) for item in items)


class PageParser:
    """Parses a table's pages as they arrive and remembers which columns it saw.

    With `encode`, each good row comes out already encoded as a CSV record for
    `bulk.insert_encoded`, so the costly formatting also happens while later
    pages are still on the wire; quarantined items come out as they are.
    """

    def __init__(self, table: RawTable, query: str, encode: bool = False):
        self.table = table
        self.query = query
        self.encode = encode
        self.rows_seen = 0
        self.columns_seen: set[str] = set()
        self._expected = {c.name for c in table.columns}

    def __call__(self, items: list[dict]) -> list[tuple | str | Quarantined]:
        for item in items:
            self.columns_seen.update(item)
        self.rows_seen += len(items)
        unexpected = self.columns_seen - self._expected
        if unexpected:
            self._drift()
        parsed = [parse_item(self.table, item) for item in items]
        if not self.encode:
            return parsed
        records = iter(encode_rows(p for p in parsed if not isinstance(p, Quarantined)))
        return [p if isinstance(p, Quarantined) else next(records) for p in parsed]

    def check(self) -> None:
        """Raises SchemaDriftError if a required column was absent from every row."""
        if self.rows_seen and any(c.required and c.name not in self.columns_seen
                                  for c in self.table.columns):
            self._drift()

    def _drift(self) -> None:
        check_columns(self.table, self.query, [dict.fromkeys(self.columns_seen)],
                      self.rows_seen)


def check_columns(
    table: RawTable, query: str, items: list[dict], rows: int | None = None
) -> None:
    """Raises SchemaDriftError when a result's columns differ from the table's.

    NetSuite omits null values, so an optional column absent from every row is
    normal; a column nobody asked for, or a required one absent everywhere, is not.
    """
    if not items:
        return
    expected = {c.name for c in table.columns}
    seen: set[str] = set()
    for item in items:
        seen.update(item)
    unexpected = sorted(seen - expected)
    missing = [c.name for c in table.columns if c.required and c.name not in seen]
    if unexpected or missing:
        parts = []
        if missing:
            counted = len(items) if rows is None else rows
            parts.append(f"column(s) {', '.join(missing)} missing from all {counted} rows")
        if unexpected:
            parts.append(f"unexpected column(s) {', '.join(unexpected)}")
        raise SchemaDriftError(
            f"query {query}: {'; '.join(parts)} (renamed or removed at the source?); "
            f"raw.{table.name} expects {', '.join(c.name for c in table.columns)}"
        )
