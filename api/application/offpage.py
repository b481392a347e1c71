"""Signing outside the operator's page: what the page offers for download, what
`inquiry-ledger sign` checks and shows, and who must sign that way.

A browser key is non-extractable, so a copied disk or a database dump does not yield
it; but any script the operator serves from the app's origin can ask it to sign
anything while the page is open. So a user may instead download the exact body the
server prepared, sign it on their own machine with `inquiry-ledger sign` (which shows
what it is about to sign, from the bytes themselves) and paste the signature back; the
server appends it as it appends a browser-made signature. The chair's charter can
require it of some roles (`Directory.charter.off_page_roles`): those users are offered
no browser key and no browser signing.

Both front doors use this module: the pages (file name, facts, fingerprint) and the
CLI (strict parsing, the same facts), so what the page says and what the signer's own
machine shows are built the same way, from the same bytes.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from domain import Actor
from domain.ids import DIRECTORY_ID, PLAN_ID, action_aggregate_id
from ledger.auditor.canonical import CanonicalFormError, parse_canonical
from ledger.auditor.entry import EntryFormatError, EventBody

#: The largest body file `read_body` accepts (prepared bodies are a few KiB).
MAX_BODY_BYTES = 1024 * 1024
#: `<type>-<action>-v<version>.json`, the name the page gives a prepared body.
FILE_NAME = re.compile(
    r"(?P<type>[a-z0-9_.]+)-(?P<action>R[0-9]+\.[1-9][0-9]*)-v(?P<version>[0-9]+)(?:\.json)?",
    re.ASCII,
)
UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9._-]", re.ASCII)
#: Characters never printed as themselves: controls, format characters (bidirectional
#: overrides included), separators other than space, surrogates, unassigned, private use.
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


class BodyError(ValueError):
    """Bytes that are not exactly a canonical event body."""


def off_page_roles(directory: Any) -> frozenset[str]:
    """The roles the charter requires to sign off the operator's page (none until a
    charter is adopted)."""
    charter = getattr(directory, "charter", None)
    roles: Iterable[Any] = getattr(charter, "off_page_roles", frozenset())
    return frozenset(str(r) for r in roles)


def must_sign_off_page(directory: Any, actor: Actor) -> bool:
    """Whether the charter forbids this user browser keys and browser signing."""
    return actor.role.value in off_page_roles(directory)


def read_body(data: bytes) -> EventBody:
    """A prepared body from its exact bytes: canonical JSON (RFC 8785, as the ledger
    signs it) of an event body, byte for byte, or BodyError saying what is wrong."""
    if len(data) > MAX_BODY_BYTES:
        raise BodyError(f"it is {len(data)} bytes; a prepared statement is far smaller")
    if data.endswith((b"\n", b"\r")):
        raise BodyError(
            "it ends with a line break, so it is not the exact bytes the page offered "
            "(an editor may have added it); download it again and do not edit it"
        )
    try:
        obj = parse_canonical(data)
    except CanonicalFormError as error:
        raise BodyError(f"it is not canonical JSON ({error}); download it again") from None
    try:
        body = EventBody.from_json(obj)
        again = body.signing_bytes()
    except EntryFormatError as error:
        raise BodyError(f"it is not an event body: {error}") from None
    if again != data:  # parse_canonical proved the form; this proves nothing was lost
        raise BodyError("it does not round-trip as an event body; download it again")
    return body


def fingerprint(data: bytes) -> str:
    """What the page and the CLI both show, so the signer can see it is the same file."""
    return hashlib.sha256(data).hexdigest()


def file_name(body: EventBody, action_id: str) -> str:
    """`<type>-<action>-v<version>.json` (anything but letters, digits, '.', '_' and '-'
    becomes '_': the name goes into a header and a shell command)."""
    name = f"{body.type}-{action_id}-v{body.version}.json"
    return UNSAFE_IN_NAME.sub("_", name)


def action_in_name(name: str, aggregate_id: UUID) -> str | None:
    """The action id a body file's name claims, if the body is in fact about it (action
    ids map to aggregate ids one way; the name is only believed if they agree)."""
    found = FILE_NAME.fullmatch(name)
    if found and action_aggregate_id(found["action"]) == aggregate_id:
        return found["action"]
    return None


def aggregate_label(aggregate_id: UUID, action_id: str | None = None) -> str:
    if action_id is not None and action_aggregate_id(action_id) == aggregate_id:
        return f"action {action_id}"
    if aggregate_id == PLAN_ID:
        return "the plan"
    if aggregate_id == DIRECTORY_ID:
        return "the directory of users and keys"
    return f"aggregate {aggregate_id} (its name is not known here)"


def shown(text: str) -> str:
    """Text as it may be printed to a terminal or a page: every character that could
    hide or rearrange what is shown (controls, escapes, bidirectional overrides) is
    written as an escape instead."""
    out = []
    for char in text:
        if char == " " or unicodedata.category(char) not in HIDDEN_CATEGORIES:
            out.append(char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        else:
            out.append(f"\\u{ord(char):04x}" if ord(char) <= 0xFFFF else f"\\U{ord(char):08x}")
    return "".join(out)


def _value(value: Any) -> str:
    if isinstance(value, list):
        return "; ".join(_value(v) for v in value) if value else "none"
    if isinstance(value, dict):
        inner = ", ".join(f"{shown(str(k))}: {_value(v)}" for k, v in value.items())
        return "{" + inner + "}"
    if isinstance(value, str):
        return shown(value) if value else '""'
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def facts(body: EventBody, action_id: str | None = None) -> list[tuple[str, str]]:
    """What the signer is signing, one (name, value) a line: type, what it is about,
    each payload member, who, with which key, when, for which log."""
    rows = [
        ("Type", shown(body.type)),
        ("About", aggregate_label(body.aggregate_id, action_id)),
        ("Version", str(body.version)),
    ]
    rows += [(f"payload.{shown(name)}", _value(value)) for name, value in body.payload.items()]
    rows += [
        ("Signed as", shown(body.actor)),
        ("With key", shown(body.key_id)),
        ("Time (UTC)", _timestamp(body.timestamp)),
    ]
    origin = getattr(body, "origin", None)
    if origin is not None:
        rows.append(("For the log", shown(str(origin))))
    return rows


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
