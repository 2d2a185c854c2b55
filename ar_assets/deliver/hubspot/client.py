"""HubSpot CRM through hubspot-api-client 12, paced within the portal's rate limit.

Every call goes through one gate that keeps to the portal's rolling limit
(100 requests per 10 s by default) and the search limit, waits out a 429
(Retry-After if given, else `rate_limit_backoff_seconds`) and retries reads on
5xx and lost connections. A create is retried only when nothing can have
reached HubSpot (a 429 or a refused connection): after a 5xx or a timeout the
batch's outcome is reported, and the next attempt searches our message key
before creating anything, because HubSpot creates have no idempotency key.
"""

from __future__ import annotations

import json
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import hubspot
import hubspot.crm.companies as companies_api
import hubspot.crm.objects.emails as emails_api
import hubspot.crm.objects.notes as notes_api
import urllib3
from urllib3.util.retry import Retry

from ar_assets.deliver.hubspot.settings import HubSpotSettings

MAX_BATCH = 100  # batch create inputs per call
MAX_IN_VALUES = 100  # values in one IN filter
SEARCH_PAGE = 200  # search page size ceiling
# The client's own window is a little longer than the portal's, so timing jitter
# between our clock and HubSpot's never makes the 101st request land in the window.
WINDOW_MARGIN_SECONDS = 0.25

API_EXCEPTIONS = (companies_api.ApiException, emails_api.ApiException,
                  notes_api.ApiException)
OBJECT_MODULES = {"emails": emails_api, "notes": notes_api}
COMPANY_ASSOCIATION = {"emails": 186, "notes": 190}


class HubSpotUnavailable(Exception):
    """HubSpot could not be reached or kept failing; nothing more is known."""


class CreateOutcomeUnknown(Exception):
    """A create may or may not have reached HubSpot (5xx or a lost response)."""


@dataclass(frozen=True)
class ActivityInput:
    message_key: str
    company_id: str
    properties: dict[str, str]


@dataclass(frozen=True)
class CreateOutcome:
    status: str  # delivered | failed | unknown
    external_id: str | None = None
    reason: str | None = None


class RequestGate:
    """Keeps calls within the portal's rolling window and the search rate."""

    def __init__(self, settings: HubSpotSettings, sleep: Callable[[float], None] = time.sleep):
        self.settings = settings
        self.sleep = sleep
        self._sent: deque[float] = deque()
        self._searches: deque[float] = deque()

    def wait(self, is_search: bool) -> None:
        s = self.settings
        window = s.window_seconds + WINDOW_MARGIN_SECONDS
        while True:
            now = time.monotonic()
            while self._sent and self._sent[0] <= now - window:
                self._sent.popleft()
            while self._searches and self._searches[0] <= now - 1.0 - WINDOW_MARGIN_SECONDS:
                self._searches.popleft()
            waits = []
            if len(self._sent) >= s.requests_per_window:
                waits.append(self._sent[0] + window - now)
            if is_search and s.searches_per_second and \
                    len(self._searches) >= s.searches_per_second:
                waits.append(self._searches[0] + 1.0 + WINDOW_MARGIN_SECONDS - now)
            if not waits:
                break
            self.sleep(max(waits))
        self._sent.append(time.monotonic())
        if is_search:
            self._searches.append(time.monotonic())


class HubSpotCrm:
    """The calls the deliver steps make, counted per operation."""

    def __init__(self, settings: HubSpotSettings, sleep: Callable[[float], None] = time.sleep):
        self.settings = settings
        self.sleep = sleep
        self.gate = RequestGate(settings, sleep)
        self.calls: Counter = Counter()
        self.rate_limited = 0
        # Connections refused before anything was sent are retried by urllib3;
        # reads and statuses are ours to decide.
        retry = Retry(total=2, connect=2, read=0, status=0, other=0, redirect=0,
                      raise_on_status=False)
        self._client = hubspot.Client.create(
            access_token=settings.access_token, host=settings.host,
            base_url=settings.host, retry=retry,
        )
        self._apis: dict[str, object] = {}
        self._companies: dict[str, list[str]] = {}

    def _api(self, name: str):
        if name not in self._apis:
            crm = self._client.crm
            self._apis[name] = {
                "companies.search": lambda: crm.companies.search_api,
                "companies.basic": lambda: crm.companies.basic_api,
                "emails.search": lambda: crm.objects.emails.search_api,
                "emails.batch": lambda: crm.objects.emails.batch_api,
                "notes.search": lambda: crm.objects.notes.search_api,
                "notes.batch": lambda: crm.objects.notes.batch_api,
            }[name]()
        return self._apis[name]

    def _call(self, operation: str, fn: Callable[[], object], *, is_create: bool = False):
        """One API call with pacing, 429 waits and (for reads) retries."""
        s = self.settings
        attempt = 0
        while True:
            attempt += 1
            self.gate.wait(operation.endswith("search"))
            self.calls[operation] += 1
            try:
                return fn()
            except API_EXCEPTIONS as exc:
                status = exc.status or 0
                if status == 429 and attempt < s.max_attempts:
                    self.rate_limited += 1
                    self.sleep(_retry_after(exc, s.rate_limit_backoff_seconds))
                    continue
                if status >= 500 and is_create:
                    raise CreateOutcomeUnknown(f"hubspot {status} on {operation}") from None
                if status >= 500 and attempt < s.max_attempts:
                    self.sleep(s.backoff_seconds * 2 ** (attempt - 1))
                    continue
                if status == 429 or status >= 500:
                    raise HubSpotUnavailable(f"hubspot {status} on {operation} after "
                                             f"{attempt} attempts") from None
                if status in (401, 403) or not is_create:
                    # A refused token or request: nothing else will go through either.
                    raise HubSpotUnavailable(f"hubspot {status} on {operation}: "
                                             f"{_error_message(exc)}") from None
                raise
            except urllib3.exceptions.MaxRetryError as exc:
                # Connections refused twice never reached HubSpot; a read that broke
                # after sending is retried only when it changes nothing (a search).
                if attempt < s.max_attempts and (_never_sent(exc) or not is_create):
                    self.sleep(s.backoff_seconds * 2 ** (attempt - 1))
                    continue
                if is_create and not _never_sent(exc):
                    raise CreateOutcomeUnknown(f"connection lost on {operation}") from None
                raise HubSpotUnavailable(f"hubspot unreachable on {operation}") from None
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                if is_create:
                    raise CreateOutcomeUnknown(
                        f"{type(exc).__name__} on {operation}") from None
                if attempt < s.max_attempts:
                    self.sleep(s.backoff_seconds * 2 ** (attempt - 1))
                    continue
                raise HubSpotUnavailable(f"{type(exc).__name__} on {operation}") from None

    def _search_all(self, operation: str, module, property_name: str, values: list[str],
                    properties: list[str]) -> list:
        """Every object whose property is one of `values`, IN filters of <= 100 values."""
        found = []
        for start in range(0, len(values), MAX_IN_VALUES):
            chunk = values[start: start + MAX_IN_VALUES]
            after = None
            while True:
                request = module.PublicObjectSearchRequest(
                    filter_groups=[module.FilterGroup(filters=[module.Filter(
                        property_name=property_name, operator="IN", values=chunk)])],
                    properties=properties, limit=SEARCH_PAGE, after=after,
                )
                api = self._api(operation)
                page = self._call(operation, lambda r=request, a=api: a.do_search(
                    public_object_search_request=r, _request_timeout=self.settings.timeout))
                found.extend(page.results or [])
                after = page.paging.next.after if page.paging and page.paging.next else None
                if not after:
                    break
        return found

    def find_companies(self, netsuite_ids: Iterable[str]) -> dict[str, list[str]]:
        """HubSpot company ids per NetSuite customer id, looked up once per client object."""
        prop = self.settings.customer_id_property
        wanted = sorted({str(i) for i in netsuite_ids} - set(self._companies))
        if wanted:
            results = self._search_all("companies.search", companies_api, prop, wanted,
                                       ["name", prop])
            for netsuite_id in wanted:
                self._companies[netsuite_id] = []
            for company in results:
                netsuite_id = (company.properties or {}).get(prop)
                if netsuite_id in self._companies:
                    self._companies[netsuite_id].append(str(company.id))
        return {str(i): sorted(self._companies.get(str(i), []), key=int)
                for i in netsuite_ids}

    def known_companies(self) -> dict[str, list[str]]:
        """Every lookup made so far: NetSuite customer id -> HubSpot company ids."""
        return {k: sorted(v, key=int) for k, v in self._companies.items()}

    def find_logged(self, object_type: str, message_keys: Iterable[str]) -> dict[str, str]:
        """Activities already in HubSpot, by our message key: key -> HubSpot object id."""
        keys = sorted(set(message_keys))
        if not keys:
            return {}
        prop = self.settings.message_key_property
        results = self._search_all(f"{object_type}.search", OBJECT_MODULES[object_type], prop,
                                   keys, [prop])
        return {(r.properties or {}).get(prop): str(r.id) for r in results
                if (r.properties or {}).get(prop) in keys}

    def create_batch(self, object_type: str,
                     chunk: list[ActivityInput]) -> dict[str, CreateOutcome]:
        """Creates up to 100 activities, each associated with its company.

        Raises CreateOutcomeUnknown when the batch may have reached HubSpot without
        an answer, HubSpotUnavailable when it cannot have."""
        module = OBJECT_MODULES[object_type]
        type_id = COMPANY_ASSOCIATION[object_type]
        batch = module.BatchInputSimplePublicObjectBatchInputForCreate(inputs=[
            module.SimplePublicObjectBatchInputForCreate(
                properties=item.properties,
                object_write_trace_id=item.message_key,
                associations=[module.PublicAssociationsForObject(
                    to=module.PublicObjectId(id=item.company_id),
                    types=[module.AssociationSpec(association_category="HUBSPOT_DEFINED",
                                                  association_type_id=type_id)],
                )],
            )
            for item in chunk
        ])
        operation = f"{object_type}.batch"
        api = self._api(operation)
        try:
            response = self._call(operation, lambda: api.create(
                batch_input_simple_public_object_batch_input_for_create=batch,
                _request_timeout=self.settings.timeout), is_create=True)
        except API_EXCEPTIONS as exc:
            reason = f"hubspot {exc.status}: {_error_message(exc)}"
            return {item.message_key: CreateOutcome("failed", reason=reason) for item in chunk}
        return self._batch_outcomes(chunk, response)

    def _batch_outcomes(self, chunk: list[ActivityInput], response) -> dict[str, CreateOutcome]:
        prop = self.settings.message_key_property
        out: dict[str, CreateOutcome] = {}
        for result in response.results or []:
            key = result.object_write_trace_id or (result.properties or {}).get(prop)
            out[key] = CreateOutcome("delivered", external_id=str(result.id))
        for error in getattr(response, "errors", None) or []:
            for key in (error.context or {}).get("objectWriteTraceId") or []:
                out.setdefault(key, CreateOutcome("failed", reason=f"hubspot: {error.message}"))
        for item in chunk:
            out.setdefault(item.message_key, CreateOutcome(
                "unknown", reason="hubspot answered the batch without this input"))
        return out

    def update_company(self, company_id: str, properties: dict[str, str]) -> None:
        """Sets company properties (idempotent: the same values twice change nothing)."""
        body = companies_api.SimplePublicObjectInput(properties=properties)
        api = self._api("companies.basic")
        self._call("companies.update", lambda: api.update(
            company_id, simple_public_object_input=body,
            _request_timeout=self.settings.timeout))


def _retry_after(exc, default: float) -> float:
    headers = getattr(exc, "headers", None) or {}
    value = headers.get("Retry-After") if hasattr(headers, "get") else None
    try:
        return max(0.0, float(value)) if value is not None else default
    except ValueError:
        return default


def _never_sent(exc: urllib3.exceptions.MaxRetryError) -> bool:
    return isinstance(exc.reason, (urllib3.exceptions.NewConnectionError,
                                   urllib3.exceptions.ConnectTimeoutError))


def _error_message(exc) -> str:
    try:
        return str(json.loads(exc.body or "{}").get("message") or exc.reason)[:300]
    except (ValueError, AttributeError):
        return str(exc.reason)[:300]
