"""SMTP submission of rendered client emails (live mode): one session per batch.

Each message is one SMTP transaction, and where it stops decides its outcome:

- before the server answers 354 to DATA nothing was handed over, so any
  refusal is `failed` with the server's code (4xx and 5xx alike are retried
  by a later run), and a dropped connection is reconnected and the message
  tried once more;
- after the content went out, only the final reply counts: 250 is
  `delivered`, 4xx/5xx `failed`, and silence (timeout, dropped connection)
  is `unknown`, because the server may have queued it: never resent.

Recipients are per-recipient RCPT results: a refused Cc does not stop the
client's copy, a message whose every To is refused is failed, and no refusal
stops the batch. Reasons carry codes only; server reply text is left out
because servers echo the address they refused.
"""

from __future__ import annotations

import os
import re
import smtplib
import ssl
from dataclasses import dataclass

from dagster import ConfigurableResource, EnvVar

from ar_assets.deliver.email.addresses import Envelope

_ENHANCED = re.compile(rb"^\s*([245]\.\d{1,3}\.\d{1,3})\b")
_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Refusal:
    """One refused recipient, by header and SMTP code; never the address."""

    header: str
    code: int


@dataclass(frozen=True)
class SmtpOutcome:
    status: str  # delivered | failed | unknown
    reason: str | None = None
    refused: tuple[Refusal, ...] = ()


class _Dropped(Exception):
    """The session ended before the message content was handed over."""


class _Unavailable(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _code_text(code: int, reply: bytes | str | None) -> str:
    raw = reply.encode() if isinstance(reply, str) else (reply or b"")
    enhanced = _ENHANCED.match(raw)
    return f"smtp {code} {enhanced.group(1).decode()}" if enhanced else f"smtp {code}"


def _wire_bytes(eml: bytes) -> bytes:
    """The DATA payload: CRLF line ends, leading dots doubled, the closing dot line."""
    data = re.sub(rb"\r?\n", b"\r\n", eml)
    data = re.sub(rb"(?m)^\.", b"..", data)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


class SmtpSender(ConfigurableResource):
    """Client email transport: the sandbox outbox, or SMTP submission when `live`.

    Live settings come from the environment through EnvVar (SMTP_HOST,
    SMTP_PORT, SMTP_USERNAME, SMTP_PASSWORD); SMTP_STARTTLS (default true)
    and SMTP_CAFILE (default: the system trust store) are read at run time
    unless set here. Port 465 uses TLS from the first byte instead of STARTTLS.
    """

    live: bool = False
    host: str = ""
    port: int = 587
    username: str = ""
    password: str = ""
    starttls: bool | None = None
    cafile: str | None = None
    timeout_seconds: float = 30.0
    # RFC 5321 allows a server ten minutes to answer the end of DATA.
    data_timeout_seconds: float = 600.0
    allow_test_domains: bool = False
    dry_run: bool = False

    def resolved_starttls(self) -> bool:
        if self.starttls is not None:
            return self.starttls
        return os.environ.get("SMTP_STARTTLS", "true").strip().lower() in _TRUE

    def resolved_cafile(self) -> str | None:
        cafile = self.cafile if self.cafile is not None else os.environ.get("SMTP_CAFILE", "")
        return cafile or None

    def open_batch(self) -> SmtpBatch:
        return SmtpBatch(self)


def smtp_sender_for_mode(mode: str | None = None, **overrides) -> SmtpSender:
    """The `smtp` resource for AR_MODE: outbox-only in sandbox (no SMTP settings
    needed), SMTP submission with settings from the environment in live mode."""
    mode = mode or os.environ.get("AR_MODE", "sandbox")
    if mode != "live":
        return SmtpSender(live=False, allow_test_domains=True, **overrides)
    return SmtpSender(
        live=True,
        host=EnvVar("SMTP_HOST"),
        port=EnvVar.int("SMTP_PORT"),
        username=EnvVar("SMTP_USERNAME"),
        password=EnvVar("SMTP_PASSWORD"),
        **overrides,
    )


class SmtpBatch:
    """One SMTP session for a batch of messages, opened on first use and reopened
    after a drop. A failure to connect or log in fails every remaining message of
    the batch with that reason, without knocking again (a bad password retried
    per message could lock the mailbox)."""

    def __init__(self, settings: SmtpSender) -> None:
        self.settings = settings
        self.connections = 0
        self._smtp: smtplib.SMTP | None = None
        self._unavailable: str | None = None

    def __enter__(self) -> SmtpBatch:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()

    def _discard(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.close()

    def _tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.settings.resolved_cafile())

    def _session(self) -> smtplib.SMTP:
        if self._smtp is not None:
            return self._smtp
        if self._unavailable:
            raise _Unavailable(self._unavailable)
        s = self.settings
        smtp: smtplib.SMTP | None = None
        try:
            if s.port == 465:
                smtp = smtplib.SMTP_SSL(
                    s.host, s.port, timeout=s.timeout_seconds, context=self._tls_context()
                )
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds)
            self.connections += 1
            smtp.ehlo()
            if s.port != 465 and s.resolved_starttls():
                smtp.starttls(context=self._tls_context())
                smtp.ehlo()
            if s.username:
                smtp.login(s.username, s.password)
        except smtplib.SMTPAuthenticationError as exc:
            self._unavailable = f"{_code_text(exc.smtp_code, exc.smtp_error)}: login refused"
        except smtplib.SMTPNotSupportedError:
            self._unavailable = "smtp: server does not offer STARTTLS or AUTH"
        except smtplib.SMTPResponseException as exc:
            self._unavailable = f"{_code_text(exc.smtp_code, exc.smtp_error)}: session refused"
        except (smtplib.SMTPException, OSError) as exc:
            self._unavailable = f"smtp connect failed: {type(exc).__name__}"
        if self._unavailable:
            if smtp is not None:
                smtp.close()
            raise _Unavailable(self._unavailable)
        self._smtp = smtp
        return smtp

    def send(self, eml: bytes, envelope: Envelope) -> SmtpOutcome:
        """Submits one rendered message to the envelope's recipients; never raises."""
        for attempt in (1, 2):
            try:
                smtp = self._session()
            except _Unavailable as exc:
                return SmtpOutcome("failed", exc.reason)
            try:
                return self._transaction(smtp, eml, envelope)
            except _Dropped:
                self._discard()
                if attempt == 2:
                    return SmtpOutcome("failed", "smtp connection lost before DATA")
        raise AssertionError("unreachable")

    def _reset(self, smtp: smtplib.SMTP) -> None:
        try:
            smtp.rset()
        except (smtplib.SMTPException, OSError):
            self._discard()

    def _transaction(self, smtp: smtplib.SMTP, eml: bytes, envelope: Envelope) -> SmtpOutcome:
        options = ["BODY=8BITMIME"] if smtp.has_extn("8bitmime") and not eml.isascii() else []
        try:
            code, reply = smtp.mail(envelope.sender, options)
            if code == 421:
                raise _Dropped
            if code != 250:
                self._reset(smtp)
                return SmtpOutcome("failed", f"{_code_text(code, reply)}: sender refused")

            refused: list[Refusal] = []
            first_to_refusal = None
            accepted_to = 0
            for header, address in envelope.recipients():
                code, reply = smtp.rcpt(address)
                if code == 421:
                    raise _Dropped
                if code in (250, 251):
                    accepted_to += header == "To"
                    continue
                refused.append(Refusal(header, code))
                if header == "To" and first_to_refusal is None:
                    first_to_refusal = _code_text(code, reply)
            if not accepted_to:
                self._reset(smtp)
                reason = f"{first_to_refusal}: To recipient refused"
                return SmtpOutcome("failed", reason, tuple(refused))

            code, reply = smtp.docmd("DATA")
            if code == 421:
                raise _Dropped
            if code != 354:
                self._reset(smtp)
                return SmtpOutcome("failed", f"{_code_text(code, reply)}: DATA refused",
                                   tuple(refused))
        except smtplib.SMTPServerDisconnected as exc:
            raise _Dropped from exc
        except OSError as exc:
            raise _Dropped from exc

        # From here on the server may hold the message: silence means unknown.
        try:
            smtp.sock.settimeout(self.settings.data_timeout_seconds)
            smtp.send(_wire_bytes(eml))
            code, reply = smtp.getreply()
            smtp.sock.settimeout(self.settings.timeout_seconds)
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self._discard()
            what = "timed out" if "timed out" in str(exc) else "connection lost"
            return SmtpOutcome("unknown", f"smtp {what} after DATA; not resent", tuple(refused))
        if code == 250:
            return SmtpOutcome("delivered", None, tuple(refused))
        if code == 421:
            self._discard()
        return SmtpOutcome("failed", f"{_code_text(code, reply)}: message refused",
                           tuple(refused))
