"""Invoice PDFs from templates/pdf/invoice.html, labelled in the client's language."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from ar_assets.plan.messages import ClientEmailPlan, InvoiceDoc, InvoiceLine
from ar_assets.render import catalog
from ar_assets.render.branding import Branding
from ar_assets.render.formatting import (
    format_date,
    format_money,
    format_quantity,
    format_unit_price,
)
from ar_assets.render.pdf_engine import PdfCache, html_to_pdf, html_to_pdfs
from ar_assets.render.views import colors_view, company_view, one_line, payment_rows, plan_language

INVOICE_TEMPLATE = "pdf/invoice.html"
_UNSAFE_IN_FILE_NAME = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]+')


def invoice_html(
    invoice: InvoiceDoc,
    plan: ClientEmailPlan,
    branding: Branding,
    templates: str | Path | None = None,
) -> str:
    """The invoice as HTML in the plan's language, styles inlined."""
    root = catalog.templates_dir(templates)
    language, locale = plan_language(plan, catalog.label_languages(root))
    cur = invoice.currency

    def money(amount):
        return format_money(amount, cur, locale)

    context = {
        "lang": language,
        "labels": catalog.labels(root, language).get("pdf", {}),
        "company": company_view(branding),
        "colors": colors_view(branding),
        "client_name": one_line(plan.client_name),
        "invoice": {
            "tranid": one_line(invoice.tranid),
            "currency": cur,
            "tran_date": format_date(invoice.tran_date, locale),
            "due_date": format_date(invoice.due_date, locale),
            "total": money(invoice.total),
            "amount_paid": money(invoice.amount_paid),
            "credits_applied": money(invoice.credits_applied),
            "remaining": money(invoice.remaining),
            "lines": [_line_view(line, cur, locale) for line in invoice.lines],
        },
        "payment": payment_rows(branding, cur, language, root),
    }
    return catalog.jinja_env(root).get_template(INVOICE_TEMPLATE).render(context)


def _line_view(line: InvoiceLine, currency: str, locale: str) -> dict[str, str]:
    return {
        "item": line.item,
        "description": line.description,
        "quantity": format_quantity(line.quantity, locale),
        "rate": format_unit_price(line.rate, currency, locale),
        "amount": format_money(line.amount, currency, locale),
    }


def render_invoice_pdf(
    invoice: InvoiceDoc,
    plan: ClientEmailPlan,
    branding: Branding,
    templates: str | Path | None = None,
) -> bytes:
    """One invoice PDF, rendered now (no cache)."""
    root = catalog.templates_dir(templates)
    return html_to_pdf(invoice_html(invoice, plan, branding, root), base_url=str(root))


def render_invoice_pdfs(
    items: Iterable[tuple[InvoiceDoc, ClientEmailPlan]],
    branding: Branding,
    *,
    cache_dir: str | Path | None = None,
    workers: int | None = None,
    templates: str | Path | None = None,
) -> dict[tuple[int, str], bytes]:
    """PDFs by (invoice_id, plan message_key); each distinct document rendered at most once.

    `cache_dir` (else AR_PDF_CACHE_DIR) keeps PDFs by content hash across runs;
    without either, PDFs are rendered fresh. Uncached documents are rendered in
    a small process pool when there are enough of them.
    """
    root = catalog.templates_dir(templates)
    cache_path = cache_dir or os.environ.get("AR_PDF_CACHE_DIR")
    cache = PdfCache(cache_path) if cache_path else None

    keys: dict[tuple[int, str], str] = {}
    html_by_key: dict[str, str] = {}
    for invoice, plan in items:
        html = invoice_html(invoice, plan, branding, root)
        key = PdfCache.key(html)
        keys[(invoice.invoice_id, plan.message_key)] = key
        html_by_key.setdefault(key, html)

    pdf_by_key: dict[str, bytes] = {}
    if cache is not None:
        for key in html_by_key:
            cached = cache.get(key)
            if cached is not None:
                pdf_by_key[key] = cached

    missing = [key for key in html_by_key if key not in pdf_by_key]
    rendered = html_to_pdfs([html_by_key[k] for k in missing], str(root), workers)
    for key, pdf in zip(missing, rendered, strict=True):
        pdf_by_key[key] = pdf
        if cache is not None:
            cache.put(key, pdf)

    return {item: pdf_by_key[key] for item, key in keys.items()}


def attachment_filename(
    invoice: InvoiceDoc, language: str | None, templates: str | Path | None = None
) -> str:
    """'Invoice_INV-601.pdf', '請求書_INV-601.pdf': the word from the language's labels."""
    root = catalog.templates_dir(templates)
    chosen = catalog.pick_language(language, catalog.label_languages(root))
    word = catalog.labels(root, chosen).get("files", {}).get("invoice", "Invoice")
    number = _UNSAFE_IN_FILE_NAME.sub("-", one_line(invoice.tranid)).strip(". ") or "invoice"
    return f"{_UNSAFE_IN_FILE_NAME.sub('-', word)}_{number}.pdf"
