"""The nine attacks of issue 13, each made end to end by an operator who holds the admin
key, the log key, the database, the files and the server's clock, and each defeated.

1. A chair of the operator's own (a second chair-role user, or the real chair's key
   replaced) signs a chair sign-off dated in the past: the audit passed, keys.json was
   not checked and no directory change was reported.
2. `init` kept the first administrator's private key on the server.
3. Any script the operator's page serves can use a browser key: the chair had no
   protection (now the charter can require off-page signing with `inquiry-ledger sign`).
4. A stolen retired log key, with log-key-rotations.jsonl deleted from a bundle, signed
   checkpoints of any size; `witness cosign` believed the server's rotation list.
5. `verify-bundle --rules` skipped the entries it could not parse or attribute.
6. Entries named no ledger: a sign-off made on a training copy went into production.
7. `--witness-key` passed without that witness's cosignature (7a); forks each passed
   against their own side's saved checkpoint (7b); entries after the newest saved
   checkpoint could be dropped unnoticed, with no receipts (7c); checkpoints were
   signed only by hand (7d).
8. An entry dated now + 299 s blocked the chair's and the group's entries on an action.
9. A small-order public key (the identity) was accepted, letting anyone forge its
   holder's entries; signatures spelled in non-canonical base64 were accepted.

Each test would fail on the code before issue 13. The last one gives the operator every
capability at once and shows it cannot make a bundle pass `verify-bundle --trust` carrying
a chair act the chair did not sign (tests/ledger/test_operator_cannot_forge.py has more
forms of it). On SQLite and PostgreSQL (the `config` fixture).
"""

from __future__ import annotations

import base64
import dataclasses
import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from api.application.checkpoints import RegularCheckpoints
from api.application.tokens import TokenStore
from domain import DIRECTORY_ID, Action, Directory, Status, action_aggregate_id
from ledger.auditor import audit
from ledger.auditor.checkpoint import Checkpoint
from ledger.auditor.cosignature import Cosigner, note_body
from ledger.auditor.ed25519 import encode_public_key, key_id_for
from ledger.auditor.entry import EntryFormatError, SignedEntry
from ledger.auditor.note import NoteSigner
from ledger.config import DEFAULT_FORWARD_SKEW, LedgerConfig
from ledger.errors import ClockSkew, InvalidEntry
from ledger.keys import KeyPair
from ledger.logkeys import META_ROTATIONS
from ledger.service import Ledger
from ledger.signer import Signer
from ledger.storage import StoredCheckpoint
from tests.support.attacks import (
    FORGED_UNDER_IDENTITY,
    IDENTITY,
    accept,
    as_user,
    chartered_world,
    database_dump,
    key_file,
    other_base64,
    report_json,
    resign_with,
    smuggle,
    verify_bundle,
    written,
)
from tests.support.bundles import append_lines, export, lines
from tests.support.clock import Clock
from tests.support.rawdb import drop_last_entries
from tests.support.server import running_server
from tests.support.web import hidden, sign_in, web_client
from tests.support.world import ORIGIN, World, make_world

R1_1 = action_aggregate_id("R1.1")


@pytest.fixture
def world(cli: Any, config: LedgerConfig, clock: Clock) -> Iterator[World]:
    """R1.1 accepted by the implementation group, waiting for the chair; a checkpoint.
    (`cli` first: it clears the environment's store settings.)"""
    w = make_world(config, clock)
    w.add_action("R1.1")
    accept(w)
    w.checkpoint()
    yield w
    w.ledger.close()


def chair_sign_off(world: World, signer: Signer) -> SignedEntry:
    """The chair-level sign-off of R1.1 as `signer` would sign it next."""
    action = world.ledger.action("R1.1")
    assert action is not None
    payload = {"level": "chair", "evidence": action.current_evidence(), "statement": "verified"}
    return signer.sign(Action.SignedOff.TYPE, R1_1, action.version + 1, payload)


def cosign(world: World, witness: Cosigner) -> None:
    """The witness cosigns the latest checkpoint at the ledger's time (as over HTTP)."""
    stored = world.checkpoint()
    at = int(world.clock.now.timestamp())
    line = witness.cosign(note_body(stored.note), at)
    world.ledger.record_cosignature(stored.tree_size, witness.public.encode(), line, at)


def operators_chair(world: World, how: str, key: str, at: datetime) -> tuple[str, SignedEntry]:
    """The administrator's entry making a chair who holds `key`, dated `at`: the
    registration of a second chair, or the replacement of the real chair's key."""
    admin = dataclasses.replace(world.signer("admin"), clock=lambda: at)
    version = world.ledger.version_of(DIRECTORY_ID) + 1
    if how == "a second chair":
        payload = {"user_id": "chair2", "name": "Chair", "role": "chair", "agency": None}
        entry = admin.sign(
            Directory.UserRegistered.TYPE, DIRECTORY_ID, version, {**payload, "public_key": key}
        )
        return "chair2", entry
    payload = {"user_id": "chair", "new_public_key": key, "reason": "lost laptop"}
    return "chair", admin.sign(Directory.KeyRotated.TYPE, DIRECTORY_ID, version, payload)


def problems_of(folder: Path) -> set[tuple[int | None, str]]:
    """(leaf, check) of every problem in the report `verify_bundle` wrote to `folder`."""
    return {(p["leaf_index"], p["check"]) for p in report_json(folder)["problems"]}


def server_env(config: LedgerConfig) -> dict[str, str]:
    env = {"INQUIRY_LEDGER_HOME": str(config.home)}
    if config.database_url:
        env["INQUIRY_LEDGER_DATABASE_URL"] = config.database_url
    return env


# -- 1 -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["a second chair", "the chair's key replaced"])
def test_attack_1_a_chair_the_operator_made_fails_the_audit_by_name(
    how: str, world: World, cli: Any, tmp_path: Path
) -> None:
    # Attack 1: the operator makes a chair of its own and signs a chair sign-off on R1.1,
    # dated back before a witness looked at the log, appended today.
    witness = Cosigner("chair.witness.example", KeyPair.generate())
    world.clock.advance(hours=1)
    cosign(world, witness)
    fake = KeyPair.generate()
    fake_key = encode_public_key(fake.public_key)
    admin = as_user(world, "admin", tmp_path)
    # The front door refuses both ways of making one, for the administrator.
    code, _, err = cli(*admin, "users", "add", "chair2", "--name", "Chair", "--role", "chair",
                       "--public-key", fake_key)  # fmt: skip
    assert code == 3 and "appointed only by their own charter" in err
    code, _, err = cli(*admin, "keys", "rotate", "chair", "--public-key", fake_key, "--reason", "x")
    assert code == 3 and "only the chair may rotate the chair's key" in err

    # So the operator writes them into its database, dated an hour back...
    past = world.clock.now - timedelta(minutes=59)
    chair, change = operators_chair(world, how, fake_key, past)
    sign_off = chair_sign_off(world, Signer(chair, fake, ORIGIN, clock=lambda: past))
    changed, signed = smuggle(world.config, [change, sign_off])
    # ...signs a checkpoint over them with the log key and exports.
    assert cli("checkpoint")[0] == 0
    assert cli("export", "--out", str(tmp_path / "bundle"))[0] == 0

    wkey = written(tmp_path / "chair.wkey", witness.public.encode() + "\n")
    audit_dir = tmp_path / "audit"
    code, out, err = verify_bundle(
        cli, world, tmp_path / "bundle", audit_dir, "--rules", "--witness-key", wkey
    )
    assert code == 1 and "FAILED" in out
    assert f"entry {changed}: not authorised" in err  # the administrator appoints no chair
    found = problems_of(audit_dir)
    assert {(changed, "dated before a witness"), (signed, "dated before a witness")} <= found
    assert (signed, "unknown signer") in found  # no chair holds that key
    assert "keys.json" in {check for _, check in found}  # the directory it shows is not the log's
    # What the directory holds, in plain words: the real chair's charter, rooted in the key
    # the auditor pinned, and nothing of the operator's chair.
    changes = report_json(audit_dir)["directory_changes"]
    assert any("adopted the charter" in c and "a root you pinned" in c for c in changes)
    assert not any(fake_key in c or key_id_for(fake.public_key) in c for c in changes)


# -- 2 -------------------------------------------------------------------------------------------


def test_attack_2_init_keeps_no_private_key_of_the_administrator(cli: Any, tmp_path: Path) -> None:
    # Attack 2: `init` made the first administrator's key and kept it on the server
    # (HOME/keys/users/admin.key): the operator could sign as the administrator.
    code, _, err = cli("init", "--origin", ORIGIN)
    assert code == 2 and "keys new" in err
    own = tmp_path / "admin.key"  # made on the administrator's own machine
    assert cli("keys", "new", "--out", str(own))[0] == 0
    code, _, err = cli("init", "--origin", ORIGIN, "--admin-key", str(own))
    assert code == 0, err
    config = cli.config
    assert not config.user_key_path("admin").exists()
    secret = KeyPair.read(own).private_key.private_bytes_raw()
    pem_body = own.read_text().splitlines()[1]
    kept = database_dump(config) + b"".join(
        path.read_bytes()
        for path in config.home.rglob("*")
        if path.is_file() and path != config.log_key_path
    )
    for spelling in (secret, base64.b64encode(secret), secret.hex().encode(), pem_body.encode()):
        assert spelling not in kept
    # Nothing the server holds signs as the administrator.
    another = encode_public_key(KeyPair.generate().public_key)
    code, _, err = cli("--as", "admin", "users", "add", "admin2", "--name", "A", "--role",
                       "admin", "--public-key", another)  # fmt: skip
    assert code == 2 and "cannot read key file" in err


# -- 3 -------------------------------------------------------------------------------------------


def test_attack_3_the_charter_keeps_the_chairs_signing_off_the_operators_page(
    cli: Any, config: LedgerConfig, clock: Clock, tmp_path: Path
) -> None:
    # Attack 3: any script the operator serves can use a browser key while the page is open,
    # so signing in the browser gave the chair no protection from the operator.
    world = chartered_world(config, clock, ["chair"])
    try:
        world.add_action("R1.1")
        accept(world)
        directory = world.ledger.directory()
        assert directory is not None and directory.charter is not None
        assert directory.charter.off_page_roles == {"chair"}  # the chair signed that into the log
        key = world.keys["chair"]
        with web_client(world) as http:
            csrf = sign_in(http, "chair")
            # The operator's script asks the chair's page to sign: refused, and no browser key.
            ask = {
                "action_id": "R1.1",
                "command": "sign_off",
                "key_id": key.key_id,
                "inputs": {"statement": "Verified"},
            }
            refused = http.post("/web/prepare", json=ask, headers={"X-CSRF-Token": csrf})
            assert refused.status_code == 403 and refused.json()["error"] == "off_page_only"
            assert 'id="keys-app"' not in http.get("/keys").text
            # The chair downloads the statement, signs it on their own machine, pastes it back.
            form = {
                "csrf": csrf,
                "action_id": "R1.1",
                "command": "sign_off",
                "key_id": key.key_id,
                "statement": "Verified",
            }
            body_b64 = hidden(http.post("/web/off-page", data=form).text, "body")
            body = base64.b64decode(body_b64)
            statement = tmp_path / "statement.json"
            statement.write_bytes(body)
            code, signature, shown = cli(
                "sign", str(statement), "--key", key_file(world, "chair", tmp_path)
            )
            assert code == 0 and "action.signed_off" in shown and "Verified" in shown
            recorded = http.post(
                "/web/off-page/record",
                data={"csrf": csrf, "action_id": "R1.1", "body": body_b64, "signature": signature},
                follow_redirects=False,
            )
            assert recorded.status_code == 303, recorded.text
        # What the log holds is exactly the statement the chair's machine signed.
        size = world.ledger.tree_size()
        [(_, stored)] = world.ledger.leaf_entries(size - 1, size)
        entry = SignedEntry.from_entry_bytes(stored)
        assert entry.body.signing_bytes() == body
        assert base64.b64encode(entry.signature).decode() == signature.strip()
        assert world.ledger.action("R1.1").status is Status.VERIFIED  # type: ignore[union-attr]
        report = audit(
            export(world, tmp_path / "b"), log_key=world.vkey.encode(), trust=world.trust
        )
        assert report.ok, report.problems
    finally:
        world.ledger.close()


# -- 4 -------------------------------------------------------------------------------------------


def test_attack_4_a_stolen_retired_log_key_signs_nothing_anyone_accepts(
    world: World, cli: Any, tmp_path: Path
) -> None:
    # Attack 4: with the retired log key stolen, deleting log-key-rotations.jsonl made an
    # auditor pinning the old and the new key accept the old key's checkpoints of any
    # size; and `witness cosign` took the rotation list from the server.
    stolen = NoteSigner(ORIGIN, KeyPair.read(world.config.log_key_path))
    old = world.vkey.encode()
    assert cli("log-key", "rotate")[0] == 0
    world.client("council.officer").comment("R1.1", "after the rotation")
    world.checkpoint()
    both = f"{old}\n{world.vkey.encode()}\n"
    assert cli("export", "--out", str(tmp_path / "bundle"))[0] == 0
    thief = KeyPair.generate()
    forged = chair_sign_off(world, Signer("chair", thief, ORIGIN, clock=world.clock))
    for dropped, said in ((False, "after its retirement"), (True, "no rotation statement binds")):
        bundle = Path(shutil.copytree(tmp_path / "bundle", tmp_path / f"thief-{dropped}"))
        with (bundle / "entries.jsonl").open("ab") as entries:
            entries.write(forged.entry_bytes() + b"\n")
        resign_with(bundle, stolen)  # a longer history, signed with the retired key
        if dropped:
            (bundle / "log-key-rotations.jsonl").unlink()
        code, _, err = verify_bundle(
            cli, world, bundle, tmp_path / f"audit-{dropped}", log_key=both
        )
        assert code == 1 and said in err, err

    # The witness pins both keys; the operator's server hides the rotation, then shows a
    # checkpoint the retired key signed after its retirement.
    cosigner = tmp_path / "witness.key"
    assert cli("witness", "new-key", "--name", "chair.example", "--out", str(cosigner))[0] == 0
    token = TokenStore(world.ledger.tables).create("chair", timedelta(days=1))
    tables = world.ledger.tables
    rotations = tables.get_meta(META_ROTATIONS)
    assert rotations is not None
    with running_server(server_env(world.config)) as url:

        def witness_cosign() -> tuple[int, str, str]:
            return cli(  # type: ignore[no-any-return]
                "--server", url, "--token", token, "witness", "cosign", "--name", "chair.example",
                "--key", str(cosigner), "--log-key", written(tmp_path / "both.vkey", both),
                "--state", str(tmp_path / "witness-state"),
            )  # fmt: skip

        tables.set_meta(META_ROTATIONS, "[]")
        code, _, err = witness_cosign()
        assert code == 1 and "no rotation statement binds" in err
        tables.set_meta(META_ROTATIONS, rotations)
        world.client("council.officer").comment("R1.1", "one more")
        size = world.ledger.tree_size()
        root = world.ledger.root_hash(size)
        note = Checkpoint(ORIGIN, size, root).sign(stolen)
        tables.insert_checkpoint(StoredCheckpoint(size, root, note, "now"))
        code, _, err = witness_cosign()
        assert code == 1 and "retired" in err
    assert tables.cosignatures() == []


# -- 5 -------------------------------------------------------------------------------------------


def test_attack_5_the_rules_replay_names_every_entry_it_could_not_replay(
    world: World, cli: Any, tmp_path: Path
) -> None:
    # Attack 5: `verify-bundle --rules` skipped entries it could not parse, or whose signer
    # the domain did not know, and still said the rules held.
    bundle = export(world, tmp_path / "bundle")
    forged = chair_sign_off(world, Signer("chair", KeyPair.generate(), ORIGIN, clock=world.clock))
    first = append_lines(world, bundle, b'{"not":"an entry"}', forged.entry_bytes())
    code, _, err = verify_bundle(cli, world, bundle, tmp_path / "audit", "--rules")
    assert code == 1
    assert f"entry {first}: not replayed" in err and f"entry {first + 1}: not replayed" in err
    total = len(lines(bundle))
    checks = report_json(tmp_path / "audit")["checks"]
    assert any(f"(replayed {total - 2} of {total})" in check for check in checks)


# -- 6 -------------------------------------------------------------------------------------------


def test_attack_6_an_entry_signed_for_another_ledger_is_refused(
    world: World, cli: Any, tmp_path: Path
) -> None:
    # Attack 6: entries named no ledger, so the chair's sign-off on the training copy was
    # appended to production and accepted.
    training = Signer("chair", world.keys["chair"], "training.example/ledger", clock=world.clock)
    sign_off = chair_sign_off(world, training)
    with pytest.raises(InvalidEntry, match=r"signed for the log 'training\.example/ledger'"):
        world.ledger.append([sign_off])
    (leaf,) = smuggle(world.config, [sign_off])  # the operator writes it in anyway
    assert cli("checkpoint")[0] == 0
    assert cli("export", "--out", str(tmp_path / "bundle"))[0] == 0
    code, _, err = verify_bundle(cli, world, tmp_path / "bundle", tmp_path / "audit")
    assert code == 1 and f"entry {leaf}: another log" in err


# -- 7 -------------------------------------------------------------------------------------------


def test_attack_7a_a_pinned_witness_that_cosigned_nothing_fails_the_audit(
    world: World, cli: Any, tmp_path: Path
) -> None:
    # Attack 7: `--witness-key` passed a bundle with no cosignature from that witness.
    witness = Cosigner("chair.witness.example", KeyPair.generate())
    pinned = written(tmp_path / "chair.wkey", witness.public.encode() + "\n")
    bundle = export(world, tmp_path / "unwitnessed")
    code, _, err = verify_bundle(cli, world, bundle, tmp_path / "a1", "--witness-key", pinned)
    assert code == 1 and "not witnessed" in err
    cosign(world, witness)
    bundle = export(world, tmp_path / "witnessed")
    code, _, err = verify_bundle(cli, world, bundle, tmp_path / "a2", "--witness-key", pinned)
    assert code == 0, err


def test_attack_7b_a_fork_shown_to_two_witnesses_is_a_split_view(
    world: World, cli: Any, tmp_path: Path
) -> None:
    # Attack 7: the log showed the chair one history and scrutiny another of the same size;
    # each verified the bundle against its own side's saved checkpoint only.
    chair_saw = written(tmp_path / "chair.note", world.checkpoint().note)
    fork = Checkpoint(ORIGIN, world.ledger.tree_size(), bytes(32)).sign(world.log_signer)
    scrutiny_saw = written(tmp_path / "scrutiny.note", fork)
    bundle = export(world, tmp_path / "bundle")
    code, _, err = verify_bundle(cli, world, bundle, tmp_path / "a1", "--since", chair_saw)
    assert code == 0, err  # the chair's side alone sees nothing wrong
    code, _, err = verify_bundle(
        cli, world, bundle, tmp_path / "a2", "--since", chair_saw, "--since", scrutiny_saw
    )
    assert code == 1 and "split view" in err


def test_attack_7c_entries_dropped_after_every_saved_checkpoint_break_a_receipt(
    world: World, cli: Any, tmp_path: Path
) -> None:
    # Attack 7: entries after the newest checkpoint anyone saved could be dropped and the
    # checkpoints re-signed, and the clients who appended them had no receipt.
    keep = world.ledger.tree_size()
    officer = as_user(world, "council.officer", tmp_path)
    code, out, err = cli(*officer, "act", "R1.1", "comment", "the police never replied")
    assert code == 0 and "receipt under checkpoint" in out, err
    drop_last_entries(world.config, keep)
    with Ledger(world.config) as shorter:
        shorter.sign_checkpoint(world.log_signer)  # the operator re-signs the shorter log
    pinned = written(tmp_path / "log.vkey", world.vkey.encode() + "\n")
    code, _, err = cli("receipts", "check", "--log-key", pinned)
    assert code == 1 and "NO LONGER IN THE LOG AT ITS PLACE" in err


def test_attack_7d_checkpoints_are_signed_without_the_operators_hand(
    world: World, cli: Any, tmp_path: Path
) -> None:
    # Attack 7: checkpoints were signed only by hand: the chair got 403 asking for one and
    # export refused without a fresh one, so the operator chose what was ever signed.
    officer = world.client("council.officer")
    officer.comment("R1.1", "after the last checkpoint")
    with web_client(world) as http:
        chair = {"Authorization": f"Bearer {http.tokens['chair']}"}
        response = http.post("/v1/checkpoint", headers=chair)
    assert response.status_code == 200, response.text
    assert Checkpoint.verify(response.text, world.vkey).size == world.ledger.tree_size()
    officer.comment("R1.1", "and another")
    signed = RegularCheckpoints(world.ledger, world.config, 60).tick()  # the server's own
    assert signed is not None and signed.tree_size == world.ledger.tree_size()
    officer.comment("R1.1", "and a third")
    code, out, err = cli("export", "--out", str(tmp_path / "bundle"))
    assert code == 0 and f"exported {world.ledger.tree_size()} entries" in out, err


# -- 8 -------------------------------------------------------------------------------------------


def test_attack_8_an_entry_dated_ahead_blocks_nobody(world: World) -> None:
    # Attack 8: an officer's entry dated now + 299 s blocked the chair's and the
    # implementation group's entries on that action for five minutes, renewable at will.
    def comment_dated_ahead(by: Any) -> SignedEntry:
        signer = dataclasses.replace(
            world.signer("council.officer"), clock=lambda: world.clock.now + by
        )
        following = world.ledger.next_entry(R1_1)
        payload = {"kind": "comment", "text": "dated ahead"}
        return signer.sign(
            Action.CommentAdded.TYPE,
            R1_1,
            following.version,
            payload,
            not_before=following.not_before,
        )

    with pytest.raises(ClockSkew, match="too far in the future"):
        world.ledger.append([comment_dated_ahead(timedelta(seconds=299))])
    world.ledger.append([comment_dated_ahead(DEFAULT_FORWARD_SKEW)])  # the most allowed
    world.client("chair").comment("R1.1", "right after")
    world.client("sig").comment("R1.1", "and again")  # neither had to wait
    stamps = [e.timestamp for e in world.ledger.aggregate_events(R1_1)[-3:]]
    assert stamps == sorted(stamps) and stamps[-1] > world.clock.now


# -- 9 -------------------------------------------------------------------------------------------


def test_attack_9_small_order_keys_and_respelled_signatures_are_refused(
    world: World, cli: Any, tmp_path: Path
) -> None:
    # Attack 9: the identity point was accepted as a public key at registration and
    # rotation, after which anyone could sign as its holder; and a signature spelled in
    # non-canonical base64 was accepted.
    identity = encode_public_key(IDENTITY)
    code, _, err = cli(*as_user(world, "chair", tmp_path), "users", "add", "ghost", "--name",
                       "Ghost", "--role", "scrutiny", "--public-key", identity)  # fmt: skip
    assert code == 2 and "small order" in err
    code, _, err = cli(*as_user(world, "council.officer", tmp_path), "keys", "rotate",
                       "council.officer", "--public-key", identity, "--reason", "x")  # fmt: skip
    assert code == 2 and "small order" in err
    with pytest.raises(InvalidEntry, match="small order"):
        world.client("chair").register_user("ghost", "Ghost", "scrutiny", None, IDENTITY)
    with pytest.raises(InvalidEntry, match="small order"):
        world.client("council.officer").rotate_key("council.officer", IDENTITY, "x")

    # The operator writes into a bundle the registration of an identity key, the "signature"
    # anyone can make under it, and an honest entry with its signature spelled another way.
    bundle = export(world, tmp_path / "bundle")
    ghost = world.signer("admin").sign(
        Directory.UserRegistered.TYPE,
        DIRECTORY_ID,
        world.ledger.version_of(DIRECTORY_ID) + 1,
        {
            "user_id": "ghost",
            "name": "Ghost",
            "role": "admin",
            "agency": None,
            "public_key": identity,
        },
    )
    body = chair_sign_off(world, world.signer("chair")).body
    forged = SignedEntry(
        dataclasses.replace(body, actor="ghost", key_id=key_id_for(IDENTITY)), FORGED_UNDER_IDENTITY
    )
    honest = world.signer("chair").sign(
        Action.CommentAdded.TYPE, R1_1, body.version + 1, {"kind": "comment", "text": "mine"}
    )
    text = base64.b64encode(honest.signature).decode()
    respelled = honest.entry_bytes().replace(text.encode(), other_base64(text).encode())
    with pytest.raises(EntryFormatError, match="canonical base64"):
        SignedEntry.from_entry_bytes(respelled)
    first = append_lines(world, bundle, ghost.entry_bytes(), forged.entry_bytes(), respelled)
    code, _, err = verify_bundle(cli, world, bundle, tmp_path / "audit")
    assert code == 1
    assert f"entry {first}: malformed entry" in err and "small order" in err
    assert f"entry {first + 1}: unknown signer" in err
    assert f"entry {first + 2}: malformed entry" in err and "canonical base64" in err


# -- every capability at once --------------------------------------------------------------------


def test_an_operator_with_every_capability_cannot_pass_a_chair_act_the_chair_did_not_sign(
    world: World, cli: Any, tmp_path: Path
) -> None:
    """The admin key, the log key, the database and the clock, all at once. Neither a whole
    log of the operator's making (the real origin and log key, its own administrator and
    charter, its clock set back to when the real log began, every rule kept) nor a chair
    sign-off written into the real log's database and covered by a checkpoint the log key
    signs passes `verify-bundle --trust` pinning the chair's key."""
    # A log of its own, chair and all, under the real origin and log key.
    forged_config = LedgerConfig(home=tmp_path / "forged")
    forged_config.log_key_path.parent.mkdir(parents=True)
    shutil.copy2(world.config.log_key_path, forged_config.log_key_path)
    forged = make_world(forged_config, Clock())
    try:
        forged.add_action("R1.1")
        accept(forged)
        forged.client("chair").sign_off("R1.1", "verified")
        assert forged.vkey == world.vkey
        bundle = export(forged, tmp_path / "forged-bundle")
    finally:
        forged.ledger.close()
    code, _, err = verify_bundle(cli, world, bundle, tmp_path / "audit-forged", "--rules")
    assert code == 1 and "entry 1: authority not rooted" in err  # its charter: not the chair's

    # The real log: a chair sign-off under the chair's key id, made with another key, written
    # straight into the database and covered by a checkpoint signed with the log key.
    mallory = KeyPair.generate()
    body = chair_sign_off(world, Signer("chair", mallory, ORIGIN, clock=world.clock)).body
    body = dataclasses.replace(body, key_id=world.keys["chair"].key_id)
    (leaf,) = smuggle(world.config, [SignedEntry(body, mallory.sign(body.signing_bytes()))])
    assert cli("checkpoint")[0] == 0
    assert cli("export", "--out", str(tmp_path / "bundle"))[0] == 0
    code, _, err = verify_bundle(cli, world, tmp_path / "bundle", tmp_path / "audit", "--rules")
    assert code == 1 and f"entry {leaf}: bad signature" in err
