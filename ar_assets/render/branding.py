"""The sender's branding: company, mailboxes, colours and payment details."""

from __future__ import annotations

import os
import string
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ar_assets.policy import PROJECT_ROOT

DEFAULT_BRANDING_PATH = PROJECT_ROOT / "branding.yaml"

# A payment detail is plain text or {language: text}; "en" is the fallback.
PaymentValue = str | dict[str, str]


@dataclass(frozen=True)
class Branding:
    legal_name: str
    address_lines: tuple[str, ...]
    sender_name: str
    from_address: str
    reply_to: str
    message_id_domain: str
    logo_text: str
    primary_color: str = "#1f4e79"
    accent_color: str = "#e9eff6"
    text_color: str = "#1d2733"
    vat_id: str = ""
    phone: str = ""
    website: str = ""
    hubspot_company_url: str = ""
    hubspot_search_url: str = ""
    payment_instructions: dict[str, dict[str, PaymentValue]] = field(default_factory=dict)

    def payment_details(self, currency: str, language: str) -> tuple[tuple[str, str], ...]:
        """(field key, text) pairs for paying in `currency`, in file order."""
        details = self.payment_instructions.get(currency)
        if details is None:
            details = self.payment_instructions.get("default", {})
        return tuple((key, _localized(value, language)) for key, value in details.items())

    def hubspot_url(
        self, client_id: int | None = None, hubspot_company_id: str | None = None
    ) -> str | None:
        """The company's HubSpot link, or None when no pattern can be filled."""
        known = {"client_id": client_id, "hubspot_company_id": hubspot_company_id}
        for pattern in (self.hubspot_company_url, self.hubspot_search_url):
            needed = {name for _, name, _, _ in string.Formatter().parse(pattern) if name}
            if pattern and all(known.get(name) is not None for name in needed):
                return pattern.format(**known)
        return None


def _localized(value: PaymentValue, language: str) -> str:
    if isinstance(value, dict):
        return str(value.get(language) or value.get("en") or next(iter(value.values()), ""))
    return str(value)


def load_branding(path: str | Path | None = None) -> Branding:
    """Reads the branding file named by AR_BRANDING_PATH, else branding.yaml."""
    path = Path(path or os.environ.get("AR_BRANDING_PATH") or DEFAULT_BRANDING_PATH)
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    company, mail, logo = raw.get("company", {}), raw.get("email", {}), raw.get("logo", {})
    missing = [
        name
        for name, value in (
            ("company.legal_name", company.get("legal_name")),
            ("email.from_address", mail.get("from_address")),
            ("email.message_id_domain", mail.get("message_id_domain")),
        )
        if not value
    ]
    if missing:
        raise ValueError(f"{path}: missing branding keys {missing}")

    instructions = {
        str(currency): {str(k): v for k, v in (details or {}).items()}
        for currency, details in (raw.get("payment_instructions") or {}).items()
    }
    return Branding(
        legal_name=company["legal_name"],
        address_lines=tuple(company.get("address_lines") or ()),
        vat_id=str(company.get("vat_id") or ""),
        phone=str(company.get("phone") or ""),
        website=str(company.get("website") or ""),
        sender_name=mail.get("sender_name") or company["legal_name"],
        from_address=mail["from_address"],
        reply_to=mail.get("reply_to") or mail["from_address"],
        message_id_domain=mail["message_id_domain"],
        logo_text=logo.get("text") or company["legal_name"],
        primary_color=logo.get("primary_color", Branding.primary_color),
        accent_color=logo.get("accent_color", Branding.accent_color),
        text_color=logo.get("text_color", Branding.text_color),
        hubspot_company_url=raw.get("hubspot_company_url") or "",
        hubspot_search_url=raw.get("hubspot_search_url") or "",
        payment_instructions=instructions,
    )
