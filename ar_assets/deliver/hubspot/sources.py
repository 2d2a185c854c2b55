"""What the HubSpot step logs, read from the ledger: delivered client emails, campaign
holds placed or lifted, and collections escalations of the last two weeks that
have no activity yet. Looking back (not only at today) lets a day whose HubSpot
step failed be completed by any later run."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import duckdb

from ar_assets.deliver.hubspot.activities import Activity, email_activity, note_activity
from ar_assets.ledger import LedgerEntry, record_plan
from ar_assets.plan.messages import message_key

LOOKBACK_DAYS = 14
DONE = ("delivered", "sending", "unknown")


def activity_key(source_key: str) -> str:
    return message_key("activity", source_key)


def note_key(source_key: str) -> str:
    return message_key("note", source_key)


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> list[dict]:
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def _has_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(con.execute(
        "select 1 from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table]).fetchone())


def _open_keys(con: duckdb.DuckDBPyConnection, keys: list[str]) -> set[str]:
    """Keys with no activity row yet, or one still to be sent (planned/failed/skipped)."""
    done = con.execute(
        "select message_key from ops.ledger where list_contains(?::varchar[], message_key) "
        "and status in ('delivered', 'sending', 'unknown')", [keys]).fetchall()
    return set(keys) - {k for (k,) in done}


def _entry(key: str, source: dict) -> LedgerEntry:
    amounts = json.loads(source["amounts"] or "{}")
    return LedgerEntry(key, source["as_of"], "hubspot", "activity", source["client_id"],
                       "planned", invoice_ids=tuple(source["invoice_ids"] or ()),
                       tier=source["tier"], amounts=amounts)


def email_sources(con: duckdb.DuckDBPyConnection, as_of: date) -> list[dict]:
    """Client emails delivered in the lookback window, with their rendered file if known."""
    join = ("left join render.outgoing o on o.message_key = l.message_key "
            "and o.as_of = l.as_of" if _has_table(con, "render", "outgoing") else "")
    path = "o.eml_path" if join else "null"
    return _rows(con, f"""
        select l.message_key, l.as_of, l.client_id, l.tier, l.invoice_ids, l.amounts,
               l.delivered_at, {path} as eml_path
        from ops.ledger l {join}
        where l.channel = 'email' and l.kind = 'client_overdue' and l.status = 'delivered'
          and l.as_of between ? and ?
        order by l.as_of, l.message_key
        """, [as_of - timedelta(days=LOOKBACK_DAYS), as_of])


def note_sources(con: duckdb.DuckDBPyConnection, as_of: date,
                 holds_only: bool = False) -> list[dict]:
    """Holds placed or lifted (once applied) and collections escalations (once decided)."""
    collections = "" if holds_only else \
        "or (channel = 'chat' and kind = 'collections' and status <> 'skipped')"
    return _rows(con, f"""
        select message_key, as_of, kind, client_id, tier, invoice_ids, amounts,
               coalesce(delivered_at, planned_at) as at
        from ops.ledger
        where as_of between ? and ?
          and ((channel = 'campaign' and kind in ('hold_placed', 'hold_lifted')
                and status = 'delivered') {collections})
        order by as_of, message_key
        """, [as_of - timedelta(days=LOOKBACK_DAYS), as_of])


def plan_notes(con: duckdb.DuckDBPyConnection, as_of: date, key_property: str,
               holds_only: bool = False) -> list[Activity]:
    """Records the ledger rows of the notes still to log and returns them."""
    notes = note_sources(con, as_of, holds_only)
    open_notes = _open_keys(con, [note_key(r["message_key"]) for r in notes])
    activities, entries = [], []
    for row in notes:
        key = note_key(row["message_key"])
        if key not in open_notes:
            continue
        entries.append(_entry(key, row))
        activities.append(note_activity(
            key, row["message_key"], row["kind"], row["client_id"], row["at"],
            row["as_of"].isoformat(), row["tier"], json.loads(row["amounts"] or "{}"),
            key_property))
    record_plan(con, entries)
    return activities


def plan_activities(con: duckdb.DuckDBPyConnection, as_of: date, render_root: Path,
                    key_property: str) -> list[Activity]:
    """Records the ledger rows of the email activities and notes still to log and
    returns them."""
    emails = email_sources(con, as_of)
    open_emails = _open_keys(con, [activity_key(r["message_key"]) for r in emails])
    activities, entries = [], []
    for row in emails:
        key = activity_key(row["message_key"])
        if key not in open_emails:
            continue
        eml_path = Path(row["eml_path"] or render_root / row["as_of"].isoformat()
                        / f"{row['message_key']}.eml")
        try:
            eml = eml_path.read_bytes()
        except OSError:
            # The rendered file is gone: nothing to log from; the row says why.
            entries.append(LedgerEntry(key, row["as_of"], "hubspot", "activity",
                                       row["client_id"], "skipped",
                                       reason="rendered email not found"))
            continue
        entries.append(_entry(key, row))
        activities.append(email_activity(key, row["message_key"], row["client_id"],
                                         row["delivered_at"], eml, key_property))
    record_plan(con, entries)
    return activities + plan_notes(con, as_of, key_property)
