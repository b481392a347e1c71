"""Ed25519 public keys a signer may register: one spelling of one point, never of small
order (issue 13, item 5).

cryptography (OpenSSL) verifies [S]B = R + [k]A without looking at the key A: under the
identity key the "signature" R = identity, S = 0 verifies for every message, and a key of
order 8 lets anyone forge after a few guesses. So `decode_public_key` decodes the point
itself (RFC 8032 5.1.3) and refuses those, and the ledger and the auditor refuse a
registration or rotation that introduces one.
"""

from __future__ import annotations

import base64
import dataclasses
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from domain import DIRECTORY_ID, Directory
from ledger.auditor import audit
from ledger.auditor.ed25519 import (
    PublicKeyError,
    decode_public_key,
    encode_public_key,
    key_id_for,
    verify_signature,
)
from ledger.auditor.entry import EntryFormatError, SignedEntry
from ledger.auditor.errors import FormatError
from ledger.errors import InvalidEntry
from ledger.keys import KeyPair
from tests.support.bundles import append_crafted, append_lines, export, lines, problems
from tests.support.key_spellings import other_base64
from tests.support.world import World, make_world

P = 2**255 - 19
# The y coordinates of the eight points of the torsion subgroup (libsodium's blocklist;
# "Taming the many EdDSAs", Chalkias et al., 2020): order 1, 2, 4 and 8.
Y_ORDER_8 = 2707385501144840649318225287225658788936804267575313519463743609750303402022
TORSION_Y = {"identity": 1, "order 2": P - 1, "order 4": 0, "order 8": Y_ORDER_8}
TORSION_Y["order 8, other"] = P - Y_ORDER_8


def encode(y: int, sign: int) -> bytes:
    return (y | sign << 255).to_bytes(32, "little")


#: The eight small-order points (x = 0 for the identity and the point of order 2, so only
#: sign 0 is theirs), and the two spellings with x = 0 and the sign bit set.
SMALL_ORDER_POINTS = [encode(y, sign) for y in TORSION_Y.values() for sign in (0, 1)]
SMALL_ORDER = [
    pytest.param(encode(y, sign), id=f"{name}, sign {sign}")
    for name, y in TORSION_Y.items()
    for sign in (0, 1)
]
NON_CANONICAL_Y = [
    pytest.param(encode(y, sign), id=f"y = p + {y - P}, sign {sign}")
    for y in range(P, 2**255)
    for sign in (0, 1)
]
IDENTITY = encode(1, 0)
IDENTITY_TEXT = "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
FORGED_UNDER_IDENTITY = IDENTITY + bytes(32)  # R = identity, S = 0


def bad_key_texts() -> list[tuple[str, str]]:
    """(what, base64 text) of every refused key the ledger and auditor tests submit."""
    texts = [(f"small order {i}", encode_public_key(p)) for i, p in enumerate(SMALL_ORDER_POINTS)]
    texts += [("y = p + 1 (the identity again)", encode_public_key(encode(P + 1, 0)))]
    texts += [("y = p + 18, sign 1", encode_public_key(encode(2**255 - 1, 1)))]
    texts += [("base64 pad bit", other_base64(encode_public_key(KeyPair.generate().public_key)))]
    return texts


# -- decode_public_key -------------------------------------------------------------------


def test_the_torsion_constants_are_what_they_claim() -> None:
    assert encode_public_key(IDENTITY) == IDENTITY_TEXT
    assert len(set(SMALL_ORDER_POINTS)) == 10
    assert TORSION_Y["order 8"] + TORSION_Y["order 8, other"] == P  # y and -y


@pytest.mark.parametrize("raw", SMALL_ORDER)
def test_every_small_order_point_is_refused(raw: bytes) -> None:
    with pytest.raises(PublicKeyError, match=r"small order|x = 0, sign 1"):
        decode_public_key(encode_public_key(raw))


def test_the_identity_is_refused_as_small_order() -> None:
    with pytest.raises(PublicKeyError, match="small order"):
        decode_public_key(IDENTITY_TEXT)


@pytest.mark.parametrize("raw", NON_CANONICAL_Y)
def test_every_y_of_p_or_more_is_refused_as_non_canonical(raw: bytes) -> None:
    with pytest.raises(PublicKeyError, match=r"not a canonical point encoding \(y >= p\)"):
        decode_public_key(encode_public_key(raw))


def test_x_zero_with_the_sign_bit_set_is_refused_as_non_canonical() -> None:
    for y in (1, P - 1):
        with pytest.raises(PublicKeyError, match=r"x = 0, sign 1"):
            decode_public_key(encode_public_key(encode(y, 1)))


def test_a_y_with_no_point_is_refused() -> None:
    y = next(y for y in range(2, 100) if _not_on_curve(encode(y, 0)))
    with pytest.raises(PublicKeyError, match="not a point on the curve"):
        decode_public_key(encode_public_key(encode(y, 0)))


def _not_on_curve(raw: bytes) -> bool:
    try:
        decode_public_key(encode_public_key(raw))
    except PublicKeyError as error:
        return "not a point" in str(error)
    return False


def test_non_canonical_base64_and_other_lengths_are_refused() -> None:
    text = encode_public_key(KeyPair.generate().public_key)
    with pytest.raises(PublicKeyError, match="canonical base64"):
        decode_public_key(other_base64(text))
    for bad in (text.rstrip("="), text + "\n", " " + text, text[:-4] + "===="):
        with pytest.raises(FormatError):
            decode_public_key(bad)
    with pytest.raises(PublicKeyError, match="32 bytes"):
        decode_public_key(encode_public_key(bytes(31)))


def test_valid_keys_are_accepted() -> None:
    rfc8032_test_1 = bytes.fromhex(
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    )
    assert decode_public_key(encode_public_key(rfc8032_test_1)) == rfc8032_test_1
    for _ in range(200):
        raw = KeyPair.generate().public_key
        assert decode_public_key(encode_public_key(raw)) == raw


# -- why: with cryptography, such keys verify forgeries ----------------------------------


def test_the_identity_key_verifies_a_forged_signature_of_any_message() -> None:
    """What the refusal prevents: nobody holds a private key for the identity, yet
    cryptography (OpenSSL) accepts R = identity, S = 0 under it for every message, and so
    would `verify_signature`."""
    key = Ed25519PublicKey.from_public_bytes(IDENTITY)
    for message in (b"", b"I, the chair, have verified every action", bytes(range(256))):
        key.verify(FORGED_UNDER_IDENTITY, message)  # does not raise
        assert verify_signature(IDENTITY, FORGED_UNDER_IDENTITY, message)
    # so do the second spellings of the identity (OpenSSL reduces y mod p, ignores x's sign)
    for other in (encode(P + 1, 0), encode(1, 1)):
        Ed25519PublicKey.from_public_bytes(other).verify(FORGED_UNDER_IDENTITY, b"anything")


def test_a_key_of_order_8_verifies_a_forgery_after_a_few_guesses() -> None:
    """[k]A for a key of order 8 is one of eight points, so R = -[k]A with S = 0 verifies
    for about one message in eight: guessing is enough."""
    key = Ed25519PublicKey.from_public_bytes(encode(Y_ORDER_8, 0))
    torsion = SMALL_ORDER_POINTS
    forged = []
    for n in range(64):
        message = f"statement {n}".encode()
        for r in torsion:
            try:
                key.verify(r + bytes(32), message)
            except InvalidSignature:
                continue
            forged.append(message)
    assert len(forged) >= 3


# -- signatures: one spelling as well ----------------------------------------------------


@pytest.fixture
def world(config: Any, clock: Any) -> Any:
    w = make_world(config, clock)
    yield w
    w.ledger.close()


def test_an_entry_with_a_non_canonical_signature_is_refused_by_parse_and_audit(
    world: World, tmp_path: Path
) -> None:
    bundle = export(world, tmp_path / "bundle")
    entry = world.client("admin").entry(
        Directory.UserRegistered.TYPE,
        DIRECTORY_ID,
        _registration("second.admin", encode_public_key(KeyPair.generate().public_key)),
    )
    line = entry.entry_bytes()
    text = base64.b64encode(entry.signature).decode()
    altered = line.replace(text.encode(), other_base64(text).encode())
    assert altered != line
    assert SignedEntry.from_entry_bytes(line) == entry
    with pytest.raises(EntryFormatError, match="signature is not in canonical base64"):
        SignedEntry.from_entry_bytes(altered)
    position = append_lines(world, bundle, altered)
    report = audit(bundle, log_key=world.vkey.encode())
    [problem] = report.problems
    assert (problem.leaf_index, problem.check) == (position, "malformed entry")
    assert "canonical base64" in problem.detail


# -- the ledger refuses them at registration and rotation --------------------------------


def _registration(user_id: str, key_text: str) -> dict[str, Any]:
    # an administrator registering an administrator: allowed before any charter
    return {
        "user_id": user_id,
        "name": "Second Admin",
        "role": "admin",
        "agency": None,
        "public_key": key_text,
    }


def test_the_ledger_refuses_a_bad_key_at_registration(world: World) -> None:
    admin = world.client("admin")
    before = world.ledger.tree_size()
    for what, text in bad_key_texts():
        entry = admin.entry(
            Directory.UserRegistered.TYPE, DIRECTORY_ID, _registration("second.admin", text)
        )
        with pytest.raises(InvalidEntry, match=r"directory\.user_registered public_key") as caught:
            world.ledger.append([entry])
        assert "small order" in str(caught.value) or "canonical" in str(caught.value), what
    assert world.ledger.tree_size() == before
    directory = world.ledger.directory()
    assert directory is not None and "second.admin" not in directory.users
    with pytest.raises(InvalidEntry, match="small order"):
        admin.register_user("second.admin", "Second", "admin", None, IDENTITY)
    key = KeyPair.generate()
    admin.register_user("second.admin", "Second Admin", "admin", None, key.public_key)
    directory = world.ledger.directory()
    assert directory is not None and key.key_id in directory.users["second.admin"].keys


def test_the_ledger_refuses_a_bad_key_at_rotation(world: World) -> None:
    admin = world.client("admin")
    before = world.ledger.tree_size()
    for what, text in bad_key_texts():
        entry = admin.entry(
            Directory.KeyRotated.TYPE,
            DIRECTORY_ID,
            {"user_id": "admin", "new_public_key": text, "reason": "new laptop"},
        )
        with pytest.raises(InvalidEntry, match=r"directory\.key_rotated new_public_key") as caught:
            world.ledger.append([entry])
        assert "small order" in str(caught.value) or "canonical" in str(caught.value), what
    assert world.ledger.tree_size() == before
    with pytest.raises(InvalidEntry, match="small order"):
        admin.rotate_key("admin", IDENTITY, "new laptop")
    key = KeyPair.generate()
    admin.rotate_key("admin", key.public_key, "new laptop")
    directory = world.ledger.directory()
    assert directory is not None
    assert [k.key_id for k in directory.users["admin"].active_keys()] == [key.key_id]


# -- the auditor refuses them in a bundle ------------------------------------------------


def test_the_auditor_refuses_a_bundle_that_registers_a_bad_key(
    world: World, tmp_path: Path
) -> None:
    """The operator writes registrations of bad keys straight into the log (the ledger
    would refuse them) and a statement "signed" under the identity key: each registration
    is reported at its leaf, and the forged statement's signer is unknown."""
    bundle = export(world, tmp_path / "bundle")
    admin = world.signer("admin")
    version = world.ledger.version_of(DIRECTORY_ID)
    crafted = []
    for n, (_what, text) in enumerate(bad_key_texts()):
        version += 1
        crafted.append(
            admin.sign(
                Directory.UserRegistered.TYPE,
                DIRECTORY_ID,
                version,
                _registration(f"ghost{n}", text),
            )
        )
    # ghost0 holds the identity key: the forgery R = identity, S = 0 would verify
    assert crafted[0].body.payload["public_key"] == IDENTITY_TEXT
    honest = admin.sign(
        Directory.KeyRotated.TYPE,
        DIRECTORY_ID,
        version + 1,
        {"user_id": "ghost0", "new_public_key": encode_public_key(KeyPair.generate().public_key),
         "reason": "mine now"},
    )  # fmt: skip
    body = dataclasses.replace(honest.body, actor="ghost0", key_id=key_id_for(IDENTITY))
    forged = SignedEntry(body, FORGED_UNDER_IDENTITY)
    assert verify_signature(IDENTITY, forged.signature, body.signing_bytes())
    first = append_crafted(world, bundle, *crafted, forged)
    report = audit(bundle, log_key=world.vkey.encode())
    found = problems(report)
    for n in range(len(crafted)):
        assert found[first + n] == {"malformed entry"}, n
    details = {p.leaf_index: p.detail for p in report.problems}
    assert "small order" in details[first]
    assert "canonical base64" in details[first + len(crafted) - 1]
    assert found[first + len(crafted)] == {"unknown signer"}
    assert set(found) == set(range(first, first + len(crafted) + 1))
    assert len(lines(bundle)) == first + len(crafted) + 1
