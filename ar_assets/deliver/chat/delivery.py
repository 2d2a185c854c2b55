"""Delivering the day's Chat alerts: route each to a space, digest busy spaces, post.

Routing: an AM alert goes to the webhook configured for the AM (by employee
id), else to the one configured for the Chat space on the AM's employee record,
else to the AR team space; 'ar_team', 'collections' and 'ops' have their own
webhooks and fall back to the AR team space too. A space that gets more than
`digest_threshold` alerts in one run gets a digest instead of one card each.
An AM alert that falls back to the AR team space rides on the card of the
client's team alert there, when it has one: the team sees the client once.

Every alert keeps its own ledger row: the alerts of a message are claimed just
before it is posted and marked with the message's outcome, so a digest that
delivers 12 alerts marks those 12 delivered. Spaces are served in turn so that
waiting out one space's pacing never delays another's messages.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date

import duckdb

from ar_assets.deliver.channels import DeliveryResult, Outbox
from ar_assets.deliver.chat.digest import digest_bodies, digest_line
from ar_assets.deliver.chat.settings import FALLBACK_SPACE, NAMED_SPACES, GoogleChatResource
from ar_assets.deliver.chat.transport import OutboxPoster, WebhookPoster, seconds_until_ready
from ar_assets.ledger import claim_for_sending, mark_delivered, mark_failed, mark_unknown
from ar_assets.plan.messages import message_key

KIND_SPACES = {"ops_alert": "ops", "team_alert": "ar_team", "collections": "collections"}


@dataclass(frozen=True)
class PendingAlert:
    message_key: str
    kind: str
    client_id: int | None
    space: str  # the planner's target: 'am-<employee id>', 'ar_team', 'collections', 'ops'
    body: dict  # the rendered webhook body (card)
    oldest_dpd: int | None = None


@dataclass
class Message:
    space: str  # where it goes: a named space, or an AM's Chat space / 'am-<id>'
    url: str | None  # None in outbox mode
    body: dict
    alerts: list[PendingAlert]  # every alert this message delivers; the first's card is shown
    digest: bool = False

    @property
    def kind(self) -> str:
        return "digest" if self.digest else self.alerts[0].kind


@dataclass
class ChatReport:
    outcomes: Counter = field(default_factory=Counter)
    messages_per_space: Counter = field(default_factory=Counter)
    digests: int = 0
    requests: int = 0
    routed_to_fallback: int = 0
    failures: Counter = field(default_factory=Counter)  # reason -> alerts


def planned_space(kind: str, payload_space: str | None) -> str:
    """The planner's target space; rows planned outside the planner go by their kind."""
    return payload_space or KIND_SPACES.get(kind, FALLBACK_SPACE)


class Router:
    """Resolves a planned target to a space label and (for webhooks) its URL."""

    def __init__(self, chat: GoogleChatResource, am_chat_spaces: dict[int, str | None]):
        self.webhooks = chat.uses_webhooks()
        self.named = chat.space_webhooks() if self.webhooks else {}
        self.am = chat.am_webhook_map() if self.webhooks else {}
        self.am_chat_spaces = am_chat_spaces

    def route(self, target: str) -> tuple[str, str | None, bool]:
        """(space label, webhook URL or None, whether it fell back to the AR team)."""
        if target.startswith("am-"):
            employee = target.removeprefix("am-")
            chat_space = self.am_chat_spaces.get(int(employee)) if employee.isdigit() else None
            if not self.webhooks:
                return (chat_space, None, False) if chat_space else self._fallback()
            url = self.am.get(employee) or (self.am.get(chat_space) if chat_space else None)
            return (chat_space or target, url, False) if url else self._fallback()
        if target in NAMED_SPACES:
            if not self.webhooks:
                return target, None, False
            if target in self.named or target == FALLBACK_SPACE:
                return target, self.named.get(target), False
        return self._fallback()

    def _fallback(self) -> tuple[str, str | None, bool]:
        return FALLBACK_SPACE, self.named.get(FALLBACK_SPACE), True


def compose(alerts: list[PendingAlert], router: Router, as_of: date, threshold: int,
            report: ChatReport) -> dict[str, list[Message]]:
    """Messages per space, in posting order: one card each, or a digest when busy."""
    routed: dict[tuple[str, str | None], list[PendingAlert]] = defaultdict(list)
    fell_back_am: set[str] = set()
    for alert in sorted(alerts, key=lambda a: (a.client_id or 0, a.kind, a.message_key)):
        label, url, fell_back = router.route(alert.space)
        report.routed_to_fallback += int(fell_back)
        routed[(label, url)].append(alert)
        if fell_back and alert.kind == "am_overdue":
            fell_back_am.add(alert.message_key)

    out: dict[str, list[Message]] = defaultdict(list)
    for (label, url), group in routed.items():
        cards = _one_card_per_client_alert(group, fell_back_am)
        if len(cards) <= threshold:
            out[label].extend(Message(label, url, card[0].body, card) for card in cards)
            continue
        lines = [digest_line(card[0].body, card[0].oldest_dpd) for card in cards]
        title = f"AR alerts {as_of.isoformat()} for {label}"
        start = 0
        for body, count in digest_bodies(lines, title, f"digest-{label}-{as_of.isoformat()}"):
            delivered = [a for card in cards[start: start + count] for a in card]
            out[label].append(Message(label, url, body, delivered, digest=True))
            start += count
        report.digests += 1
    return out


def _one_card_per_client_alert(
    group: list[PendingAlert], fell_back_am: set[str]
) -> list[list[PendingAlert]]:
    """The cards of one space, each with the alerts it delivers: an AM overdue alert
    that fell back here joins its client's team alert in this space, if there is one."""
    cards = [[a] for a in group]
    team = {}
    for card in cards:
        if card[0].kind == "team_alert":
            team.setdefault(card[0].client_id, card)
    for card in cards:
        alert = card[0]
        if alert.message_key in fell_back_am and alert.client_id in team:
            team[alert.client_id].append(alert)
            card.clear()
    return [card for card in cards if card]


def _claim(con: duckdb.DuckDBPyConnection, message: Message) -> Message | None:
    claimed = [a for a in message.alerts if claim_for_sending(con, a.message_key)]
    if not claimed:
        return None
    if len(claimed) == len(message.alerts):
        return message
    if len(claimed) == 1 or not message.digest:
        return Message(message.space, message.url, claimed[0].body, claimed)
    # Another run took some of these alerts: the rest go as a smaller digest.
    lines = [digest_line(a.body, a.oldest_dpd) for a in claimed]
    thread = message.body.get("thread", {}).get("threadKey", "digest")
    [(body, _)] = digest_bodies(lines, "AR alerts", thread)[:1]
    return Message(message.space, message.url, body, claimed, digest=True)


def _record(message: Message, as_of: date) -> dict:
    keys = [a.message_key for a in message.alerts]
    return {
        "message_key": message_key("digest", *keys) if message.digest else keys[0],
        "as_of": as_of.isoformat(),
        "kind": message.kind,
        "client_id": None if message.digest else message.alerts[0].client_id,
        "space": message.space,
        "message_keys": keys,
        "body": message.body,
    }


def deliver_alerts(con: duckdb.DuckDBPyConnection, chat: GoogleChatResource, outbox: Outbox,
                   as_of: date, alerts: list[PendingAlert],
                   am_chat_spaces: dict[int, str | None] | None = None) -> ChatReport:
    """Posts every alert whose ledger row is planned or failed; returns what happened."""
    report = ChatReport()
    router = Router(chat, am_chat_spaces or {})
    queues = compose(alerts, router, as_of, chat.digest_threshold, report)
    poster = (WebhookPoster(min_interval=chat.min_interval_seconds,
                            max_attempts=chat.max_attempts, backoff=chat.backoff_seconds,
                            timeout=chat.timeout_seconds)
              if router.webhooks else OutboxPoster(outbox))
    try:
        while any(queues.values()):
            label = min((lb for lb, q in queues.items() if q),
                        key=lambda lb: _ready_in(queues[lb][0], chat.min_interval_seconds))
            message = _claim(con, queues[label].pop(0))
            if message is None:
                continue
            if message.url is None and router.webhooks:
                result = DeliveryResult("failed", "no Chat webhook configured for "
                                        f"{message.space} or the AR team space")
            elif isinstance(poster, WebhookPoster):
                result = poster.post(message.url, message.body)
            else:
                result = poster.record(_record(message, as_of))
            report.messages_per_space[message.space] += 1
            for alert in message.alerts:
                if result.status == "delivered":
                    mark_delivered(con, alert.message_key, result.external_id)
                elif result.status == "failed":
                    mark_failed(con, alert.message_key, result.reason or "failed")
                    report.failures[result.reason or "failed"] += 1
                else:
                    mark_unknown(con, alert.message_key, result.reason or "outcome unknown")
                report.outcomes[result.status] += 1
    finally:
        report.requests = poster.requests
        poster.close()
    return report


def _ready_in(message: Message, interval: float) -> float:
    return seconds_until_ready(message.url, interval) if message.url else 0.0
