"""Renders the day's planned messages: MIME emails with invoice PDFs, chat cards.

Rendered emails are written as .eml files with an HTML preview beside them and a
small PNG of each attached PDF's first page, so a finance lead can read exactly
what will leave before anything is sent (with AR_DRY_RUN=1, nothing is).
"""


import hashlib
import json
import os
import shutil
import subprocess
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
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

from ar_assets.partitions import daily_partitions, one_day_per_run, partition_date
from ar_assets.plan.codec import from_json
from ar_assets.plan.messages import ClientEmailPlan, InternalAlert
from ar_assets.policy import PROJECT_ROOT, load_policy
from ar_assets.render.branding import load_branding
from ar_assets.render.chat import render_chat_card
from ar_assets.render.emails import render_client_email
from ar_assets.render.mime import UnsafeHeaderValue, build_client_email
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


# Enough to recognise the layout and the figures in a preview, about 20 KB a page.
PAGE_PREVIEW_DPI = 40
PAGE_PREVIEW_WORKERS = 4
PREVIEW_ROWS = 25


def first_page_png(pdf: bytes, pages_dir: Path) -> Path | None:
    """The PDF's first page as a small PNG (pdftoppm), kept by content; None without poppler."""
    digest = hashlib.sha256(pdf).hexdigest()[:24]
    png = pages_dir / f"{digest}.png"
    if png.exists():
        return png
    if shutil.which("pdftoppm") is None:
        return None
    pages_dir.mkdir(parents=True, exist_ok=True)
    pdf_path = pages_dir / f"{digest}.pdf"
    pdf_path.write_bytes(pdf)
    try:
        subprocess.run(
            ["pdftoppm", "-png", "-r", str(PAGE_PREVIEW_DPI), "-f", "1", "-l", "1",
             "-singlefile", str(pdf_path), str(png.with_suffix(""))],
            check=True, capture_output=True, timeout=60,
        )
    finally:
        pdf_path.unlink(missing_ok=True)
    return png


def _preview_table(previews: list[tuple[str, Path, list[tuple[str, Path | None]]]]) -> str:
    """Markdown links to each email's HTML preview and its PDFs' first pages; no addresses."""
    if not previews:
        return "nothing to send today"
    rows = ["| client | email | first pages |", "|---|---|---|"]
    for label, html, pages in previews[:PREVIEW_ROWS]:
        links = ", ".join(f"[{tranid}](file://{png})" if png else tranid for tranid, png in pages)
        rows.append(f"| {label} | [preview](file://{html}) | {links} |")
    if len(previews) > PREVIEW_ROWS:
        rows.append(f"| and {len(previews) - PREVIEW_ROWS} more | | |")
    return "\n".join(rows)


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
    backfill_policy=one_day_per_run,
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

    pages_dir = day_dir / "pages"
    distinct = list(dict.fromkeys(pdfs.values()))
    with ThreadPoolExecutor(PAGE_PREVIEW_WORKERS) as pool:
        png_of = dict(zip(distinct, pool.map(lambda pdf: first_page_png(pdf, pages_dir),
                                             distinct)))
    pages = {item: png_of[pdf] for item, pdf in pdfs.items()}

    rows = []
    previews = []
    undeliverable = 0
    for plan in emails:
        rendered = render_client_email(plan, branding)
        attachments = [
            (attachment_filename(invoice, plan.language),
             pdfs[(invoice.invoice_id, plan.message_key)])
            for invoice in plan.invoices
        ]
        preview = day_dir / f"{plan.message_key}.html"
        preview.write_text(rendered.html, encoding="utf-8")
        first_pages = [
            (invoice.tranid, pages[(invoice.invoice_id, plan.message_key)])
            for invoice in plan.invoices
        ]
        previews.append((f"{plan.client_id} {plan.client_name}", preview, first_pages))
        try:
            message = build_client_email(plan, rendered, attachments, branding, sent_at)
        except UnsafeHeaderValue:
            # The error text names the address, so it is not logged; the deliver
            # step records the message as failed with this reason.
            undeliverable += 1
            body = json.dumps({"undeliverable": "invalid address"})
            rows.append((as_of, plan.message_key, "email", "client_overdue", plan.client_id,
                         None, body))
            continue
        eml_path = day_dir / f"{plan.message_key}.eml"
        eml_path.write_bytes(message.as_bytes())
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
        f"rendered {counts['email'] - undeliverable} client emails with {len(pdfs)} PDFs, "
        f"{counts['chat']} chat cards for {as_of}; {undeliverable} not renderable "
        "(invalid address)"
    )
    return MaterializeResult(
        metadata={
            "client_emails": counts["email"] - undeliverable,
            "invalid_address": undeliverable,
            "invoice_pdfs": len(pdfs),
            "page_previews": sum(1 for png in pages.values() if png),
            "chat_cards": counts["chat"],
            "render_dir": MetadataValue.path(str(day_dir)),
            "previews": MetadataValue.md(_preview_table(previews)),
        }
    )
