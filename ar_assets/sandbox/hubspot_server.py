"""A loopback HubSpot CRM, and the campaign-control webhook beside it.

It speaks contract section 2 of shared/reference/api_contracts.md for the calls
the deliver steps make through hubspot-api-client 12: company search by a
custom property (EQ/IN filters, paging, the filter limits), email and note
creation one at a time or in batches of up to 100 with inline associations
(186 email->company, 190 note->company), v4 association PUTs, and company
property updates. Every call needs the private-app bearer token. Unknown
properties are refused as HubSpot refuses them. The portal's rolling limit
(100 requests per 10 s by default) and the search limit answer 429 with the
documented body.

The campaign-control webhook (POST /_campaign/holds?token=...) records hold
placements and lifts and answers a repeated Idempotency-Key as a duplicate.

Control endpoints (no auth, loopback only): `PUT /_sandbox/faults` (see
`HubSpotFaults`), `GET|DELETE /_sandbox/requests`, `GET /_sandbox/objects`.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ar_assets.sandbox.ledger import SourceLedger
from ar_assets.sandbox.serve import faults_endpoint

SANDBOX_TOKEN = "pat-sandbox-hubspot-token"
CAMPAIGN_TOKEN = "sandbox-campaign-token"
MAX_BATCH_INPUTS = 100
MAX_SEARCH_LIMIT = 200
MAX_SEARCH_RESULTS = 10_000

# Properties the sandbox portal knows; anything else is refused like HubSpot does.
KNOWN_PROPERTIES = {
    "companies": {"name", "domain", "netsuite_customer_id", "ar_campaign_hold",
                  "hubspot_owner_id"},
    "emails": {"hs_timestamp", "hs_email_direction", "hs_email_status", "hs_email_subject",
               "hs_email_text", "hs_email_html", "hs_email_headers", "ar_message_key"},
    "notes": {"hs_timestamp", "hs_note_body", "ar_message_key"},
}
# associationTypeId of each activity type's link to a company (HUBSPOT_DEFINED).
COMPANY_ASSOCIATION = {"emails": 186, "notes": 190}
OBJECT_TYPES = {"companies": "companies", "company": "companies", "0-2": "companies",
                "emails": "emails", "email": "emails", "0-49": "emails",
                "notes": "notes", "note": "notes", "0-46": "notes"}


@dataclass
class HubSpotFaults:
    """Switches for the sandbox's misbehaviour, set with PUT /_sandbox/faults."""

    requests_per_window: int = 100  # the portal's rolling limit (Free/Starter: 100 / 10 s)
    window_seconds: float = 10.0
    searches_per_second: int = 5
    rate_limit_requests: list[int] = field(default_factory=list)  # 1-based API request numbers
    fail_statuses: list[int] = field(default_factory=list)  # answered to the next API requests
    down: bool = False  # every API request answered 503
    commit_then_fail: int = 0  # the next creates are stored, then answered 500
    retry_after: str | None = None  # Retry-After on 429s (HubSpot does not document one)
    delay_seconds: float = 0.0
    campaign_fail_statuses: list[int] = field(default_factory=list)


@dataclass
class RecordedRequest:
    number: int  # 1-based, API requests only
    method: str
    path: str
    status: int
    at: float  # time.time() on arrival
    objects: int = 0  # inputs of a batch, or 1
    reason: str = ""


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _error(status: int, message: str, category: str, **extra: object) -> JSONResponse:
    body = {"status": "error", "message": message, "correlationId": str(uuid.uuid4()),
            "category": category, **extra}
    return JSONResponse(body, status_code=status)


def _rate_limited(policy: str, retry_after: str | None) -> JSONResponse:
    message = ("You have reached your secondly limit." if policy == "SECONDLY"
               else "You have reached your ten_secondly_rolling limit.")
    body = {"status": "error", "message": message, "errorType": "RATE_LIMIT",
            "correlationId": str(uuid.uuid4()), "policyName": policy}
    headers = {"Retry-After": retry_after} if retry_after else {}
    return JSONResponse(body, status_code=429, headers=headers)


def _valid_timestamp(value: str) -> bool:
    if value.isdigit():
        return True
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


class HubSpotSandbox:
    """One HubSpot portal in memory, served as an ASGI app."""

    def __init__(self, companies: list[tuple[str, str]] = (), token: str = SANDBOX_TOKEN,
                 campaign_token: str = CAMPAIGN_TOKEN) -> None:
        self.token = token
        self.campaign_token = campaign_token
        self.faults = HubSpotFaults()
        self.requests: list[RecordedRequest] = []
        self.objects: dict[str, dict[str, dict]] = {"companies": {}, "emails": {}, "notes": {}}
        self.campaign_calls: list[dict] = []
        self._lock = threading.Lock()
        self._next_id = 9000
        self._recent: deque[float] = deque()
        self._recent_searches: deque[float] = deque()
        self._idempotency: set[str] = set()
        for netsuite_id, name in companies:
            self.add_company(netsuite_id, name)
        self.app = Starlette(routes=[
            Route("/crm/v3/objects/{object_type}/search", self._search, methods=["POST"]),
            Route("/crm/v3/objects/{object_type}/batch/create", self._batch_create,
                  methods=["POST"]),
            Route("/crm/v3/objects/{object_type}", self._create, methods=["POST"]),
            Route("/crm/v3/objects/{object_type}/{object_id}", self._update, methods=["PATCH"]),
            Route("/crm/v4/objects/{from_type}/{from_id}/associations/default/{to_type}/{to_id}",
                  self._associate_default, methods=["PUT"]),
            Route("/crm/v4/objects/{from_type}/{from_id}/associations/{to_type}/{to_id}",
                  self._associate_typed, methods=["PUT"]),
            Route("/_campaign/holds", self._campaign, methods=["POST"]),
            Route("/_sandbox/faults", self._faults_endpoint, methods=["GET", "PUT"]),
            Route("/_sandbox/requests", self._requests_endpoint, methods=["GET", "DELETE"]),
            Route("/_sandbox/objects", self._objects_endpoint, methods=["GET"]),
        ])

    @classmethod
    def for_ledger(cls, ledger: SourceLedger, *, missing: tuple[int, ...] = (),
                   duplicated: tuple[int, ...] = ()) -> HubSpotSandbox:
        """One company per NetSuite customer; `missing` get none, `duplicated` get two."""
        sandbox = cls()
        for customer in ledger.customers:
            if customer.id in missing:
                continue
            copies = 2 if customer.id in duplicated else 1
            for _ in range(copies):
                sandbox.add_company(str(customer.id), customer.companyname)
        return sandbox

    # -- state, also read directly by tests in this process ----------------------

    def add_company(self, netsuite_id: str, name: str) -> str:
        return self._store("companies", {"name": name, "netsuite_customer_id": netsuite_id}, {})

    def company_ids(self, netsuite_id: str) -> list[str]:
        return [oid for oid, obj in self.objects["companies"].items()
                if obj["properties"].get("netsuite_customer_id") == netsuite_id]

    def activities(self, object_type: str = "emails") -> list[dict]:
        with self._lock:
            return [dict(obj) for obj in self.objects[object_type].values()]

    def api_requests(self, path_part: str = "") -> list[RecordedRequest]:
        return [r for r in self.requests if path_part in r.path]

    def _store(self, object_type: str, properties: dict, associations: dict,
               trace_id: str | None = None) -> str:
        with self._lock:
            self._next_id += 1
            oid = str(self._next_id)
            now = _now_iso()
            self.objects[object_type][oid] = {
                "id": oid, "properties": {**properties, "hs_object_id": oid},
                "createdAt": now, "updatedAt": now, "archived": False,
                "associations": associations, "objectWriteTraceId": trace_id,
            }
            return oid

    @staticmethod
    def _public(obj: dict, properties: list[str] | None = None) -> dict:
        props = obj["properties"]
        if properties is not None:
            props = {k: v for k, v in props.items() if k in properties or k == "hs_object_id"}
        out = {"id": obj["id"], "properties": props, "createdAt": obj["createdAt"],
               "updatedAt": obj["updatedAt"], "archived": False}
        if obj.get("objectWriteTraceId"):
            out["objectWriteTraceId"] = obj["objectWriteTraceId"]
        return out

    # -- gatekeeping shared by every API call -------------------------------------

    async def _admit(self, request: Request, objects: int = 1) -> tuple[RecordedRequest,
                                                                          JSONResponse | None]:
        faults = self.faults
        now = time.time()
        with self._lock:
            record = RecordedRequest(len(self.requests) + 1, request.method, request.url.path,
                                     200, now, objects)
            self.requests.append(record)
        if faults.delay_seconds:
            await asyncio.sleep(faults.delay_seconds)
        denied = self._deny(request, record, now)
        if denied is not None:
            record.status = denied.status_code
        return record, denied

    def _deny(self, request: Request, record: RecordedRequest, now: float) -> JSONResponse | None:
        faults = self.faults
        if faults.down:
            record.reason = "down"
            return _error(503, "Service unavailable.", "SERVICE_UNAVAILABLE")
        if faults.fail_statuses:
            status = faults.fail_statuses.pop(0)
            record.reason = "injected"
            if status == 429:
                return _rate_limited("TEN_SECONDLY_ROLLING", faults.retry_after)
            return _error(status, "Injected failure.", "INTERNAL_ERROR")
        if record.number in faults.rate_limit_requests:
            record.reason = "injected rate limit"
            return _rate_limited("TEN_SECONDLY_ROLLING", faults.retry_after)
        with self._lock:
            while self._recent and self._recent[0] <= now - faults.window_seconds:
                self._recent.popleft()
            if len(self._recent) >= faults.requests_per_window:
                record.reason = "rolling limit"
                return _rate_limited("TEN_SECONDLY_ROLLING", faults.retry_after)
            self._recent.append(now)
            if record.path.endswith("/search") and faults.searches_per_second:
                while self._recent_searches and self._recent_searches[0] <= now - 1.0:
                    self._recent_searches.popleft()
                if len(self._recent_searches) >= faults.searches_per_second:
                    record.reason = "search limit"
                    return _rate_limited("SECONDLY", faults.retry_after)
                self._recent_searches.append(now)
        if request.headers.get("authorization", "") != f"Bearer {self.token}":
            record.reason = "bad token"
            return _error(401, "Authentication credentials not found.",
                          "INVALID_AUTHENTICATION")
        return None

    def _limit_headers(self) -> dict[str, str]:
        faults = self.faults
        remaining = max(0, faults.requests_per_window - len(self._recent))
        return {"X-HubSpot-RateLimit-Max": str(faults.requests_per_window),
                "X-HubSpot-RateLimit-Remaining": str(remaining),
                "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(faults.window_seconds * 1000))}

    # -- CRM endpoints ------------------------------------------------------------

    async def _search(self, request: Request) -> JSONResponse:
        record, denied = await self._admit(request)
        if denied is not None:
            return denied
        object_type = OBJECT_TYPES.get(request.path_params["object_type"])
        body = await request.json()
        problem = _search_problem(body) if object_type else "unknown object type"
        if problem:
            record.status, record.reason = 400, problem
            return _error(400, problem, "VALIDATION_ERROR")
        groups = body.get("filterGroups") or []
        with self._lock:
            matches = [obj for oid, obj in sorted(self.objects[object_type].items(),
                                                  key=lambda item: int(item[0]))
                       if not groups or any(_matches(obj, g) for g in groups)]
        start = int(body.get("after") or 0)
        limit = int(body.get("limit") or 10)
        page = matches[start: start + limit]
        wanted = body.get("properties") or None
        out: dict = {"total": len(matches), "results": [self._public(o, wanted) for o in page]}
        if start + limit < min(len(matches), MAX_SEARCH_RESULTS):
            out["paging"] = {"next": {"after": str(start + limit)}}
        return JSONResponse(out)

    async def _create(self, request: Request) -> JSONResponse:
        record, denied = await self._admit(request)
        if denied is not None:
            return denied
        object_type = OBJECT_TYPES.get(request.path_params["object_type"])
        if object_type not in COMPANY_ASSOCIATION:
            record.status = 404
            return _error(404, "Unknown object type.", "OBJECT_NOT_FOUND")
        payload = await request.json()
        problem = self._input_problem(object_type, payload)
        if problem:
            record.status, record.reason = 400, problem
            return _error(400, problem, "VALIDATION_ERROR")
        oid = self._store(object_type, payload.get("properties") or {},
                          _associations(payload), payload.get("objectWriteTraceId"))
        if self._lose_response():
            record.status, record.reason = 500, "stored, then failed"
            return _error(500, "Internal error.", "INTERNAL_ERROR")
        record.status = 201
        return JSONResponse(self._public(self.objects[object_type][oid]), status_code=201,
                            headers=self._limit_headers())

    async def _batch_create(self, request: Request) -> JSONResponse:
        payload = await request.json()
        inputs = payload.get("inputs") or []
        record, denied = await self._admit(request, len(inputs))
        if denied is not None:
            return denied
        object_type = OBJECT_TYPES.get(request.path_params["object_type"])
        if object_type not in COMPANY_ASSOCIATION:
            record.status = 404
            return _error(404, "Unknown object type.", "OBJECT_NOT_FOUND")
        if not inputs or len(inputs) > MAX_BATCH_INPUTS:
            record.status, record.reason = 400, "batch size"
            return _error(400, f"Batch input must hold 1 to {MAX_BATCH_INPUTS} inputs.",
                          "VALIDATION_ERROR")
        started = _now_iso()
        results, errors = [], []
        for item in inputs:
            trace = item.get("objectWriteTraceId")
            problem = self._input_problem(object_type, item)
            if problem:
                context = {"objectWriteTraceId": [trace]} if trace else {}
                errors.append({"status": "error", "category": "VALIDATION_ERROR",
                               "message": problem, "context": context})
                continue
            oid = self._store(object_type, item.get("properties") or {}, _associations(item),
                              trace)
            results.append(self._public(self.objects[object_type][oid]))
        if self._lose_response():
            record.status, record.reason = 500, "stored, then failed"
            return _error(500, "Internal error.", "INTERNAL_ERROR")
        body = {"status": "COMPLETE", "results": results, "startedAt": started,
                "completedAt": _now_iso()}
        record.status = 207 if errors else 201
        if errors:
            body |= {"numErrors": len(errors), "errors": errors}
        return JSONResponse(body, status_code=207 if errors else 201,
                            headers=self._limit_headers())

    async def _update(self, request: Request) -> JSONResponse:
        record, denied = await self._admit(request)
        if denied is not None:
            return denied
        object_type = OBJECT_TYPES.get(request.path_params["object_type"])
        oid = request.path_params["object_id"]
        properties = (await request.json()).get("properties") or {}
        with self._lock:
            obj = self.objects.get(object_type or "", {}).get(oid)
            if obj is None:
                record.status = 404
                return _error(404, f"resource not found: {oid}", "OBJECT_NOT_FOUND")
            unknown = sorted(set(properties) - KNOWN_PROPERTIES[object_type])
            if unknown:
                record.status, record.reason = 400, "unknown property"
                return _error(400, f"Property values were not valid: {unknown} do not exist",
                              "VALIDATION_ERROR")
            obj["properties"].update({k: str(v) for k, v in properties.items()})
            obj["updatedAt"] = _now_iso()
            return JSONResponse(self._public(obj), headers=self._limit_headers())

    async def _associate_default(self, request: Request) -> JSONResponse:
        return await self._associate(request, None)

    async def _associate_typed(self, request: Request) -> JSONResponse:
        return await self._associate(request, await request.json())

    async def _associate(self, request: Request, types: list | None) -> JSONResponse:
        record, denied = await self._admit(request)
        if denied is not None:
            return denied
        params = request.path_params
        from_type = OBJECT_TYPES.get(params["from_type"])
        to_type = OBJECT_TYPES.get(params["to_type"])
        with self._lock:
            source = self.objects.get(from_type or "", {}).get(params["from_id"])
            target = self.objects.get(to_type or "", {}).get(params["to_id"])
            if source is None or target is None or to_type != "companies":
                record.status = 404
                return _error(404, "Object to associate not found.", "OBJECT_NOT_FOUND")
            expected = COMPANY_ASSOCIATION.get(from_type)
            if types is not None and [t.get("associationTypeId") for t in types] != [expected]:
                record.status = 400
                return _error(400, "Invalid association type.", "VALIDATION_ERROR")
            source["associations"].setdefault("companies", []).append(params["to_id"])
        return JSONResponse({"status": "COMPLETE", "results": [
            {"fromObjectTypeId": from_type, "fromObjectId": params["from_id"],
             "toObjectTypeId": to_type, "toObjectId": params["to_id"],
             "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": expected}]}]})

    def _input_problem(self, object_type: str, item: dict) -> str:
        properties = item.get("properties") or {}
        unknown = sorted(set(properties) - KNOWN_PROPERTIES[object_type])
        if unknown:
            return f"Property values were not valid: {unknown} do not exist"
        if any(not isinstance(v, str) for v in properties.values()):
            return "Property values must be strings"
        stamp = properties.get("hs_timestamp")
        if stamp is None or not _valid_timestamp(stamp):
            return "hs_timestamp is required: epoch milliseconds or an ISO 8601 UTC string"
        for association in item.get("associations") or []:
            target = str((association.get("to") or {}).get("id", ""))
            if target not in self.objects["companies"]:
                return f"Association target {target} does not exist"
            ids = [t.get("associationTypeId") for t in association.get("types") or []]
            if ids != [COMPANY_ASSOCIATION[object_type]]:
                return f"Association type {ids} is not valid for {object_type} -> companies"
        return ""

    def _lose_response(self) -> bool:
        with self._lock:
            if self.faults.commit_then_fail > 0:
                self.faults.commit_then_fail -= 1
                return True
        return False

    # -- campaign control ---------------------------------------------------------

    async def _campaign(self, request: Request) -> JSONResponse:
        if request.query_params.get("token") != self.campaign_token:
            return JSONResponse({"error": "unknown webhook"}, status_code=404)
        if self.faults.campaign_fail_statuses:
            status = self.faults.campaign_fail_statuses.pop(0)
            return JSONResponse({"error": "injected failure"}, status_code=status)
        payload = await request.json()
        if payload.get("action") not in ("place", "lift") or not payload.get(
                "netsuite_customer_id"):
            return JSONResponse({"error": "expected action place|lift and a customer"}, 400)
        key = request.headers.get("idempotency-key", "")
        with self._lock:
            duplicate = bool(key) and key in self._idempotency
            if not duplicate:
                self._idempotency.add(key)
                self.campaign_calls.append({**payload, "idempotency_key": key})
        return JSONResponse({"status": "duplicate" if duplicate else "accepted"})

    def holds(self) -> dict[str, str]:
        """The campaign-control state: NetSuite customer id -> 'place' or 'lift'."""
        state: dict[str, str] = {}
        for call in self.campaign_calls:
            state[str(call["netsuite_customer_id"])] = call["action"]
        return state

    # -- control ------------------------------------------------------------------

    async def _faults_endpoint(self, request: Request) -> JSONResponse:
        return await faults_endpoint(request, self.faults)

    async def _requests_endpoint(self, request: Request) -> JSONResponse:
        if request.method == "DELETE":
            with self._lock:
                self.requests.clear()
        return JSONResponse({"requests": [asdict(r) for r in self.requests]})

    async def _objects_endpoint(self, request: Request) -> JSONResponse:
        with self._lock:
            return JSONResponse({t: list(objs.values()) for t, objs in self.objects.items()})


def _search_problem(body: dict) -> str:
    groups = body.get("filterGroups") or []
    if len(groups) > 5:
        return "At most 5 filterGroups are allowed."
    if any(len(g.get("filters") or []) > 6 for g in groups):
        return "At most 6 filters per filterGroup are allowed."
    if sum(len(g.get("filters") or []) for g in groups) > 18:
        return "At most 18 filters in total are allowed."
    limit = int(body.get("limit") or 10)
    if not 1 <= limit <= MAX_SEARCH_LIMIT:
        return f"limit must be between 1 and {MAX_SEARCH_LIMIT}."
    for group in groups:
        for f in group.get("filters") or []:
            if f.get("operator") not in ("EQ", "NEQ", "IN", "NOT_IN", "HAS_PROPERTY",
                                         "NOT_HAS_PROPERTY"):
                return f"Unsupported operator {f.get('operator')!r} in the sandbox."
            if f.get("operator") in ("IN", "NOT_IN") and len(f.get("values") or []) > 100:
                return "At most 100 values are allowed in an IN filter."
    return ""


def _matches(obj: dict, group: dict) -> bool:
    props = obj["properties"]
    for f in group.get("filters") or []:
        value = props.get(f.get("propertyName"))
        op = f.get("operator")
        if op == "EQ" and value != f.get("value"):
            return False
        if op == "NEQ" and value == f.get("value"):
            return False
        if op == "IN" and value not in (f.get("values") or []):
            return False
        if op == "NOT_IN" and value in (f.get("values") or []):
            return False
        if op == "HAS_PROPERTY" and not value:
            return False
        if op == "NOT_HAS_PROPERTY" and value:
            return False
    return True


def _associations(item: dict) -> dict:
    companies = [str((a.get("to") or {}).get("id")) for a in item.get("associations") or []]
    return {"companies": companies} if companies else {}
