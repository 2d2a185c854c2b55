"""Posting one Chat message: to an incoming webhook (httpx), or to the sandbox outbox.

Webhook posts keep to one message per second per space (Google documents 60
per minute per space; a webhook-specific 1/s is unconfirmed, so we design for
it), counted from the end of the previous post, across every run in this
process. 429 and 5xx answers are retried with exponential backoff (Retry-After
if given). A post that may have reached Chat without an answer is reported
unknown and never retried: webhooks have no idempotency key.

Webhook URLs hold their token: they never appear in a reason, a log line or
an exception message raised from here.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx

from ar_assets.deliver.channels import DeliveryResult, Outbox

REPLY_OPTION = "REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD"
_STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED"}

_last_post: dict[str, float] = {}
_last_post_lock = threading.Lock()


def space_id(url: str) -> str:
    """The space part of a webhook URL (its path), which carries no token."""
    return urlsplit(url).path


def seconds_until_ready(url: str, interval: float) -> float:
    with _last_post_lock:
        last = _last_post.get(space_id(url))
    return 0.0 if last is None else max(0.0, last + interval - time.monotonic())


def _posted(url: str) -> None:
    with _last_post_lock:
        _last_post[space_id(url)] = time.monotonic()


def webhook_target(url: str, threaded: bool) -> httpx.URL:
    """The webhook URL with the reply option that threads by threadKey."""
    target = httpx.URL(url)
    if threaded:
        target = target.copy_merge_params({"messageReplyOption": REPLY_OPTION})
    return target


class WebhookPoster:
    """Posts message bodies to incoming webhooks, paced per space."""

    def __init__(self, *, min_interval: float = 1.0, max_attempts: int = 5,
                 backoff: float = 1.0, timeout: float = 30.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.min_interval = min_interval
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.sleep = sleep
        self.requests = 0
        self._client = httpx.Client(timeout=timeout)

    def close(self) -> None:
        self._client.close()

    def post(self, url: str, body: dict) -> DeliveryResult:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        target = webhook_target(url, threaded="thread" in body)
        headers = {"Content-Type": "application/json; charset=UTF-8"}
        attempt = 0
        while True:
            attempt += 1
            self.sleep(seconds_until_ready(url, self.min_interval))
            self.requests += 1
            try:
                response = self._client.post(target, content=data, headers=headers)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                _posted(url)
                if attempt < self.max_attempts:
                    self.sleep(self.backoff * 2 ** (attempt - 1))
                    continue
                return DeliveryResult("failed", f"chat unreachable: {type(exc).__name__}")
            except httpx.HTTPError as exc:
                _posted(url)
                return DeliveryResult("unknown", f"chat connection lost after sending: "
                                      f"{type(exc).__name__}")
            _posted(url)
            status = response.status_code
            if status == 200:
                return DeliveryResult("delivered", external_id=_message_name(response))
            if (status == 429 or status >= 500) and attempt < self.max_attempts:
                self.sleep(_retry_after(response) or self.backoff * 2 ** (attempt - 1))
                continue
            name = _STATUS_NAMES.get(status, "UNAVAILABLE" if status >= 500 else "ERROR")
            suffix = f" after {attempt} attempts" if attempt > 1 else ""
            return DeliveryResult("failed", f"chat {status} {name}{suffix}")


class OutboxPoster:
    """Sandbox: each message the space would receive becomes one JSON line."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox
        self.requests = 0

    def close(self) -> None:
        pass

    def record(self, record: dict) -> DeliveryResult:
        self.requests += 1
        return self.outbox.append("chat", record)


def _message_name(response: httpx.Response) -> str | None:
    try:
        return str(response.json().get("name") or "") or None
    except ValueError:
        return None


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers["retry-after"]))
    except (KeyError, ValueError):
        return None
