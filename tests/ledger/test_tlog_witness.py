"""The C2SP tlog-witness wire format (ledger/tlog_witness.py): what a log sends a witness
and what the witness answers, each in exactly one spelling."""

from __future__ import annotations

import base64
import hashlib

import pytest

from ledger.auditor.checkpoint import Checkpoint
from ledger.auditor.cosignature import Cosigner
from ledger.auditor.note import NoteSigner
from ledger.keys import KeyPair
from ledger.tlog_witness import (
    MAX_MESSAGE_BYTES,
    MAX_PROOF_LINES,
    AddCheckpoint,
    WireFormatError,
    build_add_checkpoint,
    build_cosignatures,
    build_size,
    is_size_type,
    parse_add_checkpoint,
    parse_cosignatures,
    parse_size,
)

ORIGIN = "example.com/behind-the-sofa"
LOG = NoteSigner(ORIGIN, KeyPair.generate())
NOTE = Checkpoint(ORIGIN, 20852163, hashlib.sha256(b"root").digest()).sign(LOG)
PROOF = [hashlib.sha256(bytes([i])).digest() for i in range(4)]
WITNESS = Cosigner("witness.example/w1", KeyPair.generate())


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def test_a_request_is_old_size_proof_lines_an_empty_line_and_the_checkpoint() -> None:
    body = build_add_checkpoint(20852014, PROOF, NOTE)
    expected = "old 20852014\n" + "".join(_b64(h) + "\n" for h in PROOF) + "\n" + NOTE
    assert body == expected.encode()
    assert parse_add_checkpoint(body) == AddCheckpoint(20852014, tuple(PROOF), NOTE)
    empty = build_add_checkpoint(0, [], NOTE)
    assert empty == f"old 0\n\n{NOTE}".encode()
    assert parse_add_checkpoint(empty) == AddCheckpoint(0, (), NOTE)


def test_a_checkpoint_with_several_signatures_is_kept_whole() -> None:
    cosigned = NOTE + WITNESS.cosign(NOTE.rpartition("\n\n")[0] + "\n", 1) + "\n"
    assert parse_add_checkpoint(build_add_checkpoint(3, PROOF[:1], cosigned)).checkpoint == (
        cosigned
    )


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"old 05\n\n", "decimal"),
        (b"old -1\n\n", "decimal"),
        (b"old 1\r\n\n", "decimal"),
        (b"old  1\n\n", "decimal"),
        (b"old 18446744073709551616\n\n", "decimal"),
        (b"OLD 1\n\n", "starts with"),
        (b"1\n\n", "starts with"),
        (b"old 1\n", "base64"),  # the note's own lines read as proof lines
        (b"old 1\nnot-base64!\n\n", "base64"),
        (b"old 1\n" + _b64(b"short").encode() + b"\n\n", "32-byte"),
        (b"old 1\n" + _b64(PROOF[0]).rstrip("=").encode() + b"\n\n", "base64"),
        (b"\xff\xfe", "UTF-8"),
        (b"old 1\n" + b"x" * MAX_MESSAGE_BYTES, "larger"),
    ],
)
def test_a_malformed_request_is_refused(body: bytes, says: str) -> None:
    with pytest.raises(WireFormatError, match=says):
        parse_add_checkpoint(body + NOTE.encode())


def test_the_checkpoint_must_be_a_well_formed_note_after_exactly_one_empty_line() -> None:
    with pytest.raises(WireFormatError, match="no empty line"):
        parse_add_checkpoint(b"old 1\n")
    with pytest.raises(WireFormatError, match="one empty line"):
        parse_add_checkpoint(b"old 0\n\n\n" + NOTE.encode())
    with pytest.raises(WireFormatError, match="signed note"):
        parse_add_checkpoint(b"old 0\n\nexample.com/log\n1\n")  # no signature
    with pytest.raises(WireFormatError, match="signed note"):
        parse_add_checkpoint(b"old 0\n\n" + NOTE.replace("\u2014", "-").encode())
    with pytest.raises(WireFormatError, match="signed note"):
        parse_add_checkpoint(b"old 0\n\n" + NOTE.encode().replace(b"\n", b"\r\n", 1))


def test_at_most_63_proof_lines() -> None:
    hashes = [PROOF[0]] * (MAX_PROOF_LINES + 1)
    head = "old 9\n" + "".join(_b64(h) + "\n" for h in hashes) + "\n"
    with pytest.raises(WireFormatError, match="at most 63"):
        parse_add_checkpoint(head.encode() + NOTE.encode())
    with pytest.raises(WireFormatError, match="at most 63"):
        build_add_checkpoint(9, hashes, NOTE)
    assert len(parse_add_checkpoint(build_add_checkpoint(9, hashes[:-1], NOTE)).proof) == 63


def test_the_builder_refuses_what_a_witness_would() -> None:
    with pytest.raises(WireFormatError, match="from size 0 is empty"):
        build_add_checkpoint(0, PROOF, NOTE)
    with pytest.raises(WireFormatError, match="32 bytes"):
        build_add_checkpoint(1, [b"short"], NOTE)
    with pytest.raises(WireFormatError, match="uint64"):
        build_add_checkpoint(-1, [], NOTE)
    with pytest.raises(WireFormatError, match="signed note"):
        build_add_checkpoint(1, [], "not a note")


def test_a_200_answer_is_newline_ended_signature_lines() -> None:
    lines = [WITNESS.cosign("a\n", 1), WITNESS.cosign("a\n", 2)]
    body = build_cosignatures(lines)
    assert body == (lines[0] + "\n" + lines[1] + "\n").encode()
    assert parse_cosignatures(body) == lines
    for bad in (
        b"",
        lines[0].encode(),  # no final newline
        (lines[0] + "\n\n").encode(),  # an empty line
        (lines[0] + "\r\n").encode(),
        b"- witness.example/w1 AAAAAAAA\n",  # a hyphen, not an em dash
        "\u2014 witness.example/w1\n".encode(),  # no signature
        "\u2014 witness.example/w1 !!!!\n".encode(),
        "\u2014 a+b AAAAAAAA\n".encode(),  # not a key name
    ):
        with pytest.raises(WireFormatError):
            parse_cosignatures(bad)
    with pytest.raises(WireFormatError):
        build_cosignatures([])
    with pytest.raises(WireFormatError):
        build_cosignatures(["not a line"])


def test_a_409_size_is_one_decimal_line_of_its_media_type() -> None:
    assert build_size(7) == b"7\n"
    assert parse_size(b"7\n") == 7 and parse_size(b"0\n") == 0
    for bad in (b"7", b"07\n", b"7\n\n", b" 7\n", b"7 \n", b"-1\n", b"\n", b"seven\n"):
        with pytest.raises(WireFormatError):
            parse_size(bad)
    assert is_size_type("text/x.tlog.size")
    assert is_size_type("Text/X.Tlog.Size; charset=utf-8")
    assert not is_size_type("text/plain") and not is_size_type(None)
    assert not is_size_type("text/x.tlog.sizes")
