"""A loopback NetSuite that answers SuiteQL over REST from a SourceLedger.

It speaks contract section 1 of shared/reference/api_contracts.md: token-based
OAuth 1.0a (HMAC-SHA256) checked in the documented order or an OAuth 2.0
bearer token from the client-credentials endpoint, `Prefer: transient`
required, limit/offset paging with a 100,000-result ceiling, every value a
JSON string, raw DATE columns in the account's date preference. Queries are
transpiled from Oracle-flavoured SuiteQL to DuckDB with sqlglot and run
against the ledger's tables as of the sandbox clock.

Control endpoints (no auth, loopback only): `PUT /_sandbox/clock`
{"as_of": "YYYY-MM-DD"}, `PUT /_sandbox/faults` (see `Faults`: 429 bursts,
5xx, slow pages, a lying hasMore, nonce replays, the DD/MM/YYYY preference,
dropped or renamed columns, a lower result ceiling), `GET /_sandbox/requests`.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import threading
import time
from collections import Counter, OrderedDict
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import Decimal
from urllib.parse import parse_qsl

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.dialects.oracle import Oracle
from sqlglot.time import format_time
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ar_assets.sandbox.ledger import SourceLedger, SourceTables
from ar_assets.sandbox.netsuite_auth import (
    TOKEN_PATH,
    SandboxCredentials,
    TokenAuthority,
    hmac_sha256_signature,
    parse_oauth_header,
    pct,
    signature_base_string,
)
from ar_assets.sandbox.serve import faults_endpoint

__all__ = [
    "SUITEQL_PATH", "TOKEN_PATH", "Faults", "NetSuiteSandbox", "SandboxCredentials",
    "hmac_sha256_signature", "parse_oauth_header", "pct", "signature_base_string",
]

SUITEQL_PATH = "/services/rest/query/v1/suiteql"
CACHED_RESULTS = 6  # query results kept as DuckDB tables for paging
QUERY_NAME = re.compile(r"/\*\s*q:([\w.-]+)\s*\*/")
_ERROR_TYPES = {
    400: ("https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.1", "Bad Request"),
    401: ("https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.2", "Unauthorized"),
    429: ("https://www.rfc-editor.org/rfc/rfc6585.html#section-4", "Too Many Requests"),
    500: ("https://www.rfc-editor.org/rfc/rfc9110.html#section-15.6.1", "Internal Server Error"),
    503: ("https://www.rfc-editor.org/rfc/rfc9110.html#section-15.6.4", "Service Unavailable"),
}
_LOGIN_DETAIL = (
    "Invalid login attempt. For details, open the Login Audit Trail "
    "(Setup > Users/Roles > User Management > View Login Audit Trail)."
)


@dataclass
class Faults:
    """Switches for the sandbox's misbehaviour, set with PUT /_sandbox/faults.

    Lists are consumed one entry per SuiteQL request, in arrival order.
    """

    date_format: str = "M/D/YYYY"  # or "DD/MM/YYYY"
    concurrency_limit: int = 2  # requests in flight past this get 429
    # Every SuiteQL answer takes at least this long, NetSuite's own work and the
    # network together (the server's work runs inside it, not on top of it).
    delay_seconds: float = 0.0
    fail_statuses: list[int] = field(default_factory=list)  # 429 bursts, 5xx, 401
    slow_seconds: list[float] = field(default_factory=list)  # one-off slow pages
    reused_nonces: int = 0  # the next N signed requests are refused as nonce replays
    lying_has_more: list[int] = field(default_factory=list)  # offsets whose hasMore is wrong
    result_ceiling: int = 100_000
    drop_items: int = 0  # rows silently left off every page
    drop_columns: list[str] = field(default_factory=list)  # fields that no longer exist
    rename_columns: dict[str, str] = field(default_factory=dict)  # result keys renamed
    # SQL run on the source right after the first page of `transactions` is answered,
    # as a payment posted while a load reads (results already cached are dropped)
    mid_read_changes: list[str] = field(default_factory=list)


@dataclass
class RecordedRequest:
    query: str
    limit: int | None
    offset: int | None
    status: int
    reason: str = ""
    auth: str = ""


class SuiteQLError(Exception):
    """A query the sandbox cannot answer; its message becomes the 400 detail."""


def _request_base_uri(request: Request) -> str:
    url = request.url
    scheme, host, port = url.scheme.lower(), (url.hostname or "").lower(), url.port
    default = {"http": 80, "https": 443}.get(scheme)
    netloc = host if port in (None, default) else f"{host}:{port}"
    return f"{scheme}://{netloc}{url.path}"


_DF_TEMPLATES = {
    ("transaction", "status"): "(select label from status_label as _sl "
    "where _sl.type = {alias}.type and _sl.status = {alias}.status)",
    ("transaction", "type"): "(case {col} when 'CustInvc' then 'Invoice' "
    "when 'CustCred' then 'Credit Memo' when 'CustPymt' then 'Payment' else {col} end)",
    ("transaction", "entity"): "(select companyname from customer as _c where _c.id = {col})",
    ("contact", "company"): "(select companyname from customer as _c where _c.id = {col})",
    ("customer", "salesrep"): "(select firstname || ' ' || lastname from employee as _e "
    "where _e.id = {col})",
    ("contact", "contactrole"): "(select name from contactrole as _r where _r.id = {col})",
}


def _builtin_replacement(node: exp.Dot, tables: dict[str, str]) -> exp.Expression | None:
    func = node.expression
    if not (isinstance(node.this, exp.Identifier) and node.this.name.upper() == "BUILTIN"):
        return None
    if not isinstance(func, exp.Anonymous) or len(func.expressions) != 1:
        raise SuiteQLError(f"Unsupported built-in function {node.sql('oracle')}.")
    name, arg = func.name.upper(), func.expressions[0]
    if not isinstance(arg, exp.Column):
        return arg
    alias = arg.table or (next(iter(tables)) if len(tables) == 1 else "")
    key = (tables.get(alias.lower(), ""), arg.name.lower())
    col = arg.sql("duckdb")
    if name == "CF":
        if key == ("transaction", "status"):
            return sqlglot.parse_one(f"({alias}.type || ':' || {alias}.status)", read="duckdb")
        return arg
    if name != "DF":
        raise SuiteQLError(f"Unknown built-in function BUILTIN.{name}.")
    if key[1] == "currency":
        template = "(select name from currency as _cur where _cur.id = {col})"
    else:
        template = _DF_TEMPLATES.get(key, "cast({col} as varchar)")
    return sqlglot.parse_one(template.format(col=col, alias=alias), read="duckdb")


def translate_suiteql(query: str) -> str:
    """Returns DuckDB SQL for a SuiteQL query (BUILTIN.CF/DF and TO_CHAR rewritten)."""
    try:
        tree = sqlglot.parse_one(query, read="oracle")
    except sqlglot.errors.ParseError as error:
        raise SuiteQLError(f"Syntax error: {error}") from error
    tables = {t.alias_or_name.lower(): t.name.lower() for t in tree.find_all(exp.Table)}

    def rewrite(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Dot):
            return _builtin_replacement(node, tables) or node
        if isinstance(node, exp.ToChar) and node.args.get("format") is not None:
            oracle_format = node.args["format"].name
            strftime = format_time(oracle_format, Oracle.TIME_MAPPING, Oracle.TIME_TRIE)
            return exp.TimeToStr(this=node.this, format=exp.Literal.string(strftime))
        return node

    return tree.transform(rewrite).sql("duckdb")


def _format_date(value: date, preference: str) -> str:
    if preference == "DD/MM/YYYY":
        return f"{value.day:02d}/{value.month:02d}/{value.year}"
    return f"{value.month}/{value.day}/{value.year}"


def _wire_value(value: object, preference: str) -> str:
    """Returns a result value as NetSuite sends it: always a string."""
    if isinstance(value, bool):
        return "T" if value else "F"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, datetime):
        hour = value.hour % 12 or 12
        half = "am" if value.hour < 12 else "pm"
        return f"{_format_date(value, preference)} {hour}:{value.minute:02d} {half}"
    if isinstance(value, date):
        return _format_date(value, preference)
    return str(value)


def _error(status: int, detail: str, code: str, **extra: str) -> JSONResponse:
    kind, title = _ERROR_TYPES.get(status, _ERROR_TYPES[400])
    item = {"detail": detail, "o:errorCode": code, **extra}
    body = {"type": kind, "title": title, "status": status, "o:errorDetails": [item]}
    return JSONResponse(body, status_code=status)


def _bad_query(detail: str) -> JSONResponse:
    message = f"Invalid search query. Detailed unprocessed description follows. {detail}"
    return _error(400, message, "INVALID_PARAMETER", **{"o:errorQueryParam": "q"})


class NetSuiteSandbox:
    """The sandbox's state (ledger tables, clock, faults, request log) and its ASGI app."""

    def __init__(
        self,
        ledger: SourceLedger,
        as_of: date,
        credentials: SandboxCredentials | None = None,
        faults: Faults | None = None,
    ):
        self.tables = SourceTables(ledger)
        self.tables.set_as_of(as_of)
        self.credentials = credentials or SandboxCredentials()
        self.authority = TokenAuthority(self.credentials)
        self.faults = faults or Faults()
        self.requests: list[RecordedRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._results: OrderedDict[tuple[str, date], tuple[list[str], str, int]] = OrderedDict()
        self._table_ids = itertools.count()
        self._lock = threading.Lock()
        self.app = Starlette(
            routes=[
                Route(SUITEQL_PATH, self._suiteql, methods=["POST"]),
                Route(TOKEN_PATH, self._token, methods=["POST"]),
                Route("/_sandbox/clock", self._clock, methods=["GET", "PUT"]),
                Route("/_sandbox/faults", self._faults, methods=["GET", "PUT"]),
                Route("/_sandbox/requests", self._requests, methods=["GET", "DELETE"]),
            ]
        )

    @property
    def as_of(self) -> date:
        return self.tables.as_of

    def set_clock(self, as_of: date) -> None:
        """Rebuilds the as-of tables for a new date and forgets cached results."""
        with self._lock:
            self._forget_results()
            self.tables.set_as_of(as_of)

    def delete_transactions(self, ids: list[int]) -> None:
        """Deletes documents from the source outright, as a user deleting records would.

        Deleted records leave no trace a lastmodifieddate query can find.
        """
        with self._lock:
            con = self.tables.con
            for table, column in (("src_txn", "id"), ("src_line", "transaction"),
                                  ("src_app", "source"), ("src_app", "invoice")):
                con.execute(f"delete from {table} where {column} in "
                            f"(select unnest(?::BIGINT[]))", [ids])
            self._forget_results()
            self.tables.set_as_of(self.as_of)

    def change_source(self, statements: list[str]) -> None:
        """Runs SQL on the as-of tables (`transaction`, ...) until the clock next moves."""
        with self._lock:
            for statement in statements:
                self.tables.con.execute(statement)
            self._forget_results()

    def query_counts(self) -> Counter[str]:
        """Returns how many SuiteQL requests each named query received."""
        return Counter(r.query for r in self.requests)

    def check_auth(self, request: Request) -> str:
        """Returns why the request's credentials fail, or '' when they pass."""
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer":
            return self.authority.check_bearer(token.strip())
        if self.faults.reused_nonces > 0:
            # As if this nonce had been seen before: the replay check refuses it.
            self.faults.reused_nonces -= 1
            nonce = parse_oauth_header(header).get("oauth_nonce")
            if nonce:
                self.authority.mark_nonce_used(nonce)
        query = parse_qsl(request.url.query, keep_blank_values=True)
        return self.authority.check_oauth1(
            header, request.method, _request_base_uri(request), query
        )

    def _forget_results(self) -> None:
        for _, table, _ in self._results.values():
            self.tables.con.execute(f"drop table if exists {table}")
        self._results.clear()

    def _result(self, query: str) -> tuple[list[str], str, int]:
        """Runs a query once and keeps its rows in order in a table: (columns, table, total)."""
        with self._lock:
            key = (query, self.as_of)
            if key in self._results:
                self._results.move_to_end(key)
                return self._results[key]
            sql = translate_suiteql(query)
            table = f"_result_{next(self._table_ids)}"
            try:
                self.tables.con.execute(f"create temp table {table} as {sql}")
            except duckdb.Error as error:
                raise SuiteQLError(f"Search error occurred: {error}") from error
            cursor = self.tables.con.execute(f"select * from {table} limit 0")
            columns = [d[0].lower() for d in cursor.description]
            total = self.tables.con.execute(f"select count(*) from {table}").fetchone()[0]
            self._results[key] = (columns, table, total)
            while len(self._results) > CACHED_RESULTS:
                _, (_, old, _) = self._results.popitem(last=False)
                self.tables.con.execute(f"drop table if exists {old}")
            return self._results[key]

    def _rows(self, table: str, limit: int, offset: int) -> list[tuple]:
        with self._lock:
            # Tables built from an ordered query keep that order (insertion order).
            return self.tables.con.execute(
                f"select * from {table} limit {limit} offset {offset}"
            ).fetchall()

    async def _suiteql(self, request: Request) -> JSONResponse:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        record = RecordedRequest("", None, None, 200)
        self.requests.append(record)
        try:
            response = await self._answer(request, record)
        finally:
            self.in_flight -= 1
        record.status = response.status_code
        return response

    async def _answer(self, request: Request, record: RecordedRequest) -> JSONResponse:
        faults = self.faults
        try:
            query = str((await request.json()).get("q", ""))
        except ClientDisconnect:
            record.reason = "client disconnected before its query arrived"
            return JSONResponse({}, status_code=499)  # nginx's code; nothing reads it
        except (ValueError, AttributeError):
            query = ""
        match = QUERY_NAME.search(query)
        record.query = match.group(1) if match else query[:60]
        record.auth = request.headers.get("authorization", "").partition(" ")[0].lower()
        try:
            record.limit = int(request.query_params.get("limit", "1000"))
            record.offset = int(request.query_params.get("offset", "0"))
        except ValueError:
            return _error(400, "limit and offset must be integers.", "INVALID_PARAMETER")
        if self.in_flight > faults.concurrency_limit:
            record.reason = "concurrency limit"
            return _error(429, "Concurrency limit exceeded.", "CONCURRENCY_LIMIT_EXCEEDED")
        started = time.monotonic()
        if faults.slow_seconds:
            await asyncio.sleep(faults.slow_seconds.pop(0))
        response = await self._respond(request, record, query)
        if faults.mid_read_changes and record.query == "transactions" and record.offset == 0:
            changes, faults.mid_read_changes = faults.mid_read_changes, []
            await run_in_threadpool(self.change_source, changes)
        remaining = faults.delay_seconds - (time.monotonic() - started)
        if remaining > 0:
            await asyncio.sleep(remaining)
        return response

    async def _respond(self, request: Request, record: RecordedRequest,
                       query: str) -> JSONResponse:
        faults = self.faults
        if faults.fail_statuses:
            status = faults.fail_statuses.pop(0)
            record.reason = "injected"
            if status == 401:
                return _error(401, _LOGIN_DETAIL, "INVALID_LOGIN")
            return _error(status, "Injected failure.", "UNEXPECTED_ERROR")
        record.reason = self.check_auth(request)
        if record.reason:
            return _error(401, _LOGIN_DETAIL, "INVALID_LOGIN")
        if "transient" not in request.headers.get("prefer", "").lower():
            record.reason = "missing Prefer: transient"
            return _error(400, "The request must carry the header Prefer: transient.",
                          "INVALID_HEADER", **{"o:errorHeader": "Prefer"})
        limit, offset = record.limit, record.offset
        problem = self._paging_problem(limit, offset)
        if problem:
            record.reason = problem
            return _error(400, problem, "INVALID_PARAMETER", **{"o:errorQueryParam": "offset"})
        if not query.strip():
            return _bad_query("The request body has no query in 'q'.")
        for column in faults.drop_columns:
            if re.search(rf"\.{re.escape(column)}\b", query, re.IGNORECASE):
                record.reason = f"unknown identifier {column}"
                return _bad_query(f"Search error occurred: Unknown identifier '{column}'.")
        try:
            columns, table, total = await run_in_threadpool(self._result, query)
            rows = await run_in_threadpool(self._rows, table, limit, offset)
        except SuiteQLError as error:
            record.reason = str(error)
            return _bad_query(str(error))
        return JSONResponse(self._page(request, columns, rows, total, limit, offset))

    def _paging_problem(self, limit: int, offset: int) -> str:
        if not 1 <= limit <= 1000:
            return f"limit must be between 1 and 1000, got {limit}."
        if offset < 0 or offset % limit:
            return f"offset must be a non-negative multiple of limit, got {offset}."
        if offset >= self.faults.result_ceiling:
            return f"offset may not reach {self.faults.result_ceiling} results; narrow the query."
        return ""

    def _page(self, request: Request, columns: list[str], chunk: list[tuple], total: int,
              limit: int, offset: int) -> dict:
        faults = self.faults
        preference = faults.date_format
        if faults.drop_items:
            chunk = chunk[: max(0, len(chunk) - faults.drop_items)]
        keys = [faults.rename_columns.get(c, c) for c in columns]
        items = [
            {"links": [], **{c: _wire_value(v, preference)
                             for c, v in zip(keys, row) if v is not None}}
            for row in chunk
        ]
        has_more = offset + limit < total
        if offset in faults.lying_has_more:
            has_more = not has_more
        base = f"{_request_base_uri(request)}?limit={limit}&offset="
        links = [{"rel": "self", "href": f"{base}{offset}"}]
        if has_more:
            links.append({"rel": "next", "href": f"{base}{offset + limit}"})
        links.append({"rel": "last", "href": f"{base}{max(0, (total - 1) // limit * limit)}"})
        return {"links": links, "count": len(items), "hasMore": has_more, "offset": offset,
                "totalResults": total, "items": items}

    async def _token(self, request: Request) -> JSONResponse:
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        token_url = _request_base_uri(request)
        status, body = self.authority.issue_token(form, token_url)
        return JSONResponse(body, status_code=status)

    async def _clock(self, request: Request) -> JSONResponse:
        if request.method == "PUT":
            try:
                as_of = date.fromisoformat((await request.json())["as_of"])
            except (KeyError, TypeError, ValueError):
                return JSONResponse({"error": 'expected {"as_of": "YYYY-MM-DD"}'}, 400)
            await run_in_threadpool(self.set_clock, as_of)
        return JSONResponse({"as_of": self.as_of.isoformat()})

    async def _faults(self, request: Request) -> JSONResponse:
        return await faults_endpoint(request, self.faults)

    async def _requests(self, request: Request) -> JSONResponse:
        if request.method == "DELETE":
            self.requests.clear()
        return JSONResponse({"counts": dict(self.query_counts()),
                             "requests": [asdict(r) for r in self.requests]})
