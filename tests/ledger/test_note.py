"""Tests for ledger.auditor.note and .checkpoint: C2SP signed notes, checkpoints and verifier keys.

Known-answer vectors (all copied verbatim, none made up here):

* golang.org/x/mod, sumdb/note/note_test.go (TestNewVerifier, TestSign, TestOpen) and the
  package documentation in sumdb/note/note.go: the PeterNeumann and EnochRoot keys, the
  PeterNeumann private key, and the signed note "If you think cryptography is the answer
  to your problem, ..." with both signatures; the malformed-note list of TestOpen.
* golang/go, src/cmd/go/internal/modfetch/key.go: the verifier key of sum.golang.org,
  "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8".
* sigsum/sigsum-go, pkg/checkpoint/checkpoint_test.go (TestGoSumDBCheckpoint): a
  checkpoint "Retrieved from https://sum.golang.org/latest, 2024-09-23".
* The signed-note example "This is an example message." under the key
  example.com/foo+530d903a+..., as quoted from c2sp.org/signed-note by several
  independent implementations (the stored copies of the spec I could read do not show
  it; the signature verifies under the key, so the vector is genuine).
"""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.auditor.checkpoint import Checkpoint
from ledger.auditor.note import NoteError, NoteSigner, VerifierKey, key_hash, open_note, sign_note
from ledger.keys import KeyPair

# -- golang.org/x/mod/sumdb/note vectors ------------------------------------------------
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_B64 = (
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
)
PETER_SIG = f"\u2014 PeterNeumann {PETER_B64}\n"
ENOCH_SIG = (
    "\u2014 EnochRoot "
    "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"
)

# -- golang/go src/cmd/go/internal/modfetch/key.go ---------------------------------------
SUMDB_VKEY = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"

# -- sigsum/sigsum-go pkg/checkpoint/checkpoint_test.go (from sum.golang.org/latest) ----
SUMDB_CHECKPOINT = (
    "go.sum database tree\n"
    "30055305\n"
    "mXfgRcJ0bG0j3CPdKwgGWtUzBUbX67saZGRmFuJGGsM=\n"
    "\n"
    "\u2014 sum.golang.org "
    "Az3grpgEild5qw7+5dtV13Kf1C2Xurm8q4fhdxvcsDHnqNTaxL2AFjBY+2TyGKevucFcAAlWFJJYle3EJlDCrQ+y3A8=\n"
)

# -- c2sp.org/signed-note example (see the module docstring) -----------------------------
C2SP_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
C2SP_NOTE = (
    "This is an example message.\n"
    "\n"
    "\u2014 example.com/foo "
    "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)

ORIGIN = "test.example/ledger"


def keypair(seed: int) -> KeyPair:
    """A deterministic Ed25519 key, so the mutation tests below are reproducible."""
    return KeyPair(Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32))


def go_signer() -> NoteSigner:
    """The Go test's PeterNeumann signer, from its published private key.

    A Go signer key is PRIVATE+KEY+NAME+HASH+BASE64(0x01 || 32-byte seed)."""
    _, _, name, hash_hex, blob = PETER_SKEY.split("+", 4)
    raw = base64.b64decode(blob)
    assert raw[0] == 1 and len(raw) == 33
    signer = NoteSigner(name, KeyPair(Ed25519PrivateKey.from_private_bytes(raw[1:])))
    assert signer.verifier.key_hash.hex() == hash_hex
    return signer


def checkpoint(size: int = 42) -> Checkpoint:
    return Checkpoint(ORIGIN, size, hashlib.sha256(f"root {size}".encode()).digest())


# --------------------------------------------------------------------------------------
# Sign and verify.


@pytest.mark.parametrize("size", [0, 1, 42, 2**40])
def test_a_signed_checkpoint_verifies_with_its_verifier_key(size: int) -> None:
    signer = NoteSigner(ORIGIN, keypair(1))
    cp = checkpoint(size)
    note = cp.sign(signer)
    assert note.startswith(cp.body() + "\n\u2014 " + ORIGIN + " ")
    assert note.endswith("\n")
    assert Checkpoint.verify(note, signer.verifier) == cp
    # through the textual verifier key as well
    assert Checkpoint.verify(note, VerifierKey.parse(signer.verifier.encode())) == cp
    assert open_note(note, signer.verifier) == cp.body()


def _mutants(data: bytes, positions: range) -> list[tuple[int, bytes]]:
    out = []
    for i in positions:
        for new in {data[i] ^ 0x01, data[i] ^ 0x20, (data[i] + 1) % 256}:
            out.append((i, data[:i] + bytes([new]) + data[i + 1 :]))
    return out


def _decoded_signature(note: str) -> bytes | None:
    """The decoded signature blob of the note's last line, if it decodes."""
    line = note.rstrip("\n").rpartition("\n")[2]
    try:
        return base64.b64decode(line.rpartition(" ")[2], validate=True)
    except ValueError:
        return None


def test_every_modified_byte_of_body_or_signature_is_refused() -> None:
    signer = NoteSigner(ORIGIN, keypair(2))
    note = checkpoint(7).sign(signer)
    data = note.encode()
    original_signature = _decoded_signature(note)
    tried = 0
    # Every byte except the note's final newline (that one is checked separately below).
    for i, mutated in _mutants(data, range(len(data) - 1)):
        try:
            text = mutated.decode("utf-8")
        except UnicodeDecodeError:
            continue  # not even text: it cannot be presented as a note
        if i >= len(data) - 10 and _decoded_signature(text) == original_signature:
            # Only the unused low bits of the final base64 character changed: the same
            # signature bytes, spelled differently (Go's base64.StdEncoding accepts that
            # too). Not a modification of the signature.
            continue
        tried += 1
        with pytest.raises(NoteError):
            Checkpoint.verify(text, signer.verifier)
    assert tried > 2 * len(data)


@pytest.mark.parametrize(
    "ending",
    ["", "\x0b", "\r", "\x1c", "\u2028", "\n\n", "\n\n\n"],
    ids=repr,
)
def test_the_signature_block_ends_with_exactly_one_newline(ending: str) -> None:
    # c2sp.org/signed-note, Format: each signature line ends in a newline (U+000A), and
    # the note has no ASCII control characters but newline. Go's Open refuses a note
    # whose signature block does not end in "\n" (TestOpen's malformed notes).
    signer = NoteSigner(ORIGIN, keypair(3))
    note = checkpoint().sign(signer)
    assert note.endswith("\n")
    with pytest.raises(NoteError):
        open_note(note[:-1] + ending, signer.verifier)


@pytest.mark.parametrize("control", ["\x00", "\t", "\x1b"])
def test_a_note_with_control_characters_is_refused(control: str) -> None:
    # c2sp.org/signed-note, Format: "Signed notes MUST be valid UTF-8 and MUST NOT contain
    # any ASCII control characters (those below U+0020) other than newline."
    signer = NoteSigner(ORIGIN, keypair(4))
    text = f"{ORIGIN}\n7\nab{control}cd\n"
    try:
        note = sign_note(text, signer)
    except NoteError:
        return  # refusing to sign such a text is just as good
    with pytest.raises(NoteError):
        open_note(note, signer.verifier)


def test_a_note_signed_by_another_key_is_refused() -> None:
    signer = NoteSigner(ORIGIN, keypair(5))
    impostor_same_name = NoteSigner(ORIGIN, keypair(6))
    impostor_other_name = NoteSigner("evil.example/log", keypair(5))
    for impostor in (impostor_same_name, impostor_other_name):
        note = checkpoint().sign(impostor)
        with pytest.raises(NoteError):
            Checkpoint.verify(note, signer.verifier)
        assert Checkpoint.verify(note, impostor.verifier) == checkpoint()


def test_a_note_without_signatures_is_refused() -> None:
    signer = NoteSigner(ORIGIN, keypair(7))
    body = checkpoint().body()
    for note in (body, body + "\n", body + "\n\n"):
        with pytest.raises(NoteError):
            Checkpoint.verify(note, signer.verifier)


def test_cosignature_lines_by_other_names_or_keys_are_ignored() -> None:
    signer = NoteSigner(ORIGIN, keypair(8))
    witness = NoteSigner("witness.example/w1", keypair(9))
    same_name_other_key = NoteSigner(ORIGIN, keypair(10))
    body = checkpoint().body()
    ours = signer.signature_line(body)
    others = [witness.signature_line(body), same_name_other_key.signature_line(body)]
    for lines in ([ours, *others], [*others, ours], [others[0], ours, others[1]]):
        note = body + "\n" + "".join(lines)
        assert Checkpoint.verify(note, signer.verifier) == checkpoint()
        assert Checkpoint.verify(note, witness.verifier) == checkpoint()
    # An unknown key's signature over other text does not matter either.
    foreign = witness.signature_line("some other text\n")
    assert Checkpoint.verify(body + "\n" + foreign + ours, signer.verifier) == checkpoint()


def test_a_bad_signature_by_the_known_key_is_refused_even_beside_a_good_one() -> None:
    signer = NoteSigner(ORIGIN, keypair(11))
    body = checkpoint().body()
    bad = signer.signature_line("a different text\n")  # right key hash, wrong signature
    with pytest.raises(NoteError):
        Checkpoint.verify(body + "\n" + bad, signer.verifier)


@pytest.mark.parametrize(
    "body",
    [
        "\n7\n" + base64.b64encode(bytes(32)).decode() + "\n",  # empty origin
        f"{ORIGIN}\n07\n" + base64.b64encode(bytes(32)).decode() + "\n",  # leading zero
        f"{ORIGIN}\n-7\n" + base64.b64encode(bytes(32)).decode() + "\n",
        f"{ORIGIN}\nseven\n" + base64.b64encode(bytes(32)).decode() + "\n",
        f"{ORIGIN}\n7\n" + base64.b64encode(bytes(31)).decode() + "\n",
        f"{ORIGIN}\n7\nnot base64!\n",
        f"{ORIGIN}\n7\n",
    ],
)
def test_malformed_checkpoint_bodies_are_refused(body: str) -> None:
    signer = NoteSigner(ORIGIN, keypair(12))
    with pytest.raises(NoteError):
        Checkpoint.verify(sign_note(body, signer), signer.verifier)


def test_sign_note_needs_a_final_newline_and_a_valid_name() -> None:
    with pytest.raises(NoteError):
        sign_note("no newline", NoteSigner(ORIGIN, keypair(13)))
    for name in ("", "has space", "has+plus", "tab\tname"):
        with pytest.raises(NoteError):
            NoteSigner(name, keypair(13))


# --------------------------------------------------------------------------------------
# Verifier keys.

key_names = st.text(
    st.characters(exclude_categories=("Cs", "Zs", "Zl", "Zp", "Cc"), exclude_characters="+"),
    min_size=1,
    max_size=20,
).filter(lambda s: not any(c.isspace() for c in s))


@settings(max_examples=200, deadline=None)
@given(key_names, st.binary(min_size=32, max_size=32))
def test_verifier_key_encode_parse_round_trip(name: str, public_key: bytes) -> None:
    key = VerifierKey(name, public_key)
    text = key.encode()
    assert VerifierKey.parse(text) == key
    # the format of golang.org/x/mod/sumdb/note NewEd25519VerifierKey
    digest = hashlib.sha256(name.encode() + b"\n\x01" + public_key).digest()[:4]
    blob = base64.b64encode(b"\x01" + public_key).decode()
    assert text == f"{name}+{digest.hex()}+{blob}"


def test_round_trip_of_a_key_whose_base64_contains_plus() -> None:
    public_key = base64.b64decode("Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8")[1:]
    key = VerifierKey("test.example/log", public_key)
    assert "+" in key.encode().split("+", 2)[2]
    assert VerifierKey.parse(key.encode()) == key


def _go_manglings(vkey: str) -> list[str]:
    """TestNewVerifier in golang.org/x/mod/sumdb/note: every proper substring of the key
    and every single-byte increment must be refused."""
    out = {vkey[i:j] for i in range(len(vkey) + 1) for j in range(i + 1, len(vkey) + 1)}
    out.discard(vkey)
    out |= {vkey[:i] + chr(ord(vkey[i]) + 1) + vkey[i + 1 :] for i in range(len(vkey))}
    return sorted(out)


def test_go_verifier_key_manglings_are_refused() -> None:
    accepted = []
    for mangled in _go_manglings(PETER_VKEY):
        try:
            VerifierKey.parse(mangled)
        except NoteError:
            continue
        accepted.append(mangled)
    assert accepted == []


@pytest.mark.parametrize(
    "vkey",
    [
        # golang.org/x/mod sumdb/note TestNewVerifier:
        # wrong length key, with adjusted key hash
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        # unknown algorithm, with adjusted key hash
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        # and some of our own
        "",
        "PeterNeumann",
        "PeterNeumann+c74f20a3",
        "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW==",
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq_LDE4izWy10TW",
        "PeterNeumann+c74f20+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3+",
        "PeterNeumann+xyz+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f 20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ],
)
def test_malformed_verifier_keys_are_refused(vkey: str) -> None:
    with pytest.raises(NoteError):
        VerifierKey.parse(vkey)


# --------------------------------------------------------------------------------------
# Known answers from Go and from sum.golang.org.


def test_go_sumdb_verifier_key_parses_with_our_key_hash() -> None:
    # golang/go src/cmd/go/internal/modfetch/key.go; its base64 contains "+".
    key = VerifierKey.parse(SUMDB_VKEY)
    assert key.name == "sum.golang.org"
    assert key.key_hash.hex() == "033de0ae"
    assert key_hash(key.name, key.public_key) == bytes.fromhex("033de0ae")
    assert key.encode() == SUMDB_VKEY


def test_a_real_sum_golang_org_checkpoint_verifies() -> None:
    cp = Checkpoint.verify(SUMDB_CHECKPOINT, VerifierKey.parse(SUMDB_VKEY))
    assert cp.origin == "go.sum database tree"
    assert cp.size == 30055305
    assert cp.root_hash == base64.b64decode("mXfgRcJ0bG0j3CPdKwgGWtUzBUbX67saZGRmFuJGGsM=")
    tampered = SUMDB_CHECKPOINT.replace("30055305", "30055306")
    with pytest.raises(NoteError):
        Checkpoint.verify(tampered, VerifierKey.parse(SUMDB_VKEY))


@pytest.mark.parametrize(("vkey", "hash_hex"), [(PETER_VKEY, "c74f20a3"), (ENOCH_VKEY, "af0cfe78")])
def test_go_verifier_keys_parse_and_encode_back(vkey: str, hash_hex: str) -> None:
    key = VerifierKey.parse(vkey)
    assert key.key_hash.hex() == hash_hex
    assert key.encode() == vkey


def test_go_signed_note_opens() -> None:
    peter = VerifierKey.parse(PETER_VKEY)
    assert open_note(GO_TEXT + "\n" + PETER_SIG, peter) == GO_TEXT
    with pytest.raises(NoteError):
        open_note(GO_TEXT.replace("cryptography", "cryptographY") + "\n" + PETER_SIG, peter)


def test_go_doubly_signed_note_opens_for_each_signer() -> None:
    note = GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG
    assert open_note(note, VerifierKey.parse(PETER_VKEY)) == GO_TEXT
    assert open_note(note, VerifierKey.parse(ENOCH_VKEY)) == GO_TEXT


def test_signing_with_go_published_key_reproduces_go_bytes() -> None:
    # TestSign: Ed25519 is deterministic, so the signed note must match byte for byte.
    signer = go_signer()
    assert signer.verifier.encode() == PETER_VKEY
    assert sign_note(GO_TEXT, signer) == GO_TEXT + "\n" + PETER_SIG


@pytest.mark.parametrize(
    "note",
    [
        # golang.org/x/mod sumdb/note TestOpen, "Invalid encoded message syntax"
        GO_TEXT,
        GO_TEXT + "\n",
        GO_TEXT + "\n" + PETER_SIG[:-1],
        "\x01" + GO_TEXT + "\n" + PETER_SIG,
        "\xff" + GO_TEXT + "\n" + PETER_SIG,
        GO_TEXT + "\n" + "\u2014 Bad Name " + PETER_B64,
        GO_TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
        # TestOpen, "Invalid signature"
        GO_TEXT + "\n" + PETER_SIG[:60] + "ABCD" + PETER_SIG[60:],
    ],
    ids=[
        "text only",
        "no signatures",
        "no final newline",
        "control character",
        "0xff",
        "bad name",
        "unexpected line",
        "invalid signature",
    ],
)
def test_go_malformed_notes_are_refused(note: str) -> None:
    with pytest.raises(NoteError):
        open_note(note, VerifierKey.parse(PETER_VKEY))


def test_c2sp_signed_note_example_opens() -> None:
    key = VerifierKey.parse(C2SP_VKEY)
    assert key.encode() == C2SP_VKEY
    assert open_note(C2SP_NOTE, key) == "This is an example message.\n"
    with pytest.raises(NoteError):
        open_note(C2SP_NOTE.replace("example message", "example massage"), key)
