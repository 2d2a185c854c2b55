"""Template context pieces shared by emails and PDFs: text made safe, figures formatted."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from ar_assets.plan.messages import ClientEmailPlan
from ar_assets.render import catalog
from ar_assets.render.branding import Branding
from ar_assets.render.formatting import babel_locale

_SPACE_RUN = re.compile(r"\s+")


def one_line(text: str) -> str:
    """Client-supplied text on one line: control and line-break characters become spaces."""
    cleaned = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch for ch in text or ""
    )
    return _SPACE_RUN.sub(" ", cleaned).strip()


def render_locale(requested: str | None, language: str) -> str:
    """The Babel locale: the client's own ('ja_JP') when it matches the template language."""
    locale = babel_locale(requested, default="")
    if locale and locale.split("_")[0] == language:
        return locale
    return babel_locale(language)


def company_view(branding: Branding) -> dict[str, object]:
    return {
        "legal_name": branding.legal_name,
        "address_lines": branding.address_lines,
        "sender_name": branding.sender_name,
        "reply_to": branding.reply_to,
        "phone": branding.phone,
        "website": branding.website,
        "vat_id": branding.vat_id,
        "logo_text": branding.logo_text,
    }


def colors_view(branding: Branding) -> dict[str, str]:
    return {
        "primary": branding.primary_color,
        "accent": branding.accent_color,
        "text": branding.text_color,
    }


def payment_rows(
    branding: Branding, currency: str, language: str, root: Path
) -> list[dict[str, str]]:
    """Labelled payment details of one currency in the language."""
    names = catalog.labels(root, language).get("payment_fields", {})
    return [
        {"label": names.get(key, key.replace("_", " ")), "value": value}
        for key, value in branding.payment_details(currency, language)
    ]


def plan_language(plan: ClientEmailPlan, available: tuple[str, ...]) -> tuple[str, str]:
    """(template language, Babel locale) of a plan, English when not shipped."""
    language = catalog.pick_language(plan.language, available)
    return language, render_locale(plan.language, language)
