"""Sending mail over SMTP, configured from the environment (standard library only).

| variable | meaning | default |
|---|---|---|
| INQUIRY_LEDGER_SMTP_HOST | the mail server (required to send) | - |
| INQUIRY_LEDGER_SMTP_PORT | its port | 587 with STARTTLS, else 25 |
| INQUIRY_LEDGER_SMTP_FROM | the sender address (required to send) | - |
| INQUIRY_LEDGER_SMTP_USER, _SMTP_PASSWORD | credentials (only over STARTTLS) | none |
| INQUIRY_LEDGER_SMTP_STARTTLS | on / off: upgrade to TLS, verifying the certificate | off |
| INQUIRY_LEDGER_SMTP_CA_FILE | PEM certificates to trust (a relay with a private CA) | system CAs |
| INQUIRY_LEDGER_SMTP_TIMEOUT | seconds for connecting and each reply | 30 |

The password is never printed, logged or shown in a repr; credentials are refused over
a connection that is not encrypted.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage

from api.application.contacts import ADDRESS

PREFIX = "INQUIRY_LEDGER_SMTP_"
ON, OFF = {"on", "true", "yes", "1"}, {"off", "false", "no", "0", ""}


class SmtpConfigError(ValueError):
    """The SMTP settings are missing or malformed."""


class DeliveryError(Exception):
    """The server did not accept the message. `refused` is true when the server answered
    and refused this message (other messages may still go); false when it could not be
    reached or the session failed (nothing else will go either)."""

    def __init__(self, message: str, *, refused: bool) -> None:
        super().__init__(message)
        self.refused = refused


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    starttls: bool = False
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0
    ca_file: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SmtpSettings:
        host = env.get(PREFIX + "HOST", "").strip()
        sender = env.get(PREFIX + "FROM", "").strip()
        missing = [PREFIX + name for name, value in (("HOST", host), ("FROM", sender)) if not value]
        if missing:
            raise SmtpConfigError(f"to send reminders, set {' and '.join(missing)}")
        if not ADDRESS.fullmatch(sender):
            raise SmtpConfigError(f"{PREFIX}FROM must be a plain address like ledger@example.org")
        flag = env.get(PREFIX + "STARTTLS", "off").strip().lower()
        if flag not in ON | OFF:
            raise SmtpConfigError(f"{PREFIX}STARTTLS must be on or off, not {flag!r}")
        starttls = flag in ON
        port = _number(env, "PORT", 587 if starttls else 25, int, 1, 65535)
        timeout = _number(env, "TIMEOUT", 30.0, float, 0.1, 600.0)
        user = env.get(PREFIX + "USER") or None
        password = env.get(PREFIX + "PASSWORD") or None
        if (user is None) != (password is None):
            raise SmtpConfigError(f"set both {PREFIX}USER and {PREFIX}PASSWORD, or neither")
        if user is not None and not starttls:
            raise SmtpConfigError(
                f"refusing to send SMTP credentials unencrypted: set {PREFIX}STARTTLS=on"
            )
        ca_file = env.get(PREFIX + "CA_FILE") or None
        if ca_file is not None and not starttls:
            raise SmtpConfigError(f"{PREFIX}CA_FILE is for STARTTLS: set {PREFIX}STARTTLS=on")
        if ca_file is not None:
            try:
                ssl.create_default_context(cafile=ca_file)
            except (OSError, ssl.SSLError) as error:
                raise SmtpConfigError(f"{PREFIX}CA_FILE {ca_file}: {error}") from None
        return cls(host, int(port), sender, starttls, user, password, float(timeout), ca_file)


def _number(
    env: Mapping[str, str], name: str, default: float, kind: type, low: float, high: float
) -> float:
    text = env.get(PREFIX + name, "").strip()
    if not text:
        return default
    try:
        value = kind(text)
    except ValueError:
        raise SmtpConfigError(f"{PREFIX}{name} must be a number, not {text!r}") from None
    if not low <= value <= high:
        raise SmtpConfigError(f"{PREFIX}{name} must be between {low:g} and {high:g}")
    return float(value)


def deliver(settings: SmtpSettings, message: EmailMessage) -> set[str]:
    """Hand one message to the server; return the addresses it refused (the message was
    accepted for all the others). Raises DeliveryError if it was accepted for nobody."""
    where = f"{settings.host}:{settings.port}"
    try:
        # Connecting in the constructor also names the host that STARTTLS verifies.
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    except (smtplib.SMTPException, OSError) as error:
        raise DeliveryError(
            f"cannot reach the SMTP server {where}: {_describe(error)}", refused=False
        ) from None
    try:
        try:
            smtp.ehlo()
            if settings.starttls:
                smtp.starttls(context=ssl.create_default_context(cafile=settings.ca_file))
                smtp.ehlo()
            if settings.user is not None and settings.password is not None:
                smtp.login(settings.user, settings.password)
        except smtplib.SMTPNotSupportedError:
            raise DeliveryError(
                f"the SMTP server {where} does not offer STARTTLS", refused=False
            ) from None
        except ssl.SSLError as error:
            raise DeliveryError(
                f"TLS with the SMTP server {where} failed: {error.reason or error}", refused=False
            ) from None
        except smtplib.SMTPAuthenticationError as error:
            raise DeliveryError(
                f"the SMTP server {where} refused the login (code {error.smtp_code})",
                refused=False,
            ) from None
        except (smtplib.SMTPException, OSError) as error:
            raise DeliveryError(
                f"cannot reach the SMTP server {where}: {_describe(error)}", refused=False
            ) from None
        try:
            refused = smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            codes = sorted({code for code, _ in error.recipients.values()})
            raise DeliveryError(
                f"the SMTP server {where} refused every recipient (codes {codes})", refused=True
            ) from None
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as error:
            raise DeliveryError(
                f"the SMTP server {where} refused the message (code {error.smtp_code})",
                refused=True,
            ) from None
        except (smtplib.SMTPException, OSError) as error:
            raise DeliveryError(
                f"the SMTP session with {where} failed: {_describe(error)}", refused=False
            ) from None
        return set(refused)
    finally:
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()  # the message, if accepted, stays accepted


def _describe(error: BaseException) -> str:
    if isinstance(error, smtplib.SMTPResponseException):
        return f"code {error.smtp_code}"
    return str(error) or type(error).__name__
