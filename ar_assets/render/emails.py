"""Client overdue emails: subject, plain text and HTML from the language's templates."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ar_assets.plan.messages import ClientEmailPlan, CurrencySummary, InvoiceDoc
from ar_assets.render import catalog
from ar_assets.render.branding import Branding
from ar_assets.render.formatting import currency_name, format_date, format_money
from ar_assets.render.views import colors_view, company_view, one_line, payment_rows, plan_language


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str
    language: str = "en"


def render_client_email(
    plan: ClientEmailPlan, branding: Branding, templates: str | Path | None = None
) -> RenderedEmail:
    """The email of one plan in its language (English when no template folder exists)."""
    root = catalog.templates_dir(templates)
    if plan.tier not in catalog.EMAIL_TIERS:
        raise ValueError(f"no client email template for tier {plan.tier}")
    language, locale = plan_language(plan, catalog.email_languages(root))
    context = email_context(plan, branding, language, locale, root)

    env = catalog.jinja_env(root)
    subject_name, text_name, html_name = catalog.email_template_names(language, plan.tier)
    subject = one_line(env.get_template(subject_name).render(context))
    text = env.get_template(text_name).render(context)
    html = env.get_template(html_name).render(context, subject=subject)
    return RenderedEmail(subject=subject, text=_tidy_text(text), html=html, language=language)


def email_context(
    plan: ClientEmailPlan, branding: Branding, language: str, locale: str, root: Path
) -> dict[str, object]:
    """Everything the email templates show, formatted for the locale."""
    return {
        "lang": language,
        "client_name": one_line(plan.client_name),
        "am_name": one_line(plan.am_name),
        "tier": plan.tier,
        "as_of": format_date(plan.as_of, locale),
        "invoice_count": len(plan.invoices),
        "is_campaign_hold": plan.is_campaign_hold,
        "last_reminder": format_date(plan.last_reminder, locale) if plan.last_reminder else "",
        "groups": currency_groups(plan, branding, language, locale, root),
        "company": company_view(branding),
        "colors": colors_view(branding),
    }


def currency_groups(
    plan: ClientEmailPlan, branding: Branding, language: str, locale: str, root: Path
) -> list[dict[str, object]]:
    """One group per currency summary of the plan, with that currency's invoices."""
    summarized = {s.currency for s in plan.currencies}
    stray = sorted({inv.currency for inv in plan.invoices} - summarized)
    if stray:
        raise ValueError(f"plan {plan.message_key}: invoices in {stray} have no currency summary")

    return [
        _group(summary, plan.invoices, branding, language, locale, root)
        for summary in plan.currencies
    ]


def _group(
    summary: CurrencySummary,
    invoices: tuple[InvoiceDoc, ...],
    branding: Branding,
    language: str,
    locale: str,
    root: Path,
) -> dict[str, object]:
    cur = summary.currency
    return {
        "currency": cur,
        "currency_name": currency_name(cur, locale),
        "invoices": [_invoice_row(inv, locale) for inv in invoices if inv.currency == cur],
        "overdue_subtotal": format_money(summary.overdue_subtotal, cur, locale),
        "credits_applied": format_money(summary.credits_applied, cur, locale),
        "has_credits": summary.credits_applied != 0,
        "open_balance": format_money(summary.open_balance, cur, locale),
        "payment": payment_rows(branding, cur, language, root),
    }


def _invoice_row(inv: InvoiceDoc, locale: str) -> dict[str, object]:
    return {
        "tranid": one_line(inv.tranid),
        "tran_date": format_date(inv.tran_date, locale),
        "due_date": format_date(inv.due_date, locale),
        "dpd": inv.dpd,
        "original": format_money(inv.total, inv.currency, locale),
        "amount_paid": format_money(inv.amount_paid, inv.currency, locale),
        "credits_applied": format_money(inv.credits_applied, inv.currency, locale),
        "remaining": format_money(inv.remaining, inv.currency, locale),
    }


def _tidy_text(text: str) -> str:
    """At most one blank line in a row and no trailing spaces in the plain-text part."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    tidy: list[str] = []
    for line in lines:
        if line or (tidy and tidy[-1]):
            tidy.append(line)
    return "\n".join(tidy) + "\n"
