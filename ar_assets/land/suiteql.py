"""A SuiteQL client: token-based auth, paging, retries and a row-count check.

Requests are signed with OAuth 1.0a HMAC-SHA256 (authlib), with the URL's
limit/offset in the signature and the account id as realm. Pages hold 1,000
rows, SuiteQL's ceiling. A query can return at most 100,000 rows, so queries
that carry a key column are narrowed by key ranges instead of paging past it.
Every fetch checks that the rows received equal NetSuite's `totalResults`.
Values are returned as NetSuite sent them (strings); parsing is landing's job.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from decimal import Decimal

import httpx
from authlib.oauth1 import ClientAuth
from authlib.oauth1.rfc5849.signature import generate_signature_base_string
from authlib.oauth1.rfc5849.util import escape
from tenacity import (
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

log = logging.getLogger(__name__)

SUITEQL_PATH = "/services/rest/query/v1/suiteql"
PAGE_SIZE = 1000  # SuiteQL's largest page
RESULT_CEILING = 100_000  # SuiteQL returns no row past this offset


class SuiteQLError(Exception):
    """NetSuite refused a request; the message carries its error detail."""


class SuiteQLAuthError(SuiteQLError):
    """NetSuite refused the credentials twice in a row (401 INVALID_LOGIN)."""


class IncompleteResultError(SuiteQLError):
    """The rows received differ from NetSuite's totalResults."""


class SuiteQLUnavailableError(SuiteQLError):
    """NetSuite answered 429 or 5xx (retried until the attempts run out)."""

    def __init__(self, status: int, detail: str):
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status


@dataclass(frozen=True)
class SuiteQLQuery:
    """A named SuiteQL text.

    With `key`, the text holds an `{after}` placeholder inside a predicate such
    as `t.id > {after}`, and `key` names the integer result column it bounds;
    the client then narrows large results by key ranges.
    """

    name: str
    sql: str
    key: str | None = None

    def text(self, after: int = -1) -> str:
        """Returns the SQL with rows after `after` selected (-1 selects every row)."""
        return self.sql.replace("{after}", str(after))


@dataclass
class QueryResult:
    name: str
    rows: list[dict[str, object]]
    total_results: int
    requests: int


def netsuite_base_url(account_id: str) -> str:
    """Returns the REST host for an account id (`1234567_SB1` -> `https://1234567-sb1...`)."""
    host = account_id.strip().lower().replace("_", "-")
    return f"https://{host}.suitetalk.api.netsuite.com"


def _sign_hmac_sha256(client, request) -> str:
    base_string = generate_signature_base_string(request)
    key = f"{escape(client.client_secret or '')}&{escape(client.token_secret or '')}"
    digest = hmac.new(key.encode(), base_string.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


# TODO: OAuth 2.0 client credentials (contract 1.7), because only token-based auth is
# implemented; remove when an account that has no TBA integration must be landed.
class NetSuiteOAuth1(httpx.Auth, ClientAuth):
    """authlib's OAuth 1.0a signer as an httpx auth, with HMAC-SHA256 (NetSuite's only method).

    The signature covers the method, URL and query parameters, never the JSON
    body, and no body hash is sent; the body goes out untouched (authlib's own
    httpx integration sends an empty body for non-form requests).
    """

    SIGNATURE_METHODS = {**ClientAuth.SIGNATURE_METHODS, "HMAC-SHA256": _sign_hmac_sha256}

    def auth_flow(self, request: httpx.Request):
        _, headers, _ = self.sign(request.method, str(request.url), {}, b"")
        request.headers["Authorization"] = headers["Authorization"]
        yield request


def _error_detail(response: httpx.Response) -> str:
    try:
        details = response.json().get("o:errorDetails") or [{}]
        return str(details[0].get("detail") or response.text)
    except (ValueError, AttributeError):
        return response.text[:500]


class SuiteQLClient:
    """Runs SuiteQL queries against one NetSuite account."""

    def __init__(
        self,
        account_id: str,
        consumer_key: str,
        consumer_secret: str,
        token_id: str,
        token_secret: str,
        base_url: str | None = None,
        page_size: int = PAGE_SIZE,
        result_ceiling: int = RESULT_CEILING,
        timeout: float = 300.0,
        max_attempts: int = 6,
        backoff_seconds: float = 1.0,
        backoff_max_seconds: float = 60.0,
    ):
        self.base_url = (base_url or netsuite_base_url(account_id)).rstrip("/")
        self.page_size = page_size
        self.result_ceiling = result_ceiling
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.backoff_max_seconds = backoff_max_seconds
        self.requests = 0
        auth = NetSuiteOAuth1(
            client_id=consumer_key,
            client_secret=consumer_secret,
            token=token_id,
            token_secret=token_secret,
            signature_method="HMAC-SHA256",
            realm=account_id,
        )
        self._http = httpx.Client(
            auth=auth,
            timeout=httpx.Timeout(timeout, connect=30.0),
            headers={"Prefer": "transient", "Content-Type": "application/json"},
        )

    def __enter__(self) -> SuiteQLClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def fetch(self, query: SuiteQLQuery) -> QueryResult:
        """Returns every row of the query, or raises naming it.

        Raises IncompleteResultError when the rows received differ from
        totalResults, or when more than the ceiling match and the query has
        no key to narrow by.
        """
        started_requests = self.requests
        rows: list[dict[str, object]] = []
        expected: int | None = None
        after = -1
        while True:
            try:
                window, total, cut_short = self._window(query, after)
            except IncompleteResultError:
                raise
            except SuiteQLUnavailableError as error:
                raise SuiteQLError(f"query {query.name}: {error}") from error
            except SuiteQLError as error:
                raise type(error)(f"query {query.name}: {error}") from error
            except httpx.TransportError as error:
                raise SuiteQLError(f"query {query.name}: {error!r}") from error
            expected = total if expected is None else expected
            if not cut_short:
                rows.extend(window)
                break
            if query.key is None:
                raise IncompleteResultError(
                    f"query {query.name}: {total} rows match, more than the "
                    f"{self.result_ceiling} SuiteQL returns, and it has no key to narrow by"
                )
            # The last key's rows may continue past the window: fetch them again.
            anchor = int(window[-1][query.key])
            kept = [row for row in window if int(row[query.key]) != anchor]
            if not kept:
                raise IncompleteResultError(
                    f"query {query.name}: one {query.key} holds a whole window of rows"
                )
            rows.extend(kept)
            after = anchor - 1

        requests = self.requests - started_requests
        if len(rows) != expected:
            raise IncompleteResultError(
                f"query {query.name}: received {len(rows)} rows but NetSuite "
                f"reported totalResults {expected}"
            )
        log.info("query %s: %d rows in %d requests", query.name, len(rows), requests)
        return QueryResult(query.name, rows, expected, requests)

    def _window(self, query: SuiteQLQuery, after: int) -> tuple[list[dict], int, bool]:
        """Pages one query text; returns (rows, totalResults, cut short at the ceiling)."""
        sql = query.text(after)
        log.debug("query %s: %s", query.name, sql)
        rows: list[dict] = []
        offset = 0
        while True:
            page = self._post(sql, offset)
            for item in page.get("items", []):
                item.pop("links", None)
                rows.append(item)
            total = int(page.get("totalResults", len(rows)))
            offset += self.page_size
            if not page.get("hasMore"):
                return rows, total, False
            if offset >= self.result_ceiling:
                return rows, total, True

    def _post(self, sql: str, offset: int) -> dict:
        retrying = Retrying(
            retry=retry_if_exception_type((SuiteQLUnavailableError, httpx.TransportError)),
            wait=wait_random_exponential(
                multiplier=self.backoff_seconds, max=self.backoff_max_seconds
            ),
            stop=stop_after_attempt(self.max_attempts),
            before_sleep=lambda state: log.warning(
                "SuiteQL attempt %d failed (%s); retrying",
                state.attempt_number,
                state.outcome.exception(),
            ),
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                return self._post_once(sql, offset)
        raise AssertionError("unreachable")

    def _post_once(self, sql: str, offset: int) -> dict:
        params = {"limit": self.page_size, "offset": offset}
        url = self.base_url + SUITEQL_PATH
        body = json.dumps({"q": sql})
        response = self._send(url, params, body)
        if response.status_code == 401:
            # A stale or colliding nonce is refused once; a second 401 is real.
            log.warning("SuiteQL answered 401; retrying once with a fresh nonce")
            response = self._send(url, params, body)
            if response.status_code == 401:
                raise SuiteQLAuthError(f"NetSuite refused the login: {_error_detail(response)}")
        if response.status_code == 429 or response.status_code >= 500:
            raise SuiteQLUnavailableError(response.status_code, _error_detail(response))
        if response.status_code >= 400:
            raise SuiteQLError(
                f"NetSuite answered {response.status_code}: {_error_detail(response)}"
            )
        return json.loads(response.content, parse_float=Decimal)

    def _send(self, url: str, params: dict, body: str) -> httpx.Response:
        self.requests += 1
        return self._http.post(url, params=params, content=body)
