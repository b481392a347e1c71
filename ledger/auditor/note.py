"""C2SP signed notes, their verifier keys and Ed25519 signature lines.

A signed note is its text (each line ending in a newline), a blank line, then one line per
signature: ``— NAME BASE64(KEYHASH || SIGNATURE)``. For an Ed25519 key (signature type
0x01) KEYHASH is the first 4 bytes of SHA-256(NAME || 0x0A || 0x01 || PUBLIC_KEY), and the
verifier key is written ``NAME+HEX(KEYHASH)+BASE64(0x01 || PUBLIC_KEY)``. A witness's
cosignature key (type 0x04, ledger/auditor/cosignature.py) and the log's post-quantum
ML-DSA-44 key (a private-use type, ledger/auditor/mldsa.py) are written the same way; a
note may carry a line of each (`NoteSigner.also`), and whoever does not know a key
ignores its line, as C2SP and Go's note.Open say.

Everything here is as strict as C2SP and Go's note.Open, or stricter: no control
characters but newline anywhere in a note; every signature line well formed, whoever
signed it; key names non-empty without spaces, '+' or control characters; integers in
ASCII decimal that re-encode to the same text; base64 keys in their canonical form.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from typing import Protocol

from ledger.auditor.ed25519 import SigningKey, decode_base64, verify_signature
from ledger.auditor.errors import FormatError

ED25519 = b"\x01"
SIGNATURE_PREFIX = "\u2014 "  # an em dash and a space
MAX_NOTE_INTEGER = 2**64 - 1  # sizes are uint64 (C2SP tlog-checkpoint)

_DECIMAL = re.compile(r"0|[1-9][0-9]*", re.ASCII)
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")  # Unicode's control characters (Cc)
_CONTROL_BUT_NEWLINE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")


class NoteError(FormatError):
    """A note, checkpoint or verifier key that is malformed or does not verify."""


def valid_key_name(name: str) -> bool:
    """C2SP: non-empty, no Unicode space, no '+'; and (stricter) no control character."""
    return (
        bool(name)
        and "+" not in name
        and not _CONTROL.search(name)
        and not any(c.isspace() for c in name)
    )


def parse_note_integer(text: str, what: str) -> int:
    """A non-negative integer as a note writes it: ASCII decimal, no sign, no leading zero
    (so `05`, `+5`, ` 5` and Arabic-Indic digits are refused), at most 2**64 - 1."""
    if not _DECIMAL.fullmatch(text) or int(text) > MAX_NOTE_INTEGER:
        raise NoteError(f"{what} must be a decimal integer as a note writes it: {text[:30]!r}")
    return int(text)


def decode_canonical_base64(text: str, what: str) -> bytes:
    """Base64 that re-encodes to the same text (one spelling of each value)."""
    try:
        raw = decode_base64(text, what)
    except FormatError as error:
        raise NoteError(str(error)) from None
    if base64.b64encode(raw).decode() != text:
        raise NoteError(f"{what} is not in canonical base64")
    return raw


def vkey_hash(name: str, key_type: bytes, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + key_type + public_key).digest()[:4]


def key_hash(name: str, public_key: bytes) -> bytes:
    """The key hash of an Ed25519 (type 0x01) note verifier key."""
    return vkey_hash(name, ED25519, public_key)


def encode_vkey(name: str, key_type: bytes, public_key: bytes) -> str:
    blob = base64.b64encode(key_type + public_key).decode()
    return f"{name}+{vkey_hash(name, key_type, public_key).hex()}+{blob}"


def parse_vkey(
    text: str, key_type: bytes, what: str, *, key_size: int = 32, algorithm: str = "Ed25519"
) -> tuple[str, bytes]:
    """The name and raw public key (`key_size` bytes, Ed25519's 32 unless told) of a vkey
    NAME+KEYHASH+BASE64(TYPE || KEY); TYPE may be longer than one byte (0xff ...)."""
    parts = text.strip().split("+", 2)  # the base64 key may itself contain "+"
    if len(parts) != 3 or not valid_key_name(parts[0]):
        raise NoteError(f"a {what} is NAME+KEYHASH+KEY, the name without spaces or '+'")
    name, hash_hex, blob = parts
    if len(hash_hex) != 8 or not all(c in "0123456789abcdef" for c in hash_hex):
        raise NoteError(f"a {what}'s hash is 8 lowercase hex digits")
    raw = decode_canonical_base64(blob, what)
    if len(raw) != len(key_type) + key_size or raw[: len(key_type)] != key_type:
        raise NoteError(f"a {what} must be an {algorithm} key of type 0x{key_type.hex()}")
    public_key = raw[len(key_type) :]
    if vkey_hash(name, key_type, public_key).hex() != hash_hex:
        raise NoteError(f"{what} hash does not match its name and key")
    return name, public_key


@dataclass(frozen=True)
class VerifierKey:
    name: str
    public_key: bytes

    @property
    def key_hash(self) -> bytes:
        return key_hash(self.name, self.public_key)

    @property
    def label(self) -> str:
        """NAME+KEYHASH: how messages name the key."""
        return f"{self.name}+{self.key_hash.hex()}"

    def encode(self) -> str:
        return encode_vkey(self.name, ED25519, self.public_key)

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        return cls(*parse_vkey(text, ED25519, "verifier key"))


def split_note(note: str) -> tuple[str, list[tuple[str, bytes]]]:
    """The text of a signed note and its signatures (name, keyhash || signature), after
    checking that every line is well formed, whoever signed it (C2SP signed-note)."""
    if _CONTROL_BUT_NEWLINE.search(note):
        raise NoteError("a note may not contain control characters (TAB, CR...) but newline")
    text, separator, block = note.rpartition("\n\n")
    if not separator or not block.endswith("\n"):
        raise NoteError("a signed note is text, a blank line, then newline-ended signatures")
    signatures: list[tuple[str, bytes]] = []
    for line in block[:-1].split("\n"):
        name, space, blob = line.removeprefix(SIGNATURE_PREFIX).partition(" ")
        if not line.startswith(SIGNATURE_PREFIX) or not space or not valid_key_name(name):
            raise NoteError(f"malformed signature line: {line[:80]!r}")
        try:
            raw = decode_base64(blob, "note signature")
        except FormatError as error:
            raise NoteError(f"malformed signature line: {error}") from None
        if len(raw) < 5:
            raise NoteError("malformed signature line: the signature is too short")
        signatures.append((name, raw))
    return text + "\n", signatures


def open_note(note: str, verifier: VerifierKey) -> str:
    """Return the note's text if `verifier` signed it; otherwise raise NoteError.

    Signature lines from other keys are ignored (a checkpoint may carry cosignatures),
    but every line must be well formed."""
    text, signatures = split_note(note)
    for name, raw in signatures:
        if name != verifier.name or len(raw) != 4 + 64 or raw[:4] != verifier.key_hash:
            continue
        if verify_signature(verifier.public_key, raw[4:], text.encode()):
            return text
        raise NoteError(f"the signature by {name} does not verify")
    raise NoteError(f"the note carries no signature by {verifier.name}")


class LineSigner(Protocol):
    """Anything that adds one more signature line to a note: the log's post-quantum key
    (ledger/auditor/mldsa.py's PQSigner)."""

    def signature_line(self, text: str) -> str: ...


@dataclass(frozen=True)
class NoteSigner:
    """Signs notes as `name` with a private key its owner holds (ledger.keys.KeyPair).

    `also`: signers whose lines `sign_note` adds after this key's own (the log's
    ML-DSA-44 key, for its checkpoints: ledger.service.Ledger.checkpoint_signer).
    `signature_line` is only ever this Ed25519 key's line."""

    name: str
    key: SigningKey
    also: tuple[LineSigner, ...] = ()

    def __post_init__(self) -> None:
        if not valid_key_name(self.name):
            raise NoteError(f"note signer name {self.name!r} must be non-empty, no spaces or '+'")

    @property
    def verifier(self) -> VerifierKey:
        return VerifierKey(self.name, self.key.public_key)

    def signature_line(self, text: str) -> str:
        signature = self.key.sign(text.encode())
        blob = base64.b64encode(self.verifier.key_hash + signature).decode()
        return f"{SIGNATURE_PREFIX}{self.name} {blob}\n"


def sign_note(text: str, signer: NoteSigner) -> str:
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    extra = "".join(other.signature_line(text) for other in signer.also)
    return text + "\n" + signer.signature_line(text) + extra
