"""Email addresses of ledger users, kept outside the ledger.

Addresses are personal data: they change, and people ask for them to be removed, so
they must not be written into an immutable log. The ledger names people by user id;
this file (CSV ``user_id,email``, by default ``HOME/contacts.csv``) maps ids to
addresses at the moment a reminder is sent. Addresses are never printed or logged.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

HEADER = ["user_id", "email"]
# Deliberately narrow: a plain addr-spec, nothing that could smuggle a header, a display
# name or a second address into a message (no spaces, commas, angle brackets, CR or LF).
ADDRESS = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*$"
)
MAX_BYTES = 5 * 1024 * 1024


class ContactsError(ValueError):
    """The contacts file is missing or malformed; every bad row is listed."""


def load_contacts(path: Path) -> dict[str, str]:
    """user id -> address. Refuses the whole file if any row is bad (never half a list)."""
    try:
        if path.stat().st_size > MAX_BYTES:
            raise ContactsError(f"{path} is larger than {MAX_BYTES} bytes")
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ContactsError(
            f"no contacts file {path}: write one (CSV with the header user_id,email) "
            "or pass --contacts FILE"
        ) from None
    except UnicodeDecodeError:
        raise ContactsError(f"{path} is not UTF-8 text") from None
    except OSError as error:
        raise ContactsError(f"cannot read {path}: {error.strerror}") from None
    rows = list(csv.reader(text.splitlines()))
    if not rows or [cell.strip() for cell in rows[0]] != HEADER:
        raise ContactsError(f"{path}: the first line must be the header user_id,email")
    contacts: dict[str, str] = {}
    errors: list[str] = []
    for number, row in enumerate(rows[1:], start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != 2:
            errors.append(f"line {number}: expected 2 columns (user_id,email), got {len(row)}")
            continue
        user_id, address = row[0].strip(), row[1].strip()
        if not user_id:
            errors.append(f"line {number}: user_id is empty")
        elif user_id in contacts:
            errors.append(f"line {number}: {user_id} is listed twice")
        elif not ADDRESS.fullmatch(address) or len(address) > 254:
            # The address itself is not echoed: it is personal data.
            errors.append(f"line {number}: the email of {user_id} is not a plain address")
        else:
            contacts[user_id] = address
    if errors:
        raise ContactsError(f"{path}: {len(errors)} bad line(s): " + "; ".join(errors))
    return contacts
