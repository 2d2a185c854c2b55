"""A loopback Google Chat that accepts incoming-webhook messages.

It speaks contract section 3 of shared/reference/api_contracts.md:
`POST /v1/spaces/{space}/messages?key=...&token=...` with a JSON body of text
and/or cardsV2, threads by `thread.threadKey` when
`messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD` is given, refuses a
message over 32,000 bytes with 400 INVALID_ARGUMENT, and answers 429
RESOURCE_EXHAUSTED (Google's error envelope) when a space gets more than
`messages_per_second` messages in a second. Every webhook URL carries its own
token, as real webhook URLs do.

`serve_delivery_sandboxes` starts this server and the HubSpot sandbox for a
source ledger and yields the environment that points the deliver steps at them.

Control endpoints (no auth, loopback only): `PUT /_sandbox/faults` (see
`ChatFaults`), `GET|DELETE /_sandbox/requests`.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ar_assets.sandbox.hubspot_server import CAMPAIGN_TOKEN, HubSpotSandbox
from ar_assets.sandbox.ledger import SourceLedger
from ar_assets.sandbox.serve import faults_endpoint, serve_app

MESSAGE_LIMIT_BYTES = 32_000
WEBHOOK_KEY = "sandbox-webhook-key"
REPLY_OPTIONS = ("MESSAGE_REPLY_OPTION_UNSPECIFIED", "REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD",
                 "REPLY_MESSAGE_OR_FAIL")
_STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL",
                 503: "UNAVAILABLE"}


@dataclass
class ChatFaults:
    """Switches for the sandbox's misbehaviour, set with PUT /_sandbox/faults."""

    messages_per_second: int = 1  # per space; more in one second answers 429
    fail_statuses: list[int] = field(default_factory=list)  # answered to the next posts
    down: bool = False  # every post answered 503
    delay_seconds: float = 0.0
    size_limit_bytes: int = MESSAGE_LIMIT_BYTES


@dataclass
class ChatPost:
    space: str
    status: int
    at: float  # time.time() on arrival
    size_bytes: int
    thread_key: str | None
    reply_option: str | None
    body: dict | None = None
    thread: str | None = None
    reason: str = ""


def _error(status: int, message: str) -> JSONResponse:
    body = {"error": {"code": status, "message": message,
                      "status": _STATUS_NAMES.get(status, "UNKNOWN")}}
    return JSONResponse(body, status_code=status)


class ChatSandbox:
    """Spaces with one incoming webhook each; accepted messages are kept per space."""

    def __init__(self, spaces: list[str] = ()) -> None:
        self.faults = ChatFaults()
        self.posts: list[ChatPost] = []
        self.tokens: dict[str, str] = {}
        self._threads: dict[tuple[str, str], str] = {}
        self._accepted_at: dict[str, list[float]] = defaultdict(list)
        self._lock = threading.Lock()
        self._counter = 0
        for space in spaces:
            self.add_space(space)
        self.app = Starlette(routes=[
            Route("/v1/spaces/{space}/messages", self._post, methods=["POST"]),
            Route("/_sandbox/faults", self._faults_endpoint, methods=["GET", "PUT"]),
            Route("/_sandbox/requests", self._requests_endpoint, methods=["GET", "DELETE"]),
        ])

    def add_space(self, space: str) -> str:
        """Registers a space (id without the 'spaces/' prefix); returns its webhook token."""
        space = space.removeprefix("spaces/")
        return self.tokens.setdefault(space, secrets.token_urlsafe(12))

    def webhook_url(self, base_url: str, space: str) -> str:
        space = space.removeprefix("spaces/")
        token = self.add_space(space)
        return f"{base_url}/v1/spaces/{space}/messages?key={WEBHOOK_KEY}&token={token}"

    def messages(self, space: str | None = None) -> list[ChatPost]:
        """Accepted messages, in arrival order, of one space or of all."""
        space = space.removeprefix("spaces/") if space else None
        return [p for p in self.posts if p.status == 200 and space in (None, p.space)]

    def busiest_second(self) -> int:
        """The most messages any one space accepted within one second."""
        worst = 0
        for times in self._accepted_at.values():
            for i, start in enumerate(times):
                worst = max(worst, sum(1 for t in times[i:] if t - start < 1.0))
        return worst

    async def _post(self, request: Request) -> JSONResponse:
        space = request.path_params["space"]
        raw = await request.body()
        option = request.query_params.get("messageReplyOption")
        post = ChatPost(space, 200, time.time(), len(raw), None, option)
        with self._lock:
            self.posts.append(post)
        response = await self._answer(request, space, raw, post)
        post.status = response.status_code
        return response

    async def _answer(self, request: Request, space: str, raw: bytes,
                      post: ChatPost) -> JSONResponse:
        faults = self.faults
        if faults.delay_seconds:
            await asyncio.sleep(faults.delay_seconds)
        if faults.down:
            post.reason = "down"
            return _error(503, "The service is currently unavailable.")
        if faults.fail_statuses:
            post.reason = "injected"
            return _error(faults.fail_statuses.pop(0), "Injected failure.")
        token = self.tokens.get(space)
        if token is None:
            post.reason = "unknown space"
            return _error(404, f"Space spaces/{space} not found.")
        if request.query_params.get("token") != token or \
                request.query_params.get("key") != WEBHOOK_KEY:
            post.reason = "bad token"
            return _error(403, "The caller does not have permission.")
        if option := post.reply_option:
            if option not in REPLY_OPTIONS:
                post.reason = "bad reply option"
                return _error(400, f"Invalid value at 'message_reply_option' ({option}).")
        if len(raw) > faults.size_limit_bytes:
            post.reason = "too large"
            return _error(400, f"Message too large: {len(raw)} bytes; the limit is "
                          f"{faults.size_limit_bytes} bytes.")
        try:
            body = json.loads(raw)
        except ValueError:
            post.reason = "invalid json"
            return _error(400, "Invalid JSON payload received.")
        if not isinstance(body, dict) or not (body.get("text") or body.get("cardsV2")):
            post.reason = "empty message"
            return _error(400, "Message must have text or cardsV2.")
        thread_key = (body.get("thread") or {}).get("threadKey")
        if thread_key is not None and len(thread_key) > 4000:
            post.reason = "thread key too long"
            return _error(400, "threadKey must be at most 4,000 characters.")
        with self._lock:
            now = time.time()
            recent = [t for t in self._accepted_at[space] if now - t < 1.0]
            if len(recent) >= faults.messages_per_second:
                post.reason = "rate limit"
                return _error(429, "Resource has been exhausted (e.g. check quota).")
            self._accepted_at[space].append(now)
            self._counter += 1
            post.body, post.thread_key = body, thread_key
            threaded = option in ("REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD",
                                  "REPLY_MESSAGE_OR_FAIL") and thread_key
            if threaded and (space, thread_key) in self._threads:
                thread = self._threads[(space, thread_key)]
            elif option == "REPLY_MESSAGE_OR_FAIL":
                post.reason = "no thread to reply to"
                return _error(404, "Thread not found.")
            else:
                thread = f"spaces/{space}/threads/t{self._counter}"
                if threaded:
                    self._threads[(space, thread_key)] = thread
            post.thread = thread
        reply = {**body, "name": f"spaces/{space}/messages/m{self._counter}",
                 "thread": {"name": thread, **({"threadKey": thread_key} if threaded else {})}}
        return JSONResponse(reply)

    async def _faults_endpoint(self, request: Request) -> JSONResponse:
        return await faults_endpoint(request, self.faults)

    async def _requests_endpoint(self, request: Request) -> JSONResponse:
        if request.method == "DELETE":
            with self._lock:
                self.posts.clear()
        rows = [{k: v for k, v in asdict(p).items() if k != "body"} for p in self.posts]
        return JSONResponse({"requests": rows})


@dataclass
class DeliverySandboxes:
    """The running HubSpot and Chat sandboxes and the environment that points at them."""

    hubspot: HubSpotSandbox
    chat: ChatSandbox
    environment: dict[str, str]


@contextmanager
def serve_delivery_sandboxes(
    ledger: SourceLedger, *, missing_companies: tuple[int, ...] = (),
    duplicated_companies: tuple[int, ...] = (), am_webhooks: bool = True,
) -> Iterator[DeliverySandboxes]:
    """Serves HubSpot (one company per customer) and Chat (the AR team, collections and
    ops spaces plus each AM's space) on loopback, and exports their settings to this
    process's environment until the block exits (AR_SANDBOX_SERVERS=1)."""
    hubspot = HubSpotSandbox.for_ledger(ledger, missing=missing_companies,
                                        duplicated=duplicated_companies)
    chat = ChatSandbox()
    with ExitStack() as stack:
        hubspot_url = stack.enter_context(serve_app(hubspot.app))
        chat_url = stack.enter_context(serve_app(chat.app))
        am_spaces = {e.gchat_space: chat.webhook_url(chat_url, e.gchat_space)
                     for e in ledger.employees if e.gchat_space} if am_webhooks else {}
        env = {
            "AR_SANDBOX_SERVERS": "1",
            "HUBSPOT_BASE_URL": hubspot_url,
            "HUBSPOT_ACCESS_TOKEN": hubspot.token,
            "AR_CAMPAIGN_WEBHOOK_URL": f"{hubspot_url}/_campaign/holds?token={CAMPAIGN_TOKEN}",
            "AR_CHAT_WEBHOOK_AR_TEAM": chat.webhook_url(chat_url, "AR_TEAM"),
            "AR_CHAT_WEBHOOK_COLLECTIONS": chat.webhook_url(chat_url, "COLLECTIONS"),
            "AR_CHAT_WEBHOOK_OPS": chat.webhook_url(chat_url, "OPS"),
            "AR_CHAT_AM_WEBHOOKS": json.dumps(am_spaces),
        }
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            yield DeliverySandboxes(hubspot, chat, env)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
