"""Decides the day's messages from the marts: who gets what, and why not.

Pure functions over rows read from the warehouse, so every rule is testable
without a database. Each client evaluated today ends with exactly one
client-email decision: planned, or skipped with a reason.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any

from ar_assets.ledger import LedgerEntry
from ar_assets.money import to_minor
from ar_assets.plan.messages import (
    ClientEmailPlan,
    CurrencySummary,
    InternalAlert,
    InvoiceDoc,
    InvoiceLine,
    message_key,
)
from ar_assets.policy import Policy

Row = dict[str, Any]

TOO_MANY_INVOICES_NOTE = "too many overdue invoices for one email: send a statement"
# Lines of one ops alert; the rest are counted in its last line.
MAX_OPS_ALERT_LINES = 50


@dataclass(frozen=True)
class PlannedMessage:
    entry: LedgerEntry
    payload: ClientEmailPlan | InternalAlert | dict | None = None


@dataclass
class DayFacts:
    """What the marts and the ledger say about one business date."""

    as_of: date
    clients: list[Row]
    balances: list[Row]
    open_invoices: list[Row]
    recipients: list[Row]
    invoice_lines: list[Row]
    predue: list[Row]
    quarantined: list[Row] = field(default_factory=list)
    # Delivered ledger rows before as_of: (client_id, kind) -> sorted as_of dates.
    delivered: dict[tuple[int, str], list[date]] = field(default_factory=dict)
    # Active campaign hold per client: the message key of the delivered placement.
    active_holds: dict[int, str] = field(default_factory=dict)
    # The latest later date a run has planned for, when this day is a backfill.
    later_run: date | None = None
    # Clients with a credit memo or payment quarantined on landing: its document number.
    unread_credits: dict[int, str] = field(default_factory=dict)


def _by_client(rows: list[Row]) -> dict[int, list[Row]]:
    out: dict[int, list[Row]] = defaultdict(list)
    for row in rows:
        out[row["client_id"]].append(row)
    return out


def _dec(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value or 0))


def _invoice_doc(row: Row, lines: list[Row]) -> InvoiceDoc:
    cur = row["currency_code"]
    return InvoiceDoc(
        invoice_id=int(row["invoice_id"]),
        tranid=row["tranid"],
        currency=row["currency_code"],
        tran_date=row["trandate"],
        due_date=row["due_date"],
        dpd=int(row["dpd"]),
        total=to_minor(_dec(row["total_amount"]), cur),
        amount_paid=to_minor(_dec(row["amount_paid"]), cur),
        credits_applied=to_minor(_dec(row["credits_applied"]), cur),
        remaining=to_minor(_dec(row["remaining_amount"]), cur),
        lines=tuple(
            InvoiceLine(
                item=line.get("item") or "",
                description=line.get("description") or "",
                quantity=_dec(line.get("quantity")),
                rate=_dec(line.get("rate")),
                amount=to_minor(_dec(line.get("amount")), cur),
            )
            for line in sorted(lines, key=lambda r: r.get("line_number") or 0)
        ),
    )


def episode_start(email_dates: list[date], policy: Policy) -> date | None:
    """First email of the current run of reminders; a gap over two cadences ends a run."""
    if not email_dates:
        return None
    start = email_dates[-1]
    for earlier, later in zip(reversed(email_dates[:-1]), reversed(email_dates[1:])):
        if (later - earlier).days > 2 * policy.cadence_days:
            break
        start = earlier
    return start


def _skip(as_of: date, client: Row, reason: str) -> PlannedMessage:
    key = message_key(as_of, "client_overdue", client["client_id"])
    entry = LedgerEntry(
        key, as_of, "email", "client_overdue", client["client_id"], "skipped",
        tier=client.get("tier"), reason=reason,
    )
    return PlannedMessage(entry)


def _last(dates: list[date]) -> date | None:
    return dates[-1] if dates else None


def plan_day(facts: DayFacts, policy: Policy) -> list[PlannedMessage]:
    """Returns every planned and skipped message of the day, in a stable order."""
    as_of = facts.as_of
    invoices = _by_client(facts.open_invoices)
    balances = _by_client(facts.balances)
    recipients = _by_client(facts.recipients)
    lines: dict[int, list[Row]] = defaultdict(list)
    for line in facts.invoice_lines:
        lines[int(line["invoice_id"])].append(line)

    out: list[PlannedMessage] = []
    missing_contact: list[Row] = []
    for client in sorted(facts.clients, key=lambda c: c["client_id"]):
        cid = client["client_id"]
        tier = int(client.get("tier") or 0)
        positive = {
            b["currency_code"] for b in balances.get(cid, []) if _dec(b["net_balance"]) > 0
        }
        overdue = [
            inv for inv in invoices.get(cid, [])
            if inv["is_overdue"] and inv["currency_code"] in positive
        ]
        if not invoices.get(cid) and not balances.get(cid):
            # Paid in full: nothing is open, but an active hold must still be lifted.
            out.extend(_hold_lift(facts, client))
            continue
        disputed = _disputed_docs(invoices.get(cid, []), lines, policy)
        if not overdue:
            if disputed:
                # Disputed invoices stay out of client emails and totals, but the
                # AM sees them listed.
                out.extend(_internal_overdue(
                    facts, client, tier, (), disputed, max(d.dpd for d in disputed),
                    bool(client.get("is_excluded")), policy,
                    notes=tuple(f"disputed: {d.tranid}" for d in disputed),
                ))
            if client.get("has_overdue_before_credits"):
                reason = "net credit balance"
            elif client.get("has_disputed_overdue"):
                reason = "overdue invoices are disputed"
            else:
                reason = "nothing overdue"
            out.append(_skip(as_of, client, reason))
            out.extend(_hold_lift(facts, client))
            continue

        docs = tuple(
            _invoice_doc(inv, lines.get(int(inv["invoice_id"]), []))
            for inv in sorted(overdue, key=lambda r: (r["due_date"], r["tranid"]))
        )
        summaries = tuple(
            CurrencySummary(
                currency=b["currency_code"],
                overdue_subtotal=sum(
                    (d.remaining for d in docs if d.currency == b["currency_code"]), Decimal(0)
                ),
                credits_applied=to_minor(_dec(b["credits_applied"]), b["currency_code"]),
                open_balance=to_minor(_dec(b["open_balance"]), b["currency_code"]),
            )
            for b in sorted(balances.get(cid, []), key=lambda r: r["currency_code"])
            if any(d.currency == b["currency_code"] for d in docs)
        )
        amounts = {s.currency: s.overdue_subtotal for s in summaries}
        oldest_dpd = max(d.dpd for d in docs)
        excluded = bool(client.get("is_excluded"))
        too_many = len(docs) > policy.max_invoices_per_email

        notes = (TOO_MANY_INVOICES_NOTE,) if too_many else ()
        notes += tuple(f"disputed, not in totals: {d.tranid}" for d in disputed)
        out.extend(_internal_overdue(facts, client, tier, summaries, docs + disputed, oldest_dpd,
                                     excluded, policy, notes=notes))
        out.extend(_hold_transitions(facts, client, tier, amounts, excluded))

        if excluded:
            reason = f"excluded: {client.get('exclusion_reason') or 'manual hold'}"
            out.append(_skip(as_of, client, f"{reason} (manual outreach)"))
            continue
        if cid in facts.unread_credits:
            # An unread credit may lower what the client owes: no amount is sent unsure.
            reason = (f"held: credit {facts.unread_credits[cid]} did not parse on landing, "
                      "so the balance may be lower")
            out.append(_skip(as_of, client, reason))
            continue
        if not client.get("is_cadence_eligible"):
            last = client.get("last_client_email_date")
            out.append(_skip(as_of, client, f"cadence: last client email {last}"))
            continue
        if too_many:
            limit = policy.max_invoices_per_email
            reason = f"{len(docs)} overdue invoices, over {limit} for one email"
            out.append(_skip(as_of, client, f"{reason} (manual outreach)"))
            continue
        to = tuple(sorted({r["email"] for r in recipients.get(cid, []) if r.get("email")}))
        if not to:
            missing_contact.append(client)
            out.append(_skip(as_of, client, "missing billing contact"))
            continue
        if policy.hold_weekend_client_emails and as_of.weekday() >= 5:
            out.append(_skip(as_of, client, "weekend: held to the next business day"))
            continue

        key = message_key(as_of, "client_overdue", cid)
        plan = ClientEmailPlan(
            message_key=key,
            as_of=as_of,
            client_id=cid,
            client_name=client["client_name"],
            language=client.get("language_code") or "en",
            tier=max(tier, 1),
            to=to,
            cc=tuple(e for e in [client.get("am_email")] if e),
            invoices=docs,
            currencies=summaries,
            am_name=client.get("am_name") or "",
            is_campaign_hold=tier >= policy.max_tier,
            last_reminder=client.get("last_client_email_date"),
        )
        entry = LedgerEntry(
            key, as_of, "email", "client_overdue", cid, "planned",
            invoice_ids=tuple(d.tranid for d in docs), tier=max(tier, 1), amounts=amounts,
        )
        out.append(PlannedMessage(entry, plan))

    out.extend(_predue_alerts(facts, policy))
    if missing_contact:
        out.append(_ops_alert(as_of, "missing_billing_contact", missing_contact,
                              "Clients with overdue invoices and no billing contact"))
    if facts.quarantined:
        out.append(_ops_alert(as_of, "quarantined_rows", facts.quarantined,
                              "Source rows quarantined"))
    if facts.later_run is not None:
        return [_superseded(p, facts.later_run) for p in out]
    return out


def _superseded(planned: PlannedMessage, later_run: date) -> PlannedMessage:
    """Keeps a backfilled day's decision for the record but sends nothing: a run of a
    later date has already decided with newer data (who is still overdue, who has
    paid, whether the campaign hold stands), and its messages went out."""
    if planned.entry.status != "planned":
        return planned
    reason = f"backfill: the run of {later_run} supersedes this day's messages"
    return PlannedMessage(replace(planned.entry, status="skipped", reason=reason),
                          planned.payload)


def _alert(
    as_of: date, kind: str, space: str, client: Row, tier: int, *, key_parts: tuple = (),
    summaries: tuple[CurrencySummary, ...] = (), docs: tuple[InvoiceDoc, ...] = (),
    oldest_dpd: int | None = None, notes: tuple[str, ...] = (), channel: str = "chat",
) -> PlannedMessage:
    cid = client["client_id"]
    key = message_key(*(key_parts or (as_of, kind, space, cid)))
    alert = InternalAlert(
        message_key=key, as_of=as_of, kind=kind, space=space, client_id=cid,
        client_name=client["client_name"], tier=tier, amounts=summaries,
        oldest_dpd=oldest_dpd, invoices=docs, notes=notes,
        thread_key=f"ar-{cid}",
    )
    # The ledger keeps the amount the alert is about: what is overdue, or, for an
    # invoice not yet due, what is open.
    amounts = {s.currency: s.open_balance if kind == "am_predue" else s.overdue_subtotal
               for s in summaries}
    entry = LedgerEntry(
        key, as_of, channel, kind, cid, "planned",
        invoice_ids=tuple(d.tranid for d in docs), tier=tier, amounts=amounts,
    )
    return PlannedMessage(entry, alert)


def _am_space(client: Row) -> str:
    """The AM's Chat space; the AR team's for a client with no account manager."""
    return f"am-{client['am_id']}" if client.get("am_id") is not None else "ar_team"


def _disputed_docs(
    invoices: list[Row], lines: dict[int, list[Row]], policy: Policy
) -> tuple[InvoiceDoc, ...]:
    """The client's disputed invoices at or past the overdue threshold, oldest first."""
    rows = [
        inv for inv in invoices
        if inv.get("is_disputed") and int(inv["dpd"]) >= policy.overdue_threshold_days
    ]
    return tuple(
        _invoice_doc(inv, lines.get(int(inv["invoice_id"]), []))
        for inv in sorted(rows, key=lambda r: (r["due_date"], r["tranid"]))
    )


def _internal_overdue(
    facts: DayFacts, client: Row, tier: int, summaries: tuple[CurrencySummary, ...],
    docs: tuple[InvoiceDoc, ...], oldest_dpd: int, excluded: bool, policy: Policy,
    notes: tuple[str, ...] = (),
) -> list[PlannedMessage]:
    """AM overdue alert (and team alert from tier 2) at most once per cadence; the
    collections escalation on its own schedule (its key makes it once per episode)."""
    as_of = facts.as_of
    cid = client["client_id"]
    last = _last(facts.delivered.get((cid, "am_overdue"), []))
    notes = (*notes, "manual outreach") if excluded else notes
    kwargs = dict(summaries=summaries, docs=docs, oldest_dpd=oldest_dpd, notes=notes)
    out = []
    if last is None or (as_of - last).days >= policy.cadence_days:
        am_space = _am_space(client)
        out.append(_alert(as_of, "am_overdue", am_space, client, tier, **kwargs))
        # A client without an AM already has its alert in the team space: one card.
        if tier >= 2 and am_space != "ar_team":
            out.append(_alert(as_of, "team_alert", "ar_team", client, tier, **kwargs))
    if tier == 2 and not excluded:
        out.extend(_collections(facts, client, tier, kwargs, policy))
    return out


def _collections(
    facts: DayFacts, client: Row, tier: int, kwargs: dict, policy: Policy
) -> list[PlannedMessage]:
    """One collections escalation per episode, 14+ days after a tier-2 email."""
    cid = client["client_id"]
    emails = facts.delivered.get((cid, "client_overdue_tier2"), [])
    start = episode_start(facts.delivered.get((cid, "client_overdue"), []), policy)
    eligible = [d for d in emails if start and d >= start
                and (facts.as_of - d).days >= policy.collections_after_days]
    escalated = [d for d in facts.delivered.get((cid, "collections"), [])
                 if start and d >= start]
    if not eligible or escalated:
        return []
    key_parts = ("collections", cid, start)
    return [_alert(facts.as_of, "collections", "collections", client, tier,
                   key_parts=key_parts, **kwargs)]


def _hold_transitions(
    facts: DayFacts, client: Row, tier: int, amounts: dict[str, Decimal], excluded: bool
) -> list[PlannedMessage]:
    """Places a campaign hold when a client reaches the top tier without one."""
    cid = client["client_id"]
    if excluded or tier < 3 or cid in facts.active_holds:
        return []
    as_of = facts.as_of
    key = message_key(as_of, "hold_placed", cid)
    entry = LedgerEntry(key, as_of, "campaign", "hold_placed", cid, "planned",
                        tier=tier, amounts=amounts)
    payload = {"client_id": cid, "client_name": client["client_name"], "action": "place",
               "reason": f"tier {tier}: third offence", "as_of": as_of.isoformat()}
    notes = (f"campaign hold placed ({key})",)
    return [
        PlannedMessage(entry, payload),
        *[
            _alert(as_of, "hold_placed", space, client, tier, notes=notes,
                   key_parts=(key, space))
            for space in dict.fromkeys((_am_space(client), "ar_team", "collections"))
        ],
    ]


def _hold_lift(facts: DayFacts, client: Row) -> list[PlannedMessage]:
    """Lifts an active hold once the balance is resolved, telling the AM once."""
    cid = client["client_id"]
    placed_key = facts.active_holds.get(cid)
    if placed_key is None or not client.get("is_balance_resolved"):
        return []
    as_of = facts.as_of
    key = message_key("hold_lifted", placed_key)
    entry = LedgerEntry(key, as_of, "campaign", "hold_lifted", cid, "planned")
    payload = {"client_id": cid, "client_name": client["client_name"], "action": "lift",
               "reason": "balance resolved", "as_of": as_of.isoformat()}
    tier = int(client.get("tier") or 0)
    return [
        PlannedMessage(entry, payload),
        _alert(as_of, "hold_lifted", _am_space(client), client, tier,
               key_parts=(key, "am"), notes=("campaign hold lifted: balance resolved",)),
    ]


def _predue_alerts(facts: DayFacts, policy: Policy) -> list[PlannedMessage]:
    """One pre-due alert per invoice of a late payer, on the first run in the window."""
    out = []
    for row in sorted(facts.predue, key=lambda r: (r["client_id"], r["due_date"], r["tranid"])):
        notes = ("disputed",) if row.get("is_disputed") else ()
        remaining = to_minor(_dec(row["remaining_amount"]), row["currency_code"])
        # Not yet due: nothing is overdue, the remaining amount is open.
        summary = CurrencySummary(row["currency_code"], Decimal(0), Decimal(0), remaining)
        doc = _invoice_doc(row, [])
        days = (row["due_date"] - facts.as_of).days
        client = {"client_id": row["client_id"], "client_name": row["client_name"],
                  "am_id": row.get("am_id")}
        out.append(_alert(
            facts.as_of, "am_predue", _am_space(client), client, int(row.get("tier") or 0),
            key_parts=("am_predue", row["invoice_id"]), summaries=(summary,), docs=(doc,),
            notes=(*notes, f"due in {days} days"),
        ))
    return out


def _ops_alert(as_of: date, topic: str, rows: list[Row], title: str) -> PlannedMessage:
    key = message_key(as_of, "ops_alert", topic)
    names = tuple(
        f"{r.get('client_id', r.get('source_id', ''))} {r.get('client_name', r.get('reason', ''))}"
        for r in rows[:MAX_OPS_ALERT_LINES]
    )
    if len(rows) > MAX_OPS_ALERT_LINES:
        names += (f"and {len(rows) - MAX_OPS_ALERT_LINES} more",)
    alert = InternalAlert(
        message_key=key, as_of=as_of, kind="ops_alert", space="ops", client_id=None,
        client_name=title, tier=0, notes=names, thread_key=f"ops-{as_of}",
    )
    entry = LedgerEntry(key, as_of, "chat", "ops_alert", None, "planned",
                        reason=f"{title}: {len(rows)}")
    return PlannedMessage(entry, alert)
