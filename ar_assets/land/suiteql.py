"""A SuiteQL client that lands every row or fails loudly, naming the query and window.

Pages hold 1,000 rows, SuiteQL's ceiling, and every query orders by a unique
key (paging without one can skip or repeat rows). A query returns at most
100,000 rows, so a query that can match more walks keyset windows
(`key > last key seen`) instead of paging past the ceiling. Within a window
the pages are fetched concurrently, at most `concurrency` in flight (NetSuite
shares a small per-account limit between every integration; 2 is our share).
The windows overlap: a window that reaches the ceiling fetches its last page
right after its first, and the next window starts from that page's last key
while the window's middle pages are still coming. Those first and last pages
go ahead of the queue for a slot, so no slot waits at a window boundary.

Every window is checked: each page's rows against its `count`, full pages
before the last, the rows received against `totalResults`, and the keys
strictly increasing. A `hasMore` that disagrees with `totalResults` is probed
rather than trusted. 429, 5xx and timeouts are retried with jittered
exponential backoff; a 401 is retried once with a fresh nonce (or token).
Values come back as NetSuite sent them (strings); parsing is landing's job.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import httpx
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from ar_assets.land.auth import TokenBasedAuth, netsuite_base_url

log = logging.getLogger(__name__)

SUITEQL_PATH = "/services/rest/query/v1/suiteql"
PAGE_SIZE = 1000  # SuiteQL's largest page
RESULT_CEILING = 100_000  # SuiteQL returns no row past this offset
DEFAULT_CONCURRENCY = 2  # our share of NetSuite's per-account concurrency limit
# NetSuite ends a request after 15 minutes. One the client gives up on sooner keeps
# running there and holds a slot of the account's concurrency limit while the retry
# takes another, so by default the client waits as long as NetSuite would.
DEFAULT_TIMEOUT_SECONDS = 15 * 60 + 30
_UNKNOWN_IDENTIFIER = re.compile(r"Unknown identifier '([^']+)'", re.IGNORECASE)


class SuiteQLError(Exception):
    """NetSuite refused a request or a query; the message carries its error detail."""


class SuiteQLAuthError(SuiteQLError):
    """NetSuite refused the credentials twice in a row (401 INVALID_LOGIN)."""


class IncompleteResultError(SuiteQLError):
    """The rows received differ from what NetSuite said it holds."""


class SchemaDriftError(SuiteQLError):
    """A column a query relies on is gone, renamed or new at the source."""


class SuiteQLUnavailableError(SuiteQLError):
    """NetSuite answered 429 or 5xx (retried until the attempts run out)."""

    def __init__(self, status: int, detail: str, label: str = ""):
        super().__init__(f"{label}: HTTP {status}: {detail}" if label
                         else f"HTTP {status}: {detail}")
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class SuiteQLQuery:
    """A named SuiteQL text.

    `order` names the result columns of its ORDER BY, which together are
    unique. With `key`, the text holds an `{after}` placeholder inside a
    predicate such as `t.id > {after}`, and `key` names the integer result
    column it bounds; the client then walks key windows past the ceiling.
    """

    name: str
    sql: str
    order: tuple[str, ...] = ()
    key: str | None = None

    def text(self, after: int = -1) -> str:
        """Returns the SQL with rows after `after` selected (-1 selects every row)."""
        return self.sql.replace("{after}", str(after))


# Turns a page's items into one output per item, in order (landing parses here,
# while the next pages are still on the wire).
PageTransform = Callable[[list[dict]], list]


@dataclass
class QueryResult:
    """Every row of a query: the items as received, or the transform's output per item."""

    name: str
    rows: list = field(repr=False)
    total_results: int
    requests: int
    windows: int = 1


@dataclass
class _Page:
    offset: int
    rows: list = field(repr=False)
    keys: list[tuple] = field(repr=False)
    total: int
    count: int
    has_more: bool


_HEAD, _BODY = 0, 1  # slot priorities: a window's first and last pages go first


class _Slots:
    """At most `size` requests in flight; waiters are let in by priority, then in order."""

    def __init__(self, size: int):
        self._free = size
        self._waiting: list[tuple[int, int, asyncio.Future]] = []
        self._arrivals = itertools.count()

    async def acquire(self, priority: int) -> None:
        if self._free and not self._waiting:
            self._free -= 1
            return
        turn = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (priority, next(self._arrivals), turn))
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self.release()  # the slot was handed over just as the waiter was cancelled
            raise

    def release(self) -> None:
        while self._waiting:
            _, _, turn = heapq.heappop(self._waiting)
            if not turn.done():
                turn.set_result(None)
                return
        self._free += 1


@dataclass
class _WindowHead:
    """A window's first page and, when the window reaches the ceiling, the fetch of
    its last page, whose last key is where the next window starts."""

    number: int
    after: int
    sql: str
    label: str
    first: _Page
    last: asyncio.Task | None = None


async def _already(page: _Page) -> _Page:
    return page


def _describe(error: BaseException | None) -> str:
    """Names an error even when its message is empty (httpx timeouts have none)."""
    text = str(error) if error is not None else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _error_detail(response: httpx.Response) -> str:
    try:
        details = response.json().get("o:errorDetails") or [{}]
        return str(details[0].get("detail") or response.text)
    except (ValueError, AttributeError):
        return response.text[:500]


def _sort_key(value: object) -> tuple[int, object]:
    if value is None:
        return (2, "")  # NetSuite sorts empty values last, ascending
    text = str(value)
    return (0, int(text)) if text.lstrip("-").isdigit() else (1, text)


class SuiteQLClient:
    """Runs SuiteQL queries against one NetSuite account (or the sandbox)."""

    def __init__(
        self,
        base_url: str,
        auth: httpx.Auth,
        *,
        page_size: int = PAGE_SIZE,
        result_ceiling: int = RESULT_CEILING,
        concurrency: int = DEFAULT_CONCURRENCY,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        max_attempts: int = 6,
        backoff_seconds: float = 1.0,
        backoff_max_seconds: float = 60.0,
    ):
        if result_ceiling % page_size:
            raise ValueError("the result ceiling must be a multiple of the page size")
        if concurrency < 1:
            raise ValueError(f"the concurrency must be at least 1, got {concurrency}")
        self.base_url = base_url.rstrip("/")
        self.auth = auth
        self.page_size = page_size
        self.result_ceiling = result_ceiling
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.backoff_max_seconds = backoff_max_seconds
        self.requests = 0
        self._http: httpx.AsyncClient | None = None
        self._slots: _Slots | None = None

    @classmethod
    def with_token_auth(
        cls, account_id: str, consumer_key: str, consumer_secret: str, token_id: str,
        token_secret: str, base_url: str | None = None, **options,
    ) -> SuiteQLClient:
        """Returns a client signing with token-based auth (OAuth 1.0a)."""
        auth = TokenBasedAuth(account_id, consumer_key, consumer_secret, token_id, token_secret)
        return cls(base_url or netsuite_base_url(account_id), auth, **options)

    def __enter__(self) -> SuiteQLClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def fetch(self, query: SuiteQLQuery) -> QueryResult:
        """Returns every row of one query, or raises naming it."""
        return self.fetch_all([query])[0]

    def fetch_all(
        self, queries: Sequence[SuiteQLQuery],
        transforms: Mapping[str, PageTransform] | None = None,
    ) -> list[QueryResult]:
        """Returns every row of each query, fetched together under the concurrency cap.

        `transforms` maps a query name to a function applied to each page as it
        arrives; its outputs (one per item) are what the result holds.
        """
        return asyncio.run(self.fetch_many(queries, transforms))

    async def fetch_many(
        self, queries: Sequence[SuiteQLQuery],
        transforms: Mapping[str, PageTransform] | None = None,
    ) -> list[QueryResult]:
        limits = httpx.Limits(max_connections=self.concurrency + 1)
        timeout = httpx.Timeout(self.timeout, connect=30.0)
        headers = {"Prefer": "transient", "Content-Type": "application/json"}
        async with httpx.AsyncClient(auth=self.auth, timeout=timeout, limits=limits,
                                     headers=headers) as http:
            self._http, self._slots = http, _Slots(self.concurrency)
            tasks = [asyncio.ensure_future(self._fetch(q, (transforms or {}).get(q.name)))
                     for q in queries]
            try:
                return list(await asyncio.gather(*tasks))
            finally:
                # One query failing stops the others before the connection pool closes.
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                self._http, self._slots = None, None

    async def _fetch(self, query: SuiteQLQuery, transform: PageTransform | None) -> QueryResult:
        tally = [0]
        tasks: list[asyncio.Task] = []
        bodies: list[asyncio.Task] = []
        try:
            after, number = -1, 1
            while True:
                head = await self._window_head(query, after, number, transform, tally)
                if head.last is not None:
                    tasks.append(head.last)
                bodies.append(asyncio.ensure_future(
                    self._window_body(query, head, transform, tally)))
                tasks.append(bodies[-1])
                if head.last is None:
                    break
                last = await asyncio.shield(head.last)
                anchor = last.keys[-1][0] if last.keys else None
                if anchor is None:
                    break  # the window's body check names the short page
                if head.first.keys[0][0] == anchor:
                    raise IncompleteResultError(
                        f"query {query.name}: one {query.key} holds a whole window of rows"
                    )
                after, number = int(anchor) - 1, number + 1
            windows = await asyncio.gather(*bodies)
        finally:
            for task in tasks:
                task.cancel()

        rows: list = []
        keys: list[tuple] = []
        expected = windows[0][2]
        for window, window_keys, _, anchor in windows:
            if anchor is None:
                rows.extend(window)
                keys.extend(window_keys)
                continue
            kept = [i for i, key in enumerate(window_keys) if key[0] != anchor]
            rows.extend(window[i] for i in kept)
            keys.extend(window_keys[i] for i in kept)

        self._check_order(query, keys)
        if len(rows) != expected:
            raise IncompleteResultError(
                f"query {query.name}: received {len(rows)} rows over {number} windows but "
                f"NetSuite reported totalResults {expected} (did the source change mid-read?)"
            )
        log.info("query %s: %s rows in %d requests (%d windows)", query.name,
                 f"{len(rows):,}", tally[0], number)
        return QueryResult(query.name, rows, expected, tally[0], number)

    async def _window_head(
        self, query: SuiteQLQuery, after: int, number: int,
        transform: PageTransform | None, tally: list[int],
    ) -> _WindowHead:
        """Fetches a window's first page and, when the window reaches the ceiling,
        starts fetching its last page ahead of the others."""
        sql = query.text(after)
        label = f"query {query.name}"
        if query.key:
            label += f", window {number} ({query.key} > {after})"
        log.debug("%s: %s", label, sql)
        first = await self._page(query, sql, 0, label, transform, tally, _HEAD)
        head = _WindowHead(number, after, sql, label, first)
        if first.total > self.result_ceiling:
            if query.key is None:
                raise IncompleteResultError(
                    f"query {query.name}: {first.total} rows match, more than the "
                    f"{self.result_ceiling} SuiteQL returns, and it has no key to narrow by"
                )
            offset = self.result_ceiling - self.page_size
            head.last = asyncio.ensure_future(
                self._page(query, sql, offset, label, transform, tally, _HEAD)
                if offset else _already(first)
            )
        return head

    async def _window_body(
        self, query: SuiteQLQuery, head: _WindowHead, transform: PageTransform | None,
        tally: list[int],
    ) -> tuple[list, list[tuple], int, object]:
        """Fetches the rest of a window's pages and checks them all; returns
        (rows, their keys, totalResults, the anchor key when the window was cut short)."""
        first, label = head.first, head.label
        in_window = min(first.total, self.result_ceiling)
        last_offset = self.result_ceiling - self.page_size if head.last is not None else None
        offsets = [o for o in range(self.page_size, in_window, self.page_size)
                   if o != last_offset]
        fetched = await asyncio.gather(*(
            self._page(query, head.sql, o, label, transform, tally, _BODY) for o in offsets
        ))
        pages = [first, *fetched]
        if head.last is not None and last_offset:
            pages.append(await asyncio.shield(head.last))
        pages.sort(key=lambda page: page.offset)

        for page in pages:
            if page.total != first.total:
                raise IncompleteResultError(
                    f"{label}: totalResults changed from {first.total} to {page.total} "
                    f"at offset {page.offset}"
                )
            if page.count != len(page.rows):
                raise IncompleteResultError(
                    f"{label}: page at offset {page.offset} says count {page.count} "
                    f"but holds {len(page.rows)} rows"
                )
            expected = min(self.page_size, in_window - page.offset)
            if len(page.rows) != expected:
                raise IncompleteResultError(
                    f"{label}: page at offset {page.offset} holds {len(page.rows)} rows, "
                    f"expected {expected} of totalResults {first.total}"
                )
        rows = [row for page in pages for row in page.rows]
        keys = [key for page in pages for key in page.keys]
        if len(rows) != in_window:
            raise IncompleteResultError(
                f"{label}: received {len(rows)} rows but NetSuite reported "
                f"totalResults {first.total}"
            )

        def fetch_page(offset: int):
            return self._page(query, head.sql, offset, label, transform, tally, _BODY)

        await self._probe_past_the_end(pages[-1], fetch_page, label)
        return rows, keys, first.total, None if head.last is None else keys[-1][0]

    async def _probe_past_the_end(self, last: _Page, fetch_page, label: str) -> None:
        """Checks a last page that claims more rows than totalResults counts."""
        following = last.offset + self.page_size
        if not last.has_more or last.total > self.result_ceiling:
            return  # agrees, or a cut-short window that the next window reads on from
        if following >= self.result_ceiling:
            raise IncompleteResultError(
                f"{label}: hasMore says rows follow the ceiling's last page although "
                f"totalResults is {last.total}"
            )
        probe = await fetch_page(following)
        if probe.rows:
            raise IncompleteResultError(
                f"{label}: rows beyond totalResults {last.total} at offset {following}"
            )
        log.warning("%s: hasMore was true on the last page; nothing followed", label)

    def _check_order(self, query: SuiteQLQuery, keys: list[tuple]) -> None:
        """Raises unless the order columns never decrease.

        Rows out of order mean paging would skip or duplicate rows. A repeated
        key is the source's own data fault (one id returned twice): both rows
        land so the models' uniqueness tests can name it and block the sends.
        """
        if not query.order:
            return

        def shown(key: tuple) -> str:
            return ", ".join(f"{c}={v}" for c, (_, v) in zip(query.order, key[1:]))

        for previous, current in zip(keys, keys[1:]):
            if current[1:] > previous[1:]:
                continue
            if current[1:] < previous[1:]:
                raise IncompleteResultError(
                    f"query {query.name}: rows out of order at {shown(current)}; paging "
                    f"would skip or duplicate rows"
                )
            log.warning("query %s: the source returned %s twice", query.name, shown(current))

    def _digest(
        self, query: SuiteQLQuery, items: list[dict], transform: PageTransform | None
    ) -> tuple[list[tuple], list]:
        """Returns per item (key value, each order column as a sortable pair), and the
        transform's outputs (or the items without their links)."""
        keys = []
        for item in items:
            item.pop("links", None)
            anchor = item.get(query.key) if query.key else None
            keys.append((anchor, *(_sort_key(item.get(c)) for c in query.order)))
        return keys, transform(items) if transform else items

    async def _page(
        self, query: SuiteQLQuery, sql: str, offset: int, label: str,
        transform: PageTransform | None, tally: list[int], priority: int = _BODY,
    ) -> _Page:
        try:
            body = await self._post(sql, offset, tally, priority, label)
        except SuiteQLUnavailableError as error:
            raise SuiteQLUnavailableError(error.status, error.detail, label) from error
        except SuiteQLError as error:
            raise type(error)(f"{label}: {error}") from error
        except httpx.TransportError as error:
            raise SuiteQLError(f"{label}: {error!r} at offset {offset}") from error
        items = body.get("items") or []
        try:
            # In a worker thread, so the event loop sends the next request meanwhile.
            keys, rows = await asyncio.to_thread(self._digest, query, items, transform)
        except SuiteQLError as error:
            raise type(error)(f"{label}: {error}") from error
        total = int(body.get("totalResults", len(items)))
        return _Page(offset, rows, keys, total, int(body.get("count", len(items))),
                     bool(body.get("hasMore")))

    async def _post(
        self, sql: str, offset: int, tally: list[int], priority: int, label: str,
    ) -> dict:
        retrying = AsyncRetrying(
            retry=retry_if_exception_type((SuiteQLUnavailableError, httpx.TransportError)),
            wait=wait_random_exponential(
                multiplier=self.backoff_seconds, max=self.backoff_max_seconds
            ),
            stop=stop_after_attempt(self.max_attempts),
            before_sleep=lambda state: log.warning(
                "%s: attempt %d at offset %d failed (%s); retrying", label,
                state.attempt_number, offset, _describe(state.outcome.exception()),
            ),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._post_once(sql, offset, tally, priority)
        raise AssertionError("unreachable")

    async def _post_once(self, sql: str, offset: int, tally: list[int], priority: int) -> dict:
        params = {"limit": self.page_size, "offset": offset}
        body = json.dumps({"q": sql})
        tally[0] += 1
        response = await self._send(params, body, priority)
        if response.status_code == 401:
            # A stale or colliding nonce (or an expired token) is refused once;
            # the retry is signed anew. A second 401 is real.
            log.warning("SuiteQL answered 401; retrying once with fresh credentials")
            tally[0] += 1
            response = await self._send(params, body, priority)
            if response.status_code == 401:
                raise SuiteQLAuthError(f"NetSuite refused the login: {_error_detail(response)}")
        if response.status_code == 429 or response.status_code >= 500:
            raise SuiteQLUnavailableError(response.status_code, _error_detail(response))
        if response.status_code >= 400:
            detail = _error_detail(response)
            unknown = _UNKNOWN_IDENTIFIER.search(detail)
            if unknown:
                raise SchemaDriftError(
                    f"column {unknown.group(1)!r} is unknown to NetSuite (renamed or "
                    f"removed?): {detail}"
                )
            raise SuiteQLError(f"NetSuite answered {response.status_code}: {detail}")
        return await asyncio.to_thread(json.loads, response.content, parse_float=Decimal)

    async def _send(self, params: dict, body: str, priority: int) -> httpx.Response:
        http, slots = self._http, self._slots
        assert http is not None and slots is not None
        await slots.acquire(priority)
        try:
            self.requests += 1
            return await http.post(self.base_url + SUITEQL_PATH, params=params, content=body)
        finally:
            slots.release()
