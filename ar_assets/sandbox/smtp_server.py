"""A loopback SMTP submission server (aiosmtpd) for tests and the sandbox.

It speaks the real protocol: STARTTLS required before anything else, AUTH
(PLAIN/LOGIN) required before MAIL, and it keeps every message it accepted.
Faults are switches on the running server, keyed by recipient address:

- `refuse_recipient[addr] = "550 5.1.1 ..."`   RCPT answered with that reply
- `data_reply[addr] = "451 4.3.0 ..."`         end of DATA answered with that reply
- `drop_after_data.add(addr)`                  content read, connection cut, no reply
- `stall_after_data[addr] = seconds`           content read, reply delayed

A message that is dropped or stalled after DATA is still kept in `received`:
the server has the content even though the client never heard back, which
is exactly the case a sender must treat as "outcome unknown".

    python -m ar_assets.sandbox.smtp_server   # serves it and prints SMTP_* settings
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass(frozen=True)
class ReceivedMessage:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    content: bytes

    def parsed(self) -> EmailMessage:
        return message_from_bytes(self.content, policy=policy.default)


@dataclass
class SmtpSandbox:
    """The server's state and fault switches; shared with the aiosmtpd handler thread."""

    username: str = "ar-sender"
    password: str = "sandbox-smtp-password"
    refuse_recipient: dict[str, str] = field(default_factory=dict)
    data_reply: dict[str, str] = field(default_factory=dict)
    drop_after_data: set[str] = field(default_factory=set)
    stall_after_data: dict[str, float] = field(default_factory=dict)
    received: list[ReceivedMessage] = field(default_factory=list)
    logins: int = 0
    failed_logins: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def messages(self) -> list[EmailMessage]:
        with self._lock:
            return [m.parsed() for m in self.received]

    def clear_faults(self) -> None:
        self.refuse_recipient.clear()
        self.data_reply.clear()
        self.drop_after_data.clear()
        self.stall_after_data.clear()

    # aiosmtpd hooks -------------------------------------------------------

    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == self.username
            and auth_data.password.decode() == self.password
        )
        with self._lock:
            if ok:
                self.logins += 1
            else:
                self.failed_logins += 1
        # handled=False: aiosmtpd then answers the client with 535 itself.
        return AuthResult(success=ok, handled=False)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        reply = self.refuse_recipient.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        message = ReceivedMessage(
            envelope.mail_from, tuple(envelope.rcpt_tos), bytes(envelope.content)
        )
        rcpts = set(envelope.rcpt_tos)
        reply = next((self.data_reply[a] for a in envelope.rcpt_tos if a in self.data_reply), None)
        if reply:
            return reply
        with self._lock:
            self.received.append(message)
        if rcpts & self.drop_after_data:
            server.transport.abort()
            return "250 OK"
        stall = max((self.stall_after_data.get(a, 0.0) for a in rcpts), default=0.0)
        if stall:
            await asyncio.sleep(stall)
        return "250 OK"


class _LoopbackController(Controller):
    """Binds port 0 and learns the port the kernel chose before its readiness probe."""

    def _trigger_server(self) -> None:
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


def server_tls_context(cert_file: str | Path, key_file: str | Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert_file), str(key_file))
    return context


def throwaway_certificate(directory: str | Path) -> tuple[ssl.SSLContext, str]:
    """A throwaway CA and a 127.0.0.1 certificate (trustme, a dev dependency).

    Returns the server's TLS context and the CA file a client must trust.
    """
    import trustme

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cafile = directory / "smtp-ca.pem"
    ca.cert_pem.write_to_path(str(cafile))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    return context, str(cafile)


@contextmanager
def serve_smtp(
    sandbox: SmtpSandbox, tls_context: ssl.SSLContext
) -> Iterator[tuple[str, int]]:
    """Runs the server on 127.0.0.1 (a free port) until the block exits; yields (host, port)."""
    controller = _LoopbackController(
        sandbox,
        hostname="127.0.0.1",
        port=0,
        tls_context=tls_context,
        require_starttls=True,
        auth_required=True,
        auth_require_tls=True,
        authenticator=sandbox.authenticate,
    )
    controller.start()
    try:
        yield "127.0.0.1", controller.port
    finally:
        controller.stop()


def main(argv: list[str] | None = None) -> None:
    """Serves the SMTP sandbox until interrupted and prints the settings that reach it."""
    import argparse
    import tempfile
    import time

    parser = argparse.ArgumentParser(prog="python -m ar_assets.sandbox.smtp_server")
    parser.add_argument("--cert-dir", default=tempfile.mkdtemp(prefix="ar-smtp-"))
    args = parser.parse_args(argv)

    sandbox = SmtpSandbox()
    tls, cafile = throwaway_certificate(args.cert_dir)
    with serve_smtp(sandbox, tls) as (host, port):
        print(f"SMTP sandbox (STARTTLS and AUTH required) at {host}:{port}")
        print("Export these for live-mode email delivery (sandbox values, not secrets):")
        for name, value in (("SMTP_HOST", host), ("SMTP_PORT", port),
                            ("SMTP_USERNAME", sandbox.username),
                            ("SMTP_PASSWORD", sandbox.password), ("SMTP_CAFILE", cafile)):
            print(f"export {name}={value}")
        seen = 0
        try:
            while True:
                time.sleep(5)
                if len(sandbox.received) != seen:
                    seen = len(sandbox.received)
                    print(f"{seen} messages received", flush=True)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
