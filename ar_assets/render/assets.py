"""Renders the day's planned messages: MIME emails with invoice PDFs, chat cards.

Rendered emails are written as .eml files with an HTML preview beside them, so
a finance lead can read exactly what will leave before anything is sent.
"""


import json
import os
from collections import Counter
from datetime import UTC, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from dagster import (
    AssetExecutionContext,
    AssetKey,
    ConfigurableResource,
    MaterializeResult,
    MetadataValue,
    asset,
)

from ar_assets.partitions import daily_partitions, partition_date
from ar_assets.plan.codec import from_json
from ar_assets.plan.messages import ClientEmailPlan, InternalAlert
from ar_assets.policy import PROJECT_ROOT, load_policy
from ar_assets.render.branding import load_branding
from ar_assets.render.chat import render_chat_card
from ar_assets.render.emails import render_client_email
from ar_assets.render.mime import build_client_email
from ar_assets.render.pdfs import attachment_filename, render_invoice_pdfs
from ar_assets.resources import Warehouse

RENDER_DDL = """
create schema if not exists render;
create table if not exists render.outgoing (
    as_of date not null,
    message_key varchar not null,
    channel varchar not null,
    kind varchar not null,
    client_id bigint,
    eml_path varchar,
    body json,
    primary key (as_of, message_key)
);
"""


class RenderSettings(ConfigurableResource):
    """Where rendered messages, previews and the PDF cache live."""

    render_dir: str = ""

    def root(self) -> Path:
        default = PROJECT_ROOT / "var" / "rendered"
        return Path(self.render_dir or os.environ.get("AR_RENDER_DIR") or default)


def sent_at_for(as_of_text: str, tz: str, at: str) -> datetime:
    """The Date header: the scheduled send time of the business date, in UTC."""
    hour, minute = (int(x) for x in at.split(":"))
    local = datetime.combine(datetime.fromisoformat(as_of_text).date(), time(hour, minute))
    return local.replace(tzinfo=ZoneInfo(tz)).astimezone(UTC)


@asset(
    key=AssetKey(["render", "outgoing"]),
    deps=[AssetKey(["plan", "messages"])],
    partitions_def=daily_partitions,
    group_name="render",
    kinds={"python", "pdf"},
)
def render_outgoing(
    context: AssetExecutionContext, warehouse: Warehouse, render_settings: RenderSettings
) -> MaterializeResult:
    """The day's outgoing messages, rendered: one .eml (text + HTML + one PDF per listed
    invoice) per client email, and one Chat card per internal alert. Messages the ledger
    already shows as delivered are not rendered again."""
    as_of = partition_date(context.partition_key)
    policy = load_policy()
    branding = load_branding()
    day_dir = render_settings.root() / as_of.isoformat()
    day_dir.mkdir(parents=True, exist_ok=True)

    with warehouse.connect() as con:
        con.execute(RENDER_DDL)
        pending = con.execute(
            """
            select m.message_key, m.channel, m.kind, m.client_id, m.payload
            from plan.messages m
            join ops.ledger l using (message_key)
            where m.as_of = ? and m.status = 'planned'
              and l.status in ('planned', 'failed')
            order by m.message_key
            """,
            [as_of],
        ).fetchall()

    emails = [
        from_json(ClientEmailPlan, payload)
        for _, channel, _, _, payload in pending
        if channel == "email"
    ]
    pdfs = render_invoice_pdfs(
        [(invoice, plan) for plan in emails for invoice in plan.invoices],
        branding,
        cache_dir=render_settings.root() / "pdf-cache",
    )
    sent_at = sent_at_for(as_of.isoformat(), policy.company_timezone, policy.schedule_time)

    rows = []
    previews = []
    for plan in emails:
        rendered = render_client_email(plan, branding)
        attachments = [
            (attachment_filename(invoice, plan.language), pdfs[(invoice.invoice_id, plan.message_key)])
            for invoice in plan.invoices
        ]
        message = build_client_email(plan, rendered, attachments, branding, sent_at)
        eml_path = day_dir / f"{plan.message_key}.eml"
        eml_path.write_bytes(message.as_bytes())
        preview = day_dir / f"{plan.message_key}.html"
        preview.write_text(rendered.html, encoding="utf-8")
        previews.append(preview)
        rows.append((as_of, plan.message_key, "email", "client_overdue", plan.client_id,
                     str(eml_path), None))

    for key, channel, kind, client_id, payload in pending:
        if channel == "chat":
            alert = from_json(InternalAlert, payload)
            body = json.dumps(render_chat_card(alert, branding), ensure_ascii=False)
        elif channel == "campaign":
            body = payload
        else:
            continue
        rows.append((as_of, key, channel, kind, client_id, None, body))

    with warehouse.connect() as con:
        con.execute(RENDER_DDL)
        con.execute("delete from render.outgoing where as_of = ?", [as_of])
        if rows:
            con.executemany("insert into render.outgoing values (?, ?, ?, ?, ?, ?, ?)", rows)

    counts = Counter(r[2] for r in rows)
    context.log.info(
        f"rendered {counts['email']} client emails with {len(pdfs)} PDFs, "
        f"{counts['chat']} chat cards for {as_of}"
    )
    preview_list = "\n".join(f"- [{p.stem[:12]}](file://{p})" for p in previews[:20])
    return MaterializeResult(
        metadata={
            "client_emails": counts["email"],
            "invoice_pdfs": len(pdfs),
            "chat_cards": counts["chat"],
            "render_dir": MetadataValue.path(str(day_dir)),
            "previews": MetadataValue.md(preview_list or "nothing to send today"),
        }
    )
