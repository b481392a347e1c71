"""The signed entry: the exact bytes an actor signs, stores and the log hashes.

Body (what is signed) is the RFC 8785 canonical JSON object::

    {"actor": USER, "aggregate_id": UUID, "format": "inquiry-ledger/event/v2",
     "key_id": KEYID, "origin": LOG, "payload": {...},
     "timestamp": "YYYY-MM-DDTHH:MM:SS.ffffffZ", "type": TYPE, "version": N}

The signature is Ed25519 over those canonical bytes. The entry (what is stored in the
event store's ``state`` column, and what the Merkle leaf hashes) is the same object with
one more member, ``"signature": BASE64``, again canonical. ``format`` is inside the
signed bytes, so a signature over an entry cannot be replayed as any other statement;
``origin`` (v2) names the log the actor meant it for, so an entry signed on one ledger (a
training copy, say) cannot be appended to another: action ids and user ids are the same
everywhere, the origin is not. v1 bodies had no origin and are no longer accepted.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from ledger.auditor.canonical import CanonicalFormError, canonical_bytes, parse_canonical
from ledger.auditor.ed25519 import SIGNATURE_SIZE, SigningKey, decode_base64, key_id_for
from ledger.auditor.errors import FormatError

FORMAT = "inquiry-ledger/event/v2"
GENESIS_TYPE = "ledger.created"  # domain.Directory.Created: the log's self-signed first entry
BODY_MEMBERS = frozenset(
    {
        "actor",
        "aggregate_id",
        "format",
        "key_id",
        "origin",
        "payload",
        "timestamp",
        "type",
        "version",
    }
)
ENTRY_MEMBERS = BODY_MEMBERS | {"signature"}


class EntryFormatError(FormatError):
    """Bytes or values that are not a well-formed signed entry."""


def format_timestamp(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise EntryFormatError("timestamps must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z", re.ASCII)


def parse_timestamp(text: str) -> datetime:
    """Exactly YYYY-MM-DDTHH:MM:SS.ffffffZ (the pattern makes the form canonical; the C
    parser checks the calendar; strptime, ten times slower, dominated verification)."""
    if not isinstance(text, str) or not _TIMESTAMP.fullmatch(text):
        raise EntryFormatError(f"timestamp must be YYYY-MM-DDTHH:MM:SS.ffffffZ: {text!r}")
    try:
        return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)
    except ValueError:
        raise EntryFormatError(f"timestamp is not a real date and time: {text!r}") from None


@dataclass(frozen=True)
class EventBody:
    """The statement an actor signs."""

    type: str
    aggregate_id: UUID
    version: int
    timestamp: datetime
    actor: str
    key_id: str
    payload: dict[str, Any]
    origin: str

    def to_json(self) -> dict[str, Any]:
        return {
            "actor": self.actor,
            "aggregate_id": str(self.aggregate_id),
            "format": FORMAT,
            "key_id": self.key_id,
            "origin": self.origin,
            "payload": self.payload,
            "timestamp": format_timestamp(self.timestamp),
            "type": self.type,
            "version": self.version,
        }

    def signing_bytes(self) -> bytes:
        try:
            return canonical_bytes(self.to_json())
        except CanonicalFormError as error:
            raise EntryFormatError(str(error)) from None

    @classmethod
    def from_json(cls, obj: Any) -> EventBody:
        if not isinstance(obj, dict) or set(obj) != BODY_MEMBERS:
            raise EntryFormatError(f"an event body has exactly the members {sorted(BODY_MEMBERS)}")
        if obj["format"] != FORMAT:
            raise EntryFormatError(f"unknown entry format {obj['format']!r}")
        for name in ("type", "actor", "key_id", "aggregate_id", "origin"):
            if not isinstance(obj[name], str):
                raise EntryFormatError(f"{name} must be a string")
        version = obj["version"]
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise EntryFormatError("version must be a positive integer")
        if not isinstance(obj["payload"], dict):
            raise EntryFormatError("payload must be an object")
        try:
            aggregate_id = UUID(obj["aggregate_id"])
        except ValueError:
            raise EntryFormatError("aggregate_id must be a UUID") from None
        if str(aggregate_id) != obj["aggregate_id"]:
            raise EntryFormatError("aggregate_id must be a lowercase hyphenated UUID")
        return cls(
            type=obj["type"],
            aggregate_id=aggregate_id,
            version=version,
            timestamp=parse_timestamp(obj["timestamp"]),
            actor=obj["actor"],
            key_id=obj["key_id"],
            payload=obj["payload"],
            origin=obj["origin"],
        )


@dataclass(frozen=True)
class SignedEntry:
    """A body and its actor's signature: the unit the ledger appends."""

    body: EventBody
    signature: bytes

    @classmethod
    def sign(cls, body: EventBody, key: SigningKey) -> SignedEntry:
        key_id = key_id_for(key.public_key)
        if body.key_id != key_id:
            raise EntryFormatError(f"body names key {body.key_id} but is signed with {key_id}")
        return cls(body, key.sign(body.signing_bytes()))

    def to_json(self) -> dict[str, Any]:
        obj = self.body.to_json()
        obj["signature"] = base64.b64encode(self.signature).decode("ascii")
        return obj

    def entry_bytes(self) -> bytes:
        try:
            return canonical_bytes(self.to_json())
        except CanonicalFormError as error:
            raise EntryFormatError(str(error)) from None

    @classmethod
    def from_json(cls, obj: Any) -> SignedEntry:
        if not isinstance(obj, dict) or set(obj) != ENTRY_MEMBERS:
            raise EntryFormatError(f"an entry has exactly the members {sorted(ENTRY_MEMBERS)}")
        signature_text = obj["signature"]
        try:
            signature = decode_base64(signature_text, "signature")
        except FormatError as error:
            raise EntryFormatError(str(error)) from None
        if len(signature) != SIGNATURE_SIZE:
            raise EntryFormatError("an Ed25519 signature is 64 bytes")
        if base64.b64encode(signature).decode("ascii") != signature_text:
            raise EntryFormatError("signature is not in canonical base64")
        body = EventBody.from_json({k: v for k, v in obj.items() if k != "signature"})
        return cls(body, signature)

    @classmethod
    def from_entry_bytes(cls, data: bytes) -> SignedEntry:
        """Parse stored bytes, refusing anything that is not exactly canonical."""
        try:
            obj = parse_canonical(data)
        except CanonicalFormError as error:
            raise EntryFormatError(str(error)) from None
        return cls.from_json(obj)


def entry_bytes_from_body(body_bytes: bytes, signature: bytes) -> bytes:
    """The canonical entry, from its body's canonical bytes and the signature.

    In canonical order "signature" sorts between "payload" and "timestamp", so the entry
    is the body with one member inserted before the top-level timestamp: the *last*
    ``,"timestamp":"`` of the body (a payload may have its own timestamp member, which
    comes earlier; only "type" and "version" follow the top-level one, and a raw quote
    after a comma can never occur inside a JSON string). Equal to
    ``SignedEntry(body, signature).entry_bytes()`` without canonicalising twice."""
    at = body_bytes.rfind(b',"timestamp":"')
    if at < 0:
        raise EntryFormatError("an event body has a top-level timestamp member")
    member = b',"signature":"' + base64.b64encode(signature) + b'"'
    return body_bytes[:at] + member + body_bytes[at:]


def signing_bytes(line: bytes, signature_text: str) -> bytes:
    """The signed body of a canonical entry line: the line without its signature member.

    Members are sorted, so the top-level "signature" member is the one directly before
    "timestamp" and after the payload's closing brace: the last such occurrence (a raw
    quote after a comma never occurs inside a JSON string). Only valid for a line already
    proven canonical; it saves canonicalising the body again. The inverse of
    `entry_bytes_from_body`."""
    member = b',"signature":"' + signature_text.encode() + b'"'
    at = line.rfind(member + b',"timestamp":"')
    if at < 0:
        raise EntryFormatError("the signature member is not where the canonical form puts it")
    return line[:at] + line[at + len(member) :]


def signed_message(line: bytes, entry: SignedEntry) -> bytes:
    """What `entry`'s signature signs, cut out of `line`, the canonical bytes it was parsed
    from (SignedEntry.from_entry_bytes proves them canonical, its signature base64 too)."""
    return signing_bytes(line, base64.b64encode(entry.signature).decode("ascii"))
