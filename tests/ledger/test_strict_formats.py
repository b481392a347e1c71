"""One implementation of every format, equally strict wherever it is read (issue 12).

Every malformed input below is refused on every path that reads it: the chair's bundle
auditor (`ledger.auditor.audit`: checkpoints.jsonl, --since, --log-key, --witness-key,
log-key-rotations.jsonl, entries.jsonl) and the server's side (`Checkpoint.verify`,
`LogKeys` and `ledger.logkeys.ledger_keys`, `verify_ledger`, `ledger.witness.check_extends`,
the cosignature the HTTP API verifies with `open_cosignature`, `SignedEntry.from_entry_bytes`
that the mapper, `verify` and the projections use). Each malformed note is otherwise valid
and signed by the real log key, and each malformed entry carries the same value as an
honest one, so a lenient reader would have accepted it silently.

Runs on SQLite only: these are format checks; the storage paths have their own tests.
"""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ledger.auditor import audit
from ledger.auditor.canonical import CanonicalFormError, parse_canonical
from ledger.auditor.checkpoint import Checkpoint
from ledger.auditor.cosignature import (
    COSIGNATURE_V1,
    Cosigner,
    CosignerKey,
    cosignature_message,
    cosigned_by,
    note_body,
    open_cosignature,
)
from ledger.auditor.entry import EntryFormatError, SignedEntry
from ledger.auditor.errors import FormatError
from ledger.auditor.note import (
    ED25519,
    SIGNATURE_PREFIX,
    NoteError,
    NoteSigner,
    VerifierKey,
    encode_vkey,
    parse_note_integer,
    sign_note,
)
from ledger.auditor.rotation import LogKeyError, LogKeys, Rotation, parse_verifier_keys
from ledger.bundle import export_bundle
from ledger.config import LedgerConfig
from ledger.keys import KeyPair
from ledger.logkeys import META_ROTATIONS, ledger_keys
from ledger.storage import StoredCheckpoint
from ledger.verify import verify_ledger
from ledger.witness import WitnessError, check_extends
from tests.support.clock import Clock
from tests.support.rawdb import RawEvents
from tests.support.world import ORIGIN, World, make_world


@dataclass
class Log:
    """An honest ledger with a checkpoint of its whole tree, and its exported bundle."""

    world: World
    bundle: Path
    size: int
    root: bytes
    witness: Cosigner

    @property
    def signer(self) -> NoteSigner:
        """The log key as the ledger signs checkpoints: with its post-quantum line."""
        return self.world.ledger.checkpoint_signer(self.world.log_signer)

    @property
    def vkey(self) -> VerifierKey:
        return self.world.vkey

    def copy_bundle(self, folder: Path) -> Path:
        return Path(shutil.copytree(self.bundle, folder / "bundle"))


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Log]:
    folder = tmp_path_factory.mktemp("strict")
    world = make_world(LedgerConfig(home=folder / "home"), Clock())
    world.add_action("R1.1")
    world.client("sig").comment("R1.1", "a comment to tamper with")
    world.checkpoint()
    size = world.ledger.tree_size()
    export_bundle(world.ledger, world.vkey.encode(), folder / "bundle")
    witness = Cosigner("chair.example", KeyPair.generate())
    yield Log(world, folder / "bundle", size, world.ledger.root_hash(size), witness)
    world.ledger.close()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _arabic_indic(number: int) -> str:
    return "".join(chr(0x660 + int(d)) for d in str(number))


def _fullwidth(number: int) -> str:
    return "".join(chr(0xFF10 + int(d)) for d in str(number))


# -- checkpoints: note integers, origins, control characters, foreign signature lines -----

#: (id, builder of a note signed by the log key) -- each is a checkpoint of the honest
#: tree, so a reader that accepted its form would find nothing else wrong with it.
NOTES: list[tuple[str, Callable[[Log], str]]] = [
    ("size 05", lambda g: _signed(g, f"{ORIGIN}\n0{g.size}\n{_b64(g.root)}\n")),
    ("size +5", lambda g: _signed(g, f"{ORIGIN}\n+{g.size}\n{_b64(g.root)}\n")),
    ("size space 5", lambda g: _signed(g, f"{ORIGIN}\n {g.size}\n{_b64(g.root)}\n")),
    ("size 5 space", lambda g: _signed(g, f"{ORIGIN}\n{g.size} \n{_b64(g.root)}\n")),
    ("size 5_0", lambda g: _signed(g, f"{ORIGIN}\n{g.size}_0\n{_b64(g.root)}\n")),
    (
        "arabic-indic size",
        lambda g: _signed(g, f"{ORIGIN}\n{_arabic_indic(g.size)}\n{_b64(g.root)}\n"),
    ),
    ("fullwidth size", lambda g: _signed(g, f"{ORIGIN}\n{_fullwidth(g.size)}\n{_b64(g.root)}\n")),
    ("size 2**64", lambda g: _signed(g, f"{ORIGIN}\n{2**64}\n{_b64(g.root)}\n")),
    ("empty origin", lambda g: _signed(g, f"\n{g.size}\n{_b64(g.root)}\n")),
    ("non-canonical root base64", lambda g: _signed(g, f"{ORIGIN}\n{g.size}\n{_loose(g.root)}\n")),
    ("TAB in an extension line", lambda g: _signed(g, _body(g) + "ext\tension\n")),
    ("CR in an extension line", lambda g: _signed(g, _body(g) + "ext\rension\n")),
    ("NUL in an extension line", lambda g: _signed(g, _body(g) + "ext\x00ension\n")),
    ("DEL in an extension line", lambda g: _signed(g, _body(g) + "ext\x7fension\n")),
    ("C1 NEL in an extension line", lambda g: _signed(g, _body(g) + "ext\x85ension\n")),
    ("TAB after a signature", lambda g: _honest(g)[:-1] + "\t\n"),
    ("foreign line without em dash", lambda g: _honest(g) + f"- other.example {_b64(bytes(68))}\n"),
    ("foreign line without signature", lambda g: _honest(g) + f"{SIGNATURE_PREFIX}other.example\n"),
    ("foreign line, bad base64", lambda g: _honest(g) + f"{SIGNATURE_PREFIX}other.example !!!!\n"),
    ("foreign line, too short", lambda g: _honest(g) + f"{SIGNATURE_PREFIX}other.example AAAA\n"),
    (
        "foreign line, name with +",
        lambda g: _honest(g) + f"{SIGNATURE_PREFIX}a+b {_b64(bytes(68))}\n",
    ),
    (
        "foreign line, name with TAB",
        lambda g: _honest(g) + f"{SIGNATURE_PREFIX}a\tb {_b64(bytes(68))}\n",
    ),
    ("foreign line, empty name", lambda g: _honest(g) + f"{SIGNATURE_PREFIX} {_b64(bytes(68))}\n"),
    ("empty signature line", lambda g: _honest(g) + "\n"),
    ("no newline after the signatures", lambda g: _honest(g)[:-1]),
]


def _body(log: Log) -> str:
    return Checkpoint(ORIGIN, log.size, log.root).body()


def _honest(log: Log) -> str:
    return _signed(log, _body(log))


def _signed(log: Log, body: str) -> str:
    return sign_note(body, log.signer)


def _loose(data: bytes) -> str:
    """Base64 of `data` with a nonzero unused bit: it decodes to the same bytes."""
    text = _b64(data)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = text.rstrip("=")
    loose = last[:-1] + alphabet[alphabet.index(last[-1]) | 1] + text[len(last) :]
    assert loose != text and base64.b64decode(loose, validate=True) == data
    return loose


def _refused(call: Callable[[], Any], *errors: type[BaseException]) -> bool:
    try:
        call()
    except errors:
        return True
    return False


def _checkpoint_paths(log: Log, note: str, tmp_path: Path) -> dict[str, bool]:
    """Whether each reader of checkpoint notes refused `note`."""
    refused = {
        "Checkpoint.verify": _refused(lambda: Checkpoint.verify(note, log.vkey), NoteError),
        "LogKeys.verify_checkpoint": _refused(
            lambda: LogKeys([log.vkey]).verify_checkpoint(note), NoteError
        ),
        "witness.check_extends": _refused(
            lambda: check_extends(note, None, log.vkey, lambda a, b: []), WitnessError
        ),
    }
    tables = log.world.ledger.tables
    honest = tables.checkpoints()
    stored = StoredCheckpoint(log.size, log.root, note, "2023-01-02T09:00:00+00:00")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tables, "checkpoints", lambda: [*honest, stored])
        report = verify_ledger(log.world.ledger, log.vkey, workers=1)
    refused["verify_ledger"] = any(p.what == "bad checkpoint" for p in report.problems)
    bundle = log.copy_bundle(tmp_path)
    with (bundle / "checkpoints.jsonl").open("a") as handle:
        handle.write(json.dumps({"tree_size": log.size, "note": note}) + "\n")
    report = audit(bundle, log_key=log.vkey.encode(), trust=log.world.trust)
    refused["auditor checkpoints.jsonl"] = any(p.check == "checkpoint" for p in report.problems)
    report = audit(log.bundle, log_key=log.vkey.encode(), trust=log.world.trust, since=note)
    refused["auditor --since"] = any(p.check == "saved checkpoint" for p in report.problems)
    return refused


def test_the_honest_checkpoint_is_accepted_on_every_path(log: Log, tmp_path: Path) -> None:
    refused = _checkpoint_paths(log, _honest(log), tmp_path)
    assert not any(refused.values()), refused


@pytest.mark.parametrize("build", [b for _, b in NOTES], ids=[i for i, _ in NOTES])
def test_a_malformed_checkpoint_note_is_refused_on_every_path(
    log: Log, tmp_path: Path, build: Callable[[Log], str]
) -> None:
    refused = _checkpoint_paths(log, build(log), tmp_path)
    assert all(refused.values()), refused


@pytest.mark.parametrize(
    "text", ["05", "+5", " 5", "5 ", "-1", "", "5_0", "0x5", "\u0665", "\uff15", "5\n", str(2**64)]
)
def test_note_integers_must_re_encode_to_the_same_text(text: str) -> None:
    with pytest.raises(NoteError):
        parse_note_integer(text, "size")


@pytest.mark.parametrize("text", ["0", "5", "10", str(2**64 - 1)])
def test_note_integers_in_their_one_spelling_are_accepted(text: str) -> None:
    assert str(parse_note_integer(text, "size")) == text


# -- cosignature lines -------------------------------------------------------------------


def _cosignature(log: Log, timestamp: int = 1_700_000_000) -> str:
    return log.witness.cosign(_body(log), timestamp)


def _big_timestamp(log: Log) -> str:
    """A cosignature whose signature verifies, over a time of 2**63 or more."""
    timestamp = 2**63
    signature = log.witness.key.sign(cosignature_message(_body(log), timestamp))
    blob = log.witness.public.key_hash + struct.pack(">Q", timestamp) + signature
    return f"{SIGNATURE_PREFIX}{log.witness.name} {_b64(blob)}"


COSIGNATURE_LINES: list[tuple[str, Callable[[Log], str]]] = [
    ("time 2**63", _big_timestamp),
    ("TAB after the line", lambda g: _cosignature(g) + "\t"),
    ("hyphen for em dash", lambda g: "-" + _cosignature(g)[1:]),
    ("no space after the name", lambda g: _cosignature(g).replace(f"{g.witness.name} ", "x")),
    ("bad base64", lambda g: f"{SIGNATURE_PREFIX}{g.witness.name} {_cosignature(g)[-20:]}!"),
    ("too short", lambda g: f"{SIGNATURE_PREFIX}{g.witness.name} AAAA"),
]


@pytest.mark.parametrize(
    "build", [b for _, b in COSIGNATURE_LINES], ids=[i for i, _ in COSIGNATURE_LINES]
)
def test_a_malformed_cosignature_line_is_refused_by_server_and_auditor(
    log: Log, tmp_path: Path, build: Callable[[Log], str]
) -> None:
    line = build(log)
    key = log.witness.public
    # the server, when a witness posts it (api/http/routes/log.py)
    with pytest.raises(NoteError):
        open_cosignature(note_body(_honest(log)), line, key)
    # the auditor, in a bundle's cosigned checkpoint, with the witness key pinned
    note = _honest(log) + line + "\n"
    with contextlib.suppress(NoteError):  # the whole note is refused, or:
        assert cosigned_by(note, key) is False
    bundle = log.copy_bundle(tmp_path)
    with (bundle / "checkpoints.jsonl").open("a") as handle:
        handle.write(json.dumps({"tree_size": log.size, "note": note}) + "\n")
    report = audit(
        bundle, log_key=log.vkey.encode(), trust=log.world.trust, witness_keys=[key.encode()]
    )
    assert report.witnessed[key.name] == 0
    assert any(p.check in ("checkpoint", "bad cosignature") for p in report.problems)


def test_an_honest_cosignature_is_accepted_by_server_and_auditor(log: Log, tmp_path: Path) -> None:
    line = _cosignature(log)
    key = log.witness.public
    assert open_cosignature(note_body(_honest(log)), line, key) == 1_700_000_000
    note = _honest(log) + line + "\n"
    assert cosigned_by(note, key) is True
    bundle = log.copy_bundle(tmp_path)
    with (bundle / "checkpoints.jsonl").open("a") as handle:
        handle.write(json.dumps({"tree_size": log.size, "note": note}) + "\n")
    report = audit(
        bundle, log_key=log.vkey.encode(), trust=log.world.trust, witness_keys=[key.encode()]
    )
    assert report.ok, report.problems
    assert report.witnessed == {key.name: log.size}


# -- key names ---------------------------------------------------------------------------

BAD_NAMES = ["two words", "tab\tname", "nul\x00name", "nbsp\u00a0name", "plus+name", ""]


@pytest.mark.parametrize("name", BAD_NAMES, ids=repr)
def test_a_key_name_with_spaces_plus_or_controls_is_refused_everywhere(log: Log, name: str) -> None:
    public = KeyPair.generate().public_key
    vkey, witness_key = (
        encode_vkey(name, ED25519, public),
        encode_vkey(name, COSIGNATURE_V1, public),
    )
    for parse in (VerifierKey.parse, parse_verifier_keys, CosignerKey.parse):
        with pytest.raises(NoteError):
            parse(witness_key if parse is CosignerKey.parse else vkey)
    for signer in (NoteSigner, Cosigner):
        with pytest.raises(NoteError):
            signer(name, KeyPair.generate())
    # the auditor: as the pinned log key, and as a pinned witness key
    report = audit(log.bundle, log_key=vkey)
    assert [p.check for p in report.problems] == ["bundle"], report.problems
    report = audit(
        log.bundle, log_key=log.vkey.encode(), trust=log.world.trust, witness_keys=[witness_key]
    )
    assert [p.check for p in report.problems] == ["bundle"], report.problems


# -- log-key rotations: one chain ---------------------------------------------------------


def _rotation(log: Log, old: NoteSigner, new: NoteSigner, size: int, **lines: str) -> str:
    body = Rotation.body(ORIGIN, size, log.world.ledger.root_hash(size), old.verifier, new.verifier)
    for line, text in lines.items():
        parts = body.split("\n")
        parts[{"size_line": 2, "new_line": 5}[line]] = text
        body = "\n".join(parts)
    return sign_note(body, old) + new.signature_line(body)


#: (id, the statements, from the log key k0 and two new keys k1 and k2, at size `half`)
CHAINS: list[tuple[str, Callable[[Log, NoteSigner, NoteSigner, NoteSigner, int], list[str]]]] = [
    ("second hands over from the first key again", lambda g, k0, k1, k2, half: [
        _rotation(g, k0, k1, half), _rotation(g, k0, k2, half + 1),
    ]),
    ("second hands over from a key never handed to", lambda g, k0, k1, k2, half: [
        _rotation(g, k0, k1, half), _rotation(g, k2, k1, half + 1),
    ]),
    ("sizes go backwards", lambda g, k0, k1, k2, half: [
        _rotation(g, k0, k1, half), _rotation(g, k1, k2, half - 1),
    ]),
    ("a key rotated to itself", lambda g, k0, k1, k2, half: [_rotation(g, k0, k0, half)]),
    ("size written 05", lambda g, k0, k1, k2, half: [
        _rotation(g, k0, k1, half, size_line=f"0{half}"),
    ]),
    ("arabic-indic size", lambda g, k0, k1, k2, half: [
        _rotation(g, k0, k1, half, size_line=_arabic_indic(half)),
    ]),
    ("TAB after the new key", lambda g, k0, k1, k2, half: [
        _rotation(g, k0, k1, half, new_line=f"new {k1.verifier.encode()}\t"),
    ]),
]  # fmt: skip


class _Tables:
    def __init__(self, notes: list[str]) -> None:
        self.notes = notes

    def get_meta(self, key: str) -> str | None:
        return json.dumps(self.notes) if key == META_ROTATIONS else None


@pytest.mark.parametrize("build", [b for _, b in CHAINS], ids=[i for i, _ in CHAINS])
def test_rotations_that_do_not_form_one_chain_are_refused_everywhere(
    log: Log, tmp_path: Path, build: Callable[..., list[str]]
) -> None:
    k1, k2 = (NoteSigner(ORIGIN, KeyPair.generate()) for _ in range(2))
    notes = build(log, log.signer, k1, k2, log.size // 2)
    pinned = [log.vkey, k1.verifier, k2.verifier]
    with pytest.raises(LogKeyError):
        LogKeys(pinned, notes)
    with pytest.raises(LogKeyError):
        ledger_keys(_Tables(notes), pinned)  # the server's: `verify`, backups, the CLI
    bundle = log.copy_bundle(tmp_path)
    (bundle / "log-key-rotations.jsonl").write_text(
        "".join(json.dumps({"note": note}) + "\n" for note in notes)
    )
    report = audit(bundle, log_key=log.vkey.encode(), trust=log.world.trust)
    assert any(p.check == "log key rotation" for p in report.problems), report.problems


def test_a_chain_of_rotations_is_accepted(log: Log, tmp_path: Path) -> None:
    k0 = log.signer
    k1, k2 = (NoteSigner(ORIGIN, KeyPair.generate()) for _ in range(2))
    notes = [_rotation(log, k0, k1, log.size), _rotation(log, k1, k2, log.size)]
    keys = LogKeys([k0.verifier, k1.verifier, k2.verifier], notes)
    assert [p.key for p in keys.periods] == [k0.verifier, k1.verifier, k2.verifier]
    assert keys.verify_checkpoint(_honest(log)).size == log.size


# -- canonical JSON entries ----------------------------------------------------------------


def _last_line(log: Log) -> bytes:
    return (log.bundle / "entries.jsonl").read_bytes().splitlines()[-1]


def _unsorted(line: bytes) -> bytes:
    value = json.loads(line)
    return json.dumps(dict(reversed(value.items())), separators=(",", ":")).encode()


def _loose_signature(line: bytes) -> bytes:
    signature = json.loads(line)["signature"]
    return line.replace(signature.encode(), _loose(base64.b64decode(signature)).encode())


ENTRIES: list[tuple[str, Callable[[bytes], bytes]]] = [
    ("duplicate member", lambda b: b.replace(b'{"actor":"sig",', b'{"actor":"sig","actor":"sig",')),
    ("whitespace", lambda b: b.replace(b'{"actor":', b'{ "actor":')),
    ("members not sorted", _unsorted),
    ("escaped ASCII character", lambda b: b.replace(b'"actor":"sig"', b'"actor":"\\u0073ig"')),
    ("float version", lambda b: b[:-1] + b".0}"),
    ("exponent version", lambda b: b[:-1] + b"e0}"),
    ("integer beyond 2**53", lambda b: b[: b.rindex(b":") + 1] + b"9007199254740993}"),
    ("invalid UTF-8", lambda b: b.replace(b'"actor":"sig"', b'"actor":"s\xffg"')),
    ("lone surrogate", lambda b: b.replace(b'"actor":"sig"', b'"actor":"\\ud800"')),
    ("byte-order mark", lambda b: b"\xef\xbb\xbf" + b),
    ("trailing space", lambda b: b + b" "),
    ("non-canonical signature base64", _loose_signature),
]


@pytest.mark.parametrize("mutate", [m for _, m in ENTRIES], ids=[i for i, _ in ENTRIES])
def test_a_non_canonical_entry_is_refused_on_every_path(
    log: Log, tmp_path: Path, mutate: Callable[[bytes], bytes]
) -> None:
    honest = _last_line(log)
    line = mutate(honest)
    assert line != honest
    position = log.size - 1
    with pytest.raises(FormatError):
        SignedEntry.from_entry_bytes(line)  # the mapper, `verify`, projections, exports
    with pytest.raises((CanonicalFormError, EntryFormatError)):
        SignedEntry.from_json(parse_canonical(line))
    bundle = log.copy_bundle(tmp_path)
    lines = (bundle / "entries.jsonl").read_bytes().splitlines()
    lines[position] = line
    (bundle / "entries.jsonl").write_bytes(b"".join(x + b"\n" for x in lines))
    report = audit(bundle, log_key=log.vkey.encode(), trust=log.world.trust)
    assert (position, "malformed entry") in [(p.leaf_index, p.check) for p in report.problems]
    raw = RawEvents(log.world.config)
    row_id = raw.rows()[position][0]
    raw.set_state(row_id, line)
    try:
        report = verify_ledger(log.world.ledger, log.vkey, workers=1)
    finally:
        raw.set_state(row_id, honest)
    assert (position, "malformed entry") in [(p.leaf_index, p.what) for p in report.problems]


def test_the_honest_bundle_and_ledger_verify(log: Log) -> None:
    assert audit(log.bundle, log_key=log.vkey.encode(), trust=log.world.trust).ok
    assert verify_ledger(log.world.ledger, log.vkey, workers=1).ok


# -- what the auditor states about the domain, which it may not import ---------------------


def test_the_auditor_knows_every_event_type_and_the_genesis() -> None:
    import domain  # noqa: F401  (registers every event type)
    from domain import Directory
    from domain.events import event_types
    from ledger.auditor.authority import AUTHORITY
    from ledger.auditor.entry import GENESIS_TYPE

    assert GENESIS_TYPE == Directory.Created.TYPE
    assert set(event_types()) == {*AUTHORITY, GENESIS_TYPE}


def test_the_domain_derives_key_ids_as_the_auditor_does() -> None:
    from domain.directory import _key_id
    from ledger.auditor.ed25519 import encode_public_key, key_id_for

    public = KeyPair.generate().public_key
    assert _key_id(encode_public_key(public), "rule") == key_id_for(public)
