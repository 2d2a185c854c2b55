"""The envelope of a rendered client email, every address checked before anything is sent.

Addresses are checked for syntax only (email-validator, no DNS lookups: a run
must not depend on resolvers). A message with any address that fails is not
sent at all, so no recipient gets a copy the others did not.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage

from email_validator import EmailNotValidError, validate_email

INVALID_ADDRESS = "invalid address"


class InvalidEnvelope(ValueError):
    """A message whose sender or recipients cannot all be used; the text holds no address."""


@dataclass(frozen=True)
class Envelope:
    sender: str
    to: tuple[str, ...]
    cc: tuple[str, ...]

    def recipients(self) -> tuple[tuple[str, str], ...]:
        """(header, address) pairs in RCPT order: To first, then Cc."""
        return tuple(("To", a) for a in self.to) + tuple(("Cc", a) for a in self.cc)


def is_valid_address(address: str, *, allow_test_domains: bool = False) -> bool:
    """A single ASCII addr-spec that email-validator accepts.

    `allow_test_domains` admits the reserved `.test` names used by the sandbox
    and the loopback SMTP server; live mail to them could never arrive.
    """
    try:
        validate_email(
            address,
            check_deliverability=False,
            allow_smtputf8=False,
            test_environment=allow_test_domains,
        )
    except EmailNotValidError:
        return False
    return True


def _header_addresses(message: EmailMessage, name: str) -> tuple[str, ...]:
    header = message[name]
    if header is None:
        return ()
    addresses = getattr(header, "addresses", None)
    if addresses is None or header.defects:
        raise InvalidEnvelope(INVALID_ADDRESS)
    return tuple(a.addr_spec for a in addresses)


def message_envelope(message: EmailMessage, *, allow_test_domains: bool = False) -> Envelope:
    """Sender (the From address), To and Cc of a rendered message, all validated."""
    sender = _header_addresses(message, "From")
    to = _header_addresses(message, "To")
    cc = _header_addresses(message, "Cc")
    if len(sender) != 1 or not to:
        raise InvalidEnvelope(INVALID_ADDRESS)
    for address in (*sender, *to, *cc):
        if not is_valid_address(address, allow_test_domains=allow_test_domains):
            raise InvalidEnvelope(INVALID_ADDRESS)
    return Envelope(sender[0], to, cc)
