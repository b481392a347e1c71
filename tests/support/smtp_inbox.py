"""A real SMTP server on a free loopback port (aiosmtpd), which the CLI is configured to
send to: the reminders' tests read what was delivered, never a mock of the mailer."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, cast

import pytest
from aiosmtpd.controller import Controller


@dataclass
class Inbox:
    messages: list[EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"


def body_of(message: EmailMessage) -> str:
    """The plain-text body as it was hashed (LF line ends)."""
    part = cast(Any, message.get_body(("plain",)))
    return str(part.get_content()).replace("\r\n", "\n")


@pytest.fixture
def inbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    """A real SMTP server on a free local port, which the CLI is configured to send to."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    found = Inbox()
    controller = Controller(found, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("INQUIRY_LEDGER_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("INQUIRY_LEDGER_SMTP_PORT", str(port))
    monkeypatch.setenv("INQUIRY_LEDGER_SMTP_FROM", "ledger@council.example")
    monkeypatch.delenv("INQUIRY_LEDGER_BASE_URL", raising=False)
    try:
        yield found
    finally:
        controller.stop()
