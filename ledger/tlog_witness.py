"""The wire format of C2SP tlog-witness `add-checkpoint`: how a log asks a witness to
cosign a checkpoint, and how the witness answers. Pure: no I/O, no keys.

    POST <witness URL>/add-checkpoint

    old <size>\\n                       the size the witness last cosigned (0: never)
    <base64 hash>\\n ...                 the RFC 6962/9162 consistency proof from it, at most 63
    \\n                                  an empty line
    <the checkpoint, a signed note>

The witness answers 200 with its cosignature signature line(s) (each "— NAME BASE64\\n"),
or 409 Conflict with Content-Type text/x.tlog.size and the size it has cosigned ("N\\n"),
so the log can retry once from there; 403, 404, 422 and 400 carry no body anyone parses.
Who checks what (signatures, sizes, the proof) is api/cli/witness.py (the witness) and
api/application/witness_push.py (the log).

Why strict: both sides read what the other, possibly hostile or buggy, side sent. Every
parser here accepts one spelling of each message and refuses anything else with
WireFormatError, so a witness never cosigns what it misread, and a log never stores a
cosignature it cut out of a larger or differently framed answer. Sizes are written as
a signed note writes integers (ledger/auditor/note.py: ASCII decimal, no leading zero,
at most 2**64 - 1), hashes in canonical base64 of exactly 32 bytes.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass

from ledger.auditor.merkle import HASH_SIZE
from ledger.auditor.note import (
    SIGNATURE_PREFIX,
    NoteError,
    decode_canonical_base64,
    parse_note_integer,
    split_note,
)

#: The spec's bound on consistency proof lines (a proof in a tree of 2**64 leaves).
MAX_PROOF_LINES = 63
#: The media type of a 409 answer's body: the witness's latest cosigned size.
SIZE_CONTENT_TYPE = "text/x.tlog.size"
#: The largest request or answer either side reads: a checkpoint with a handful of
#: signatures and 63 proof lines is a few KiB; anything much larger is not this protocol.
MAX_MESSAGE_BYTES = 64 * 1024


class WireFormatError(ValueError):
    """A tlog-witness message that is not exactly what the spec says (HTTP 400)."""


@dataclass(frozen=True)
class AddCheckpoint:
    """A parsed add-checkpoint request: old size, consistency proof, checkpoint note."""

    old_size: int
    proof: tuple[bytes, ...]
    checkpoint: str


def _text(body: bytes, what: str) -> str:
    if len(body) > MAX_MESSAGE_BYTES:
        raise WireFormatError(f"{what} is larger than {MAX_MESSAGE_BYTES} bytes")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise WireFormatError(f"{what} is not UTF-8") from None


def _size(text: str, what: str) -> int:
    try:
        return parse_note_integer(text, what)
    except NoteError as error:
        raise WireFormatError(str(error)) from None


def _check_note(note: str) -> None:
    """A well-formed signed note (whoever signed it: that is the witness's check)."""
    if note.startswith("\n"):
        raise WireFormatError("one empty line separates the proof from the checkpoint")
    try:
        split_note(note)
    except NoteError as error:
        raise WireFormatError(f"the checkpoint is not a signed note: {error}") from None


def build_add_checkpoint(old_size: int, proof: Sequence[bytes], checkpoint: str) -> bytes:
    """The body of an add-checkpoint request. Refuses what a witness would have to refuse
    (a proof from size 0, too many or mis-sized hashes, a malformed note), so a log's
    mistake is caught where it is made rather than as an opaque 400 from a witness."""
    if not 0 <= old_size <= 2**64 - 1:
        raise WireFormatError(f"old size {old_size} is not a uint64")
    if old_size == 0 and proof:
        raise WireFormatError("the consistency proof from size 0 is empty")
    if len(proof) > MAX_PROOF_LINES:
        raise WireFormatError(f"a consistency proof has at most {MAX_PROOF_LINES} hashes")
    if any(len(h) != HASH_SIZE for h in proof):
        raise WireFormatError(f"a consistency proof's hashes are {HASH_SIZE} bytes")
    _check_note(checkpoint)
    lines = [f"old {old_size}", *(base64.b64encode(h).decode() for h in proof), ""]
    return ("\n".join(lines) + "\n" + checkpoint).encode()


def parse_add_checkpoint(body: bytes) -> AddCheckpoint:
    """The request a witness was sent; WireFormatError (answer 400) for anything else.

    Which checks are NOT made here, because the spec gives them other answers: whether
    the note's signature is by a known key (403/404), whether the old size is the one
    the witness has (409), whether the proof verifies (422; a proof from size 0 must be
    empty, which is the verifier's rule too)."""
    text = _text(body, "the request")
    head, separator, checkpoint = text.partition("\n\n")
    if not separator:
        raise WireFormatError("the request has no empty line before the checkpoint")
    lines = head.split("\n")
    if not lines[0].startswith("old "):
        raise WireFormatError("the request starts with 'old <size>'")
    old_size = _size(lines[0][4:], "the old size")
    hashes = lines[1:]
    if len(hashes) > MAX_PROOF_LINES:
        raise WireFormatError(f"a consistency proof has at most {MAX_PROOF_LINES} lines")
    proof: list[bytes] = []
    for number, line in enumerate(hashes, start=1):
        try:
            raw = decode_canonical_base64(line, f"consistency proof line {number}")
        except NoteError as error:
            raise WireFormatError(str(error)) from None
        if len(raw) != HASH_SIZE:
            raise WireFormatError(f"consistency proof line {number} is not a {HASH_SIZE}-byte hash")
        proof.append(raw)
    _check_note(checkpoint)
    return AddCheckpoint(old_size, tuple(proof), checkpoint)


def build_cosignatures(lines: Sequence[str]) -> bytes:
    """A 200 answer's body: the witness's signature lines, each newline-terminated."""
    if not lines:
        raise WireFormatError("a witness answers at least one cosignature")
    for line in lines:
        _check_signature_line(line)
    return "".join(line + "\n" for line in lines).encode()


def parse_cosignatures(body: bytes) -> list[str]:
    """The signature lines (without their newlines) of a witness's 200 answer. Each must
    be a well-formed note signature line; which ones are by the witness's key, and valid,
    is for the caller (ledger/auditor/cosignature.py open_cosignature)."""
    text = _text(body, "the witness's answer")
    if not text.endswith("\n"):
        raise WireFormatError("the witness's answer is newline-terminated signature lines")
    lines = text[:-1].split("\n")
    for line in lines:
        _check_signature_line(line)
    return lines


def _check_signature_line(line: str) -> None:
    if "\n" in line or not line.startswith(SIGNATURE_PREFIX):
        raise WireFormatError(f"not a note signature line: {line[:80]!r}")
    try:
        split_note("x\n\n" + line + "\n")
    except NoteError as error:
        raise WireFormatError(str(error)) from None


def build_size(size: int) -> bytes:
    """A 409 answer's body (Content-Type text/x.tlog.size): the size the witness has."""
    if not 0 <= size <= 2**64 - 1:
        raise WireFormatError(f"size {size} is not a uint64")
    return f"{size}\n".encode()


def is_size_type(content_type: str | None) -> bool:
    """Whether a Content-Type header names text/x.tlog.size (media types are
    case-insensitive; parameters such as a charset are allowed and ignored)."""
    if content_type is None:
        return False
    return content_type.split(";", 1)[0].strip().lower() == SIZE_CONTENT_TYPE


def parse_size(body: bytes) -> int:
    """The size in a 409 answer: one decimal integer and a newline, nothing else."""
    text = _text(body, "the witness's size")
    if not text.endswith("\n") or "\n" in text[:-1]:
        raise WireFormatError("the witness's size is one line: a decimal and a newline")
    return _size(text[:-1], "the witness's size")
