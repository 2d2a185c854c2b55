"""HubSpot activities for what the AR run did: an email engagement per delivered client
email, a note per campaign hold placed or lifted and per collections escalation.

`log_activities` runs them under the ledger protocol in batches: claim a batch
(planned/failed -> sending), create it, record each input's outcome. Before a
row that was attempted before is created again, HubSpot is searched for our
message key (`ar_message_key`), so a create whose answer was lost is found
instead of duplicated.
"""

from __future__ import annotations

import html
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage

import duckdb

from ar_assets.deliver.hubspot.client import (
    MAX_BATCH,
    ActivityInput,
    CreateOutcome,
    CreateOutcomeUnknown,
    HubSpotCrm,
    HubSpotUnavailable,
)
from ar_assets.deliver.protocol import epoch_millis
from ar_assets.ledger import claim_for_sending, mark_delivered, mark_failed, mark_unknown, utcnow

# HubSpot stores at most 65,536 characters of an email body; leave room.
MAX_EMAIL_TEXT = 60_000
# A row whose create may have reached HubSpot is searched again before anything
# else; it is created again only once it has been searchable for this long
# (new records take seconds to appear in search).
VERIFY_UNKNOWN_AFTER = timedelta(minutes=10)


@dataclass(frozen=True)
class Activity:
    message_key: str  # the activity's ledger key
    source_key: str  # the ledger key of what it records (the email, the hold, ...)
    object_type: str  # emails | notes
    client_id: int
    properties: dict[str, str]


@dataclass
class ActivityReport:
    outcomes: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)  # company matching, for ops
    unavailable: str | None = None  # why HubSpot could not be used, if it could not


def _addresses(message: EmailMessage, header: str) -> list[dict[str, str]]:
    value = message[header]
    return [{"email": a.addr_spec} for a in value.addresses] if value else []


def email_activity(message_key: str, email_key: str, client_id: int, delivered_at: datetime,
                   eml: bytes, key_property: str = "ar_message_key") -> Activity:
    """The email engagement of one delivered client email, timed at its delivery (UTC)."""
    message = message_from_bytes(eml, policy=policy.default)
    body = message.get_body(preferencelist=("plain",))
    text = body.get_content() if body is not None else ""
    sender = message["From"].addresses[0] if message["From"] else None
    headers = {
        "from": {"email": sender.addr_spec, "firstName": sender.display_name}
        if sender else {},
        "to": _addresses(message, "To"),
        "cc": _addresses(message, "Cc"),
        "bcc": [],
    }
    return Activity(message_key, email_key, "emails", client_id, {
        "hs_timestamp": str(epoch_millis(delivered_at)),
        "hs_email_direction": "EMAIL",
        "hs_email_status": "SENT",
        "hs_email_subject": str(message["Subject"] or ""),
        "hs_email_text": text[:MAX_EMAIL_TEXT],
        "hs_email_headers": json.dumps(headers, ensure_ascii=False),
        key_property: message_key,
    })


NOTE_TITLES = {
    "hold_placed": "Campaign hold placed",
    "hold_lifted": "Campaign hold lifted: balance resolved",
    "collections": "Escalated to collections",
}


def note_activity(message_key: str, source_key: str, kind: str, client_id: int,
                  at: datetime, as_of: str, tier: int | None, amounts: dict[str, str],
                  key_property: str = "ar_message_key") -> Activity:
    """A note on the company for a hold placed or lifted, or a collections escalation."""
    parts = [f"{NOTE_TITLES[kind]} on {as_of}"]
    if tier:
        parts.append(f"tier {tier}")
    if amounts:
        parts.append("overdue " + ", ".join(f"{c} {a}" for c, a in sorted(amounts.items())))
    body = f"<p><strong>AR alerts</strong>: {html.escape('; '.join(parts))}.</p>"
    return Activity(message_key, source_key, "notes", client_id, {
        "hs_timestamp": str(epoch_millis(at)),
        "hs_note_body": body,
        key_property: message_key,
    })


def _ledger_state(con: duckdb.DuckDBPyConnection, keys: list[str]) -> dict[str, tuple]:
    rows = con.execute(
        "select message_key, status, attempts, sending_at from ops.ledger "
        "where list_contains(?::varchar[], message_key)",
        [keys],
    ).fetchall()
    return {key: (status, attempts, sending_at) for key, status, attempts, sending_at in rows}


def log_activities(con: duckdb.DuckDBPyConnection, crm: HubSpotCrm,
                   activities: list[Activity]) -> ActivityReport:
    """Creates every activity whose ledger row is planned or failed, each exactly once."""
    report = ActivityReport()
    state = _ledger_state(con, [a.message_key for a in activities])
    now = utcnow()
    todo, recheck = [], []
    for activity in activities:
        status, attempts, sending_at = state.get(activity.message_key, (None, 0, None))
        if status in ("planned", "failed"):
            todo.append((activity, attempts))
        elif status == "unknown":
            recheck.append((activity, sending_at))

    try:
        for object_type in ("emails", "notes"):
            suspects = [a for a, attempts in todo if attempts and a.object_type == object_type]
            suspects += [a for a, _ in recheck if a.object_type == object_type]
            found = crm.find_logged(object_type, [a.message_key for a in suspects])
            for key, hubspot_id in found.items():
                mark_delivered(con, key, hubspot_id)
                report.outcomes["found_logged"] += 1
            todo = [(a, n) for a, n in todo if a.message_key not in found]
            for activity, sending_at in recheck:
                if activity.object_type != object_type or activity.message_key in found:
                    continue
                if sending_at is not None and now - sending_at >= VERIFY_UNKNOWN_AFTER:
                    mark_failed(con, activity.message_key, "not in HubSpot after an unknown "
                                "outcome; created again on the next attempt")
                    todo.append((activity, 1))
                else:
                    report.outcomes["unknown"] += 1
        companies = crm.find_companies({str(a.client_id) for a, _ in todo})
    except HubSpotUnavailable as exc:
        report.unavailable = str(exc)
        return report

    ready: dict[str, list[ActivityInput]] = {"emails": [], "notes": []}
    for activity, _ in todo:
        matches = companies.get(str(activity.client_id), [])
        if len(matches) != 1:
            reason = _match_problem(activity.client_id, matches)
            mark_failed(con, activity.message_key, reason)
            report.problems.append(reason)
            report.outcomes["failed"] += 1
            continue
        ready[activity.object_type].append(
            ActivityInput(activity.message_key, matches[0], activity.properties))

    for object_type, inputs in ready.items():
        size = max(1, min(crm.settings.batch_size, MAX_BATCH))
        for start in range(0, len(inputs), size):
            batch = inputs[start: start + size]
            chunk = [i for i in batch if claim_for_sending(con, i.message_key)]
            if not chunk:
                continue
            try:
                outcomes = crm.create_batch(object_type, chunk)
            except CreateOutcomeUnknown as exc:
                outcomes = {i.message_key: CreateOutcome("unknown", reason=str(exc))
                            for i in chunk}
            except HubSpotUnavailable as exc:
                # Nothing of this batch reached HubSpot; the rest stay planned.
                for item in chunk:
                    mark_failed(con, item.message_key, str(exc))
                report.outcomes["failed"] += len(chunk)
                report.unavailable = str(exc)
                return report
            for key, outcome in outcomes.items():
                if outcome.status == "delivered":
                    mark_delivered(con, key, outcome.external_id)
                elif outcome.status == "failed":
                    mark_failed(con, key, outcome.reason or "failed")
                else:
                    mark_unknown(con, key, outcome.reason or "outcome unknown")
                report.outcomes[outcome.status] += 1
    return report


def _match_problem(client_id: int, matches: list[str]) -> str:
    if not matches:
        return f"no HubSpot company with netsuite_customer_id {client_id}"
    return (f"{len(matches)} HubSpot companies ({', '.join(matches)}) with "
            f"netsuite_customer_id {client_id}; none chosen")
