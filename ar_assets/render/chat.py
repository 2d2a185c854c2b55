"""Google Chat webhook bodies for internal alerts, and digests split under the size limit."""

from __future__ import annotations

import html
import json

from ar_assets.plan.messages import CurrencySummary, InternalAlert, InvoiceDoc
from ar_assets.render.branding import Branding
from ar_assets.render.formatting import format_date, format_money
from ar_assets.render.views import one_line

# Google Chat refuses a message over 32,000 bytes, content included.
CHAT_MESSAGE_LIMIT_BYTES = 32_000
MAX_INVOICE_WIDGETS = 25

TITLES = {
    "am_predue": "Invoice due soon: late payer",
    "am_overdue": "Overdue balance",
    "team_alert": "Overdue client escalated to AR team",
    "collections": "Collections escalation",
    "hold_placed": "Campaign hold placed",
    "hold_lifted": "Campaign hold lifted: balance resolved",
    "ops_alert": "AR run needs attention",
}


def render_chat_card(alert: InternalAlert, branding: Branding, locale: str = "en") -> dict:
    """The webhook JSON body: plain text, one cardsV2 card, and the client's thread key."""
    title = TITLES.get(alert.kind)
    if title is None:
        raise ValueError(f"unknown alert kind {alert.kind!r}")
    client = one_line(alert.client_name)
    url = alert.hubspot_url or branding.hubspot_url(client_id=alert.client_id)

    invoices = list(alert.invoices)
    body = _body(alert, title, client, url, locale, invoices[:MAX_INVOICE_WIDGETS])
    while _size(body) > CHAT_MESSAGE_LIMIT_BYTES and invoices:
        invoices = invoices[: len(invoices) // 2]
        body = _body(alert, title, client, url, locale, invoices)
    return body


def _body(
    alert: InternalAlert,
    title: str,
    client: str,
    url: str | None,
    locale: str,
    invoices: list[InvoiceDoc],
) -> dict:
    amounts = [_amount_text(s, locale) for s in alert.amounts]
    currencies = [s.currency for s in alert.amounts]
    headline_amounts = [f"{c} {text}" for c, text in zip(currencies, amounts, strict=True)]
    tier = f"tier {alert.tier}" if alert.tier else ""
    subtitle = " · ".join(p for p in (_chat_text(client), tier.capitalize()) if p)
    headline = f"*{title}*"
    if client:
        headline += f": {_chat_text(client)}"
    if tier:
        headline += f" ({tier})"
    if amounts:
        headline += " — " + "; ".join(headline_amounts)
    if alert.notes and not client:
        headline += "\n" + "\n".join(_chat_text(one_line(n)) for n in alert.notes)
    if url:
        headline += f"\n<{url}|Open in HubSpot>"

    widgets = [_decorated(c, text) for c, text in zip(currencies, amounts, strict=True)]
    if alert.oldest_dpd is not None:
        widgets.append(_decorated("Oldest days past due", str(alert.oldest_dpd)))
    if alert.notes:
        widgets.append(_decorated("Notes", " · ".join(one_line(n) for n in alert.notes)))
    sections = [{"widgets": widgets}] if widgets else []
    if invoices:
        section = {
            "header": _invoices_header(len(invoices), len(alert.invoices)),
            "widgets": [_invoice_widget(inv, locale) for inv in invoices],
        }
        if len(invoices) > 5:
            section |= {"collapsible": True, "uncollapsibleWidgetsCount": 5}
        sections.append(section)
    if url:
        button = {"text": "Open in HubSpot", "onClick": {"openLink": {"url": url}}}
        sections.append({"widgets": [{"buttonList": {"buttons": [button]}}]})

    body: dict = {
        "text": headline,
        "cardsV2": [
            {
                "cardId": f"ar-{alert.kind}-{_client_ref(alert)}",
                "card": {
                    "header": {"title": title, "subtitle": subtitle},
                    "sections": sections,
                },
            }
        ],
    }
    if alert.thread_key:
        body["thread"] = {"threadKey": alert.thread_key}
    return body


def _client_ref(alert: InternalAlert) -> str:
    return str(alert.client_id) if alert.client_id is not None else "ops"


def _amount_text(summary: CurrencySummary, locale: str) -> str:
    cur = summary.currency
    parts = []
    if summary.overdue_subtotal:
        parts.append(f"overdue {format_money(summary.overdue_subtotal, cur, locale)}")
    if summary.credits_applied:
        parts.append(f"credits applied {format_money(summary.credits_applied, cur, locale)}")
    parts.append(f"open {format_money(summary.open_balance, cur, locale)}")
    return ", ".join(parts)


def _invoice_widget(inv: InvoiceDoc, locale: str) -> dict:
    due = format_date(inv.due_date, locale)
    timing = f"{inv.dpd} days past due" if inv.dpd >= 0 else f"due in {-inv.dpd} days"
    text = f"{format_money(inv.remaining, inv.currency, locale)} open · due {due} · {timing}"
    return _decorated(inv.tranid, text)


def _invoices_header(shown: int, total: int) -> str:
    return f"Invoices ({shown} of {total})" if shown < total else f"Invoices ({total})"


def _decorated(label: str, text: str) -> dict:
    # Card text accepts a little HTML; client-supplied text is escaped.
    return {"decoratedText": {"topLabel": html.escape(one_line(label)), "text": html.escape(text)}}


def _chat_text(text: str) -> str:
    # "<...>" is link and mention syntax in message text ("<users/all>" pings a space).
    return text.replace("<", "‹").replace(">", "›")


def _size(body: dict) -> int:
    return len(json.dumps(body, ensure_ascii=False).encode("utf-8"))


def split_digest(lines: list[str], limit_bytes: int = CHAT_MESSAGE_LIMIT_BYTES) -> list[str]:
    """Lines joined into messages of at most `limit_bytes` UTF-8 bytes, split between lines.

    A single line longer than the limit is cut at character boundaries. The
    limit applies to the text; leave room for the JSON around it when sending.
    """
    if limit_bytes < 4:
        raise ValueError("limit_bytes must allow at least one character")
    messages: list[str] = []
    current: list[str] = []
    size = 0
    for line in lines:
        for piece in _cut(line, limit_bytes):
            extra = len(piece.encode("utf-8")) + (1 if current else 0)
            if current and size + extra > limit_bytes:
                messages.append("\n".join(current))
                current, size = [], 0
                extra -= 1
            current.append(piece)
            size += extra
    if current:
        messages.append("\n".join(current))
    return messages


def _cut(line: str, limit_bytes: int) -> list[str]:
    data = line.encode("utf-8")
    if len(data) <= limit_bytes:
        return [line]
    pieces, start = [], 0
    while start < len(data):
        end = min(start + limit_bytes, len(data))
        # Step back to the first byte of a UTF-8 character.
        while end < len(data) and (data[end] & 0xC0) == 0x80:
            end -= 1
        pieces.append(data[start:end].decode("utf-8"))
        start = end
    return pieces
