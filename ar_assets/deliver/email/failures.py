"""The day's ops alert on client emails that did not get through.

One alert per business date (a deterministic ledger key) lists every client
email of the day that failed, whose outcome is unknown, that was held behind an
unknown one, or that was delivered with a refused recipient: client id, name,
status and SMTP code, never an address. It is written as a ledger row and a
rendered Chat card in render.outgoing, so the Chat step that runs after the
email step delivers it under the same exactly-once protocol as every alert.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import date

import duckdb

from ar_assets.deliver.email.smtp import Refusal
from ar_assets.ledger import LedgerEntry, record_plan, status_of
from ar_assets.plan.messages import InternalAlert, message_key
from ar_assets.render.branding import load_branding
from ar_assets.render.chat import render_chat_card

ALERT_TITLE = "Client emails not delivered"
# A day when the mail server refuses every login lists every client; past this
# many lines the card would approach Chat's 32,000-byte limit.
MAX_LINES = 50


def failed_deliveries_key(as_of: date) -> str:
    return message_key(as_of, "ops_alert", "failed_deliveries")


def _undelivered(
    con: duckdb.DuckDBPyConnection, as_of: date, flagged: Iterable[str]
) -> list[tuple]:
    return con.execute(
        """
        select l.client_id, l.as_of, l.status, l.reason,
               coalesce(m.payload ->> 'client_name', '') as client_name
        from ops.ledger l
        left join plan.messages m on m.message_key = l.message_key and m.as_of = l.as_of
        where l.channel = 'email' and l.kind = 'client_overdue'
          and l.status in ('failed', 'unknown')
          and (l.as_of = ? or list_contains(?::varchar[], l.message_key))
        order by l.client_id, l.as_of
        """,
        [as_of, list(flagged)],
    ).fetchall()


def _names(con: duckdb.DuckDBPyConnection, as_of: date, keys: Iterable[str]) -> dict[str, tuple]:
    rows = con.execute(
        """
        select message_key, client_id, coalesce(payload ->> 'client_name', '')
        from plan.messages
        where as_of = ? and list_contains(?::varchar[], message_key)
        """,
        [as_of, list(keys)],
    ).fetchall()
    return {key: (client_id, name) for key, client_id, name in rows}


def refusal_note(refused: tuple[Refusal, ...]) -> str:
    """'delivered, Cc refused (smtp 550)': what reached the client, and what did not."""
    return "delivered, " + ", ".join(f"{r.header} refused (smtp {r.code})" for r in refused)


def alert_lines(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    flagged: Iterable[str] = (),
    notes: Mapping[str, str] | None = None,
) -> list[str]:
    """One line per client email that needs ops: failed or unknown, plus `notes` by
    message key (delivered with a refused recipient, held)."""
    lines = []
    for client_id, row_date, status, reason, name in _undelivered(con, as_of, flagged):
        when = "" if row_date == as_of else f" (planned {row_date})"
        lines.append(f"client {client_id} {name}: {status}{when}, {reason or 'no reason'}")
    names = _names(con, as_of, (notes or {}).keys())
    for key, note in sorted((notes or {}).items(), key=lambda kv: names.get(kv[0], (0, ""))):
        client_id, name = names.get(key, (None, ""))
        lines.append(f"client {client_id} {name}: {note}")
    return lines


def record_failure_alert(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    flagged: Iterable[str] = (),
    notes: Mapping[str, str] | None = None,
) -> int:
    """Plans the day's alert and its Chat card; returns how many emails it lists.

    With nothing to report, a still-planned alert of an earlier run of the day
    is marked skipped, so a stale alert is never sent.
    """
    key = failed_deliveries_key(as_of)
    lines = alert_lines(con, as_of, flagged, notes)
    if not lines:
        if status_of(con, key) == "planned":
            record_plan(con, [LedgerEntry(key, as_of, "chat", "ops_alert", None, "skipped",
                                          reason="every client email delivered")])
        return 0

    entry = LedgerEntry(key, as_of, "chat", "ops_alert", None, "planned",
                        reason=f"{ALERT_TITLE}: {len(lines)}")
    record_plan(con, [entry])
    # TODO: a second run of the same day that finds new failures after this
    # alert went out adds them to no alert, because the key is one per day;
    # remove when the key covers the set of failed message keys.
    if status_of(con, key) not in ("planned", "failed"):
        return len(lines)
    shown = lines[:MAX_LINES]
    if len(lines) > MAX_LINES:
        shown.append(f"and {len(lines) - MAX_LINES} more (ops.ledger has every one)")
    alert = InternalAlert(
        message_key=key, as_of=as_of, kind="ops_alert", space="ops", client_id=None,
        client_name=ALERT_TITLE, tier=0, notes=tuple(shown), thread_key=f"ops-{as_of}",
    )
    body = json.dumps(render_chat_card(alert, load_branding()), ensure_ascii=False)
    con.execute(
        """
        insert or replace into render.outgoing
            (as_of, message_key, channel, kind, client_id, eml_path, body)
        values (?, ?, 'chat', 'ops_alert', null, null, ?)
        """,
        [as_of, key, body],
    )
    return len(lines)
