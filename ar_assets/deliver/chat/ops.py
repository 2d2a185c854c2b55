"""An ops alert sent straight away, for steps that find a problem after planning
(a failed run, a client with no HubSpot company). Its ledger key makes it once."""

from __future__ import annotations

from datetime import date

import duckdb

from ar_assets.deliver.channels import Outbox
from ar_assets.deliver.chat.delivery import PendingAlert, deliver_alerts
from ar_assets.deliver.chat.settings import GoogleChatResource
from ar_assets.ledger import LedgerEntry, ensure_ledger, record_plan, status_of
from ar_assets.plan.messages import InternalAlert
from ar_assets.render.branding import load_branding
from ar_assets.render.chat import render_chat_card

MAX_LINES = 50


def send_ops_alert(con: duckdb.DuckDBPyConnection, chat: GoogleChatResource, outbox: Outbox,
                   as_of: date, key: str, title: str, lines: list[str]) -> str:
    """Posts one ops alert under `key` unless the ledger shows it went out; returns its status."""
    ensure_ledger(con)
    shown = lines[:MAX_LINES]
    if len(lines) > MAX_LINES:
        shown.append(f"and {len(lines) - MAX_LINES} more")
    record_plan(con, [LedgerEntry(key, as_of, "chat", "ops_alert", None, "planned",
                                  reason=f"{title}: {len(lines)}")])
    if status_of(con, key) not in ("planned", "failed"):
        return status_of(con, key) or "missing"
    alert = InternalAlert(message_key=key, as_of=as_of, kind="ops_alert", space="ops",
                          client_id=None, client_name=title, tier=0, notes=tuple(shown),
                          thread_key=f"ops-{as_of}")
    body = render_chat_card(alert, load_branding())
    deliver_alerts(con, chat, outbox, as_of, [PendingAlert(key, "ops_alert", None, "ops", body)])
    return status_of(con, key) or "missing"
