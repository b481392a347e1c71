"""What the operator of the server can do, for tests/ledger/test_nine_attacks.py: it holds
the database, the log key, the administrator's key and the server's clock. And the
files an honest party keeps on their own side (key files, the trust file, pinned keys)."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest

from api.application.commands import Client
from ledger.auditor.checkpoint import Checkpoint
from ledger.auditor.entry import SignedEntry
from ledger.auditor.merkle import CompactRange, leaf_hash
from ledger.auditor.note import NoteSigner
from ledger.config import LedgerConfig
from tests.support.bundles import lines
from tests.support.histories import agency_signed_off
from tests.support.key_spellings import other_base64 as other_base64  # re-exported
from tests.support.rawdb import RawEvents
from tests.support.world import World, make_world

#: The identity point of Ed25519 (y = 1), a key nobody holds a private half for, under
#: which R = identity, S = 0 "verifies" for every message (tests/ledger/test_public_keys.py).
IDENTITY = bytes([1]) + bytes(31)
FORGED_UNDER_IDENTITY = IDENTITY + bytes(32)


# -- an honest party's own files --------------------------------------------------------------


def written(path: Path, text: str) -> str:
    """Write `text` to `path` and return the path as a command-line argument."""
    path.write_text(text)
    return str(path)


def key_file(world: World, user: str, folder: Path) -> str:
    """`user`'s private key, in a file on their own side."""
    path = folder / f"{user}.key"
    if not path.exists():
        world.keys[user].write(path)
    return str(path)


def as_user(world: World, user: str, folder: Path) -> list[str]:
    """The CLI's global options to sign as `user` with their own key file."""
    return ["--as", user, "--key", key_file(world, user, folder)]


def verify_bundle(
    cli: Any, world: World, bundle: Path, folder: Path, *extra: str, log_key: str | None = None
) -> tuple[int, str, str]:
    """`verify-bundle` as an auditor runs it: pinning the log key (`log_key`, by default
    the world's) and the chair's key (`--trust`) they obtained independently; the report
    goes to folder/report."""
    folder.mkdir(parents=True, exist_ok=True)
    pinned = log_key if log_key is not None else world.vkey.encode() + "\n"
    return cli(  # type: ignore[no-any-return]
        "verify-bundle", str(bundle),
        "--log-key", written(folder / "log.vkey", pinned),
        "--trust", written(folder / "trust.keys", world.trust),
        "--report", str(folder / "report"),
        *extra,
    )  # fmt: skip


def report_json(folder: Path) -> dict[str, Any]:
    """The JSON report `verify_bundle` wrote for `folder`."""
    return json.loads((folder / "report" / "verification-report.json").read_text())  # type: ignore[no-any-return]


def database_dump(config: LedgerConfig) -> bytes:
    """Every row of every table of a PostgreSQL ledger, as text (a SQLite ledger's
    database is a file in its home folder, read with the rest of it)."""
    if not config.database_url:
        return b""
    raw = RawEvents(config)
    tables = raw.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
    )
    rows = [row for (name,) in tables for row in raw.execute(f'SELECT t::text FROM "{name}" t')]
    return "\n".join(str(row[0]) for row in rows).encode()


# -- worlds -------------------------------------------------------------------------------------


def accept(world: World, action_id: str = "R1.1") -> str:
    """Take the action (led by council) to `accepted`: evidence, the agency's sign-off and
    the implementation group's; the chair's is the one left. Returns the evidence's hash."""
    (sha,) = agency_signed_off(world, f"minutes of {action_id}".encode(), action_id=action_id)
    world.client("sig").sign_off(action_id, "accepted")
    return sha


def chartered_world(config: LedgerConfig, clock: Any, off_page_roles: Iterable[str]) -> World:
    """`make_world`, with a charter that requires `off_page_roles` to sign on their own
    machine (as `charter adopt` does for the chair unless --allow-browser-signing)."""
    adopt = functools.partialmethod(Client.adopt_charter, off_page_roles=list(off_page_roles))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Client, "adopt_charter", adopt)
        return make_world(config, clock)


# -- what the operator does behind the ledger's back --------------------------------------------


def smuggle(config: LedgerConfig, entries: Sequence[SignedEntry]) -> list[int]:
    """Write entries straight into the event table (the ledger's checks never see them);
    the ledger integrates them into its tree on its next append or checkpoint. Returns
    the leaf index each will have."""
    raw = RawEvents(config)
    rows = raw.rows()
    first_id = rows[-1][0] + 1 if rows else 1
    for n, entry in enumerate(entries):
        body = entry.body
        raw.insert(first_id + n, body.aggregate_id, body.version, body.type, entry.entry_bytes())
    return [len(rows) + n for n in range(len(entries))]


def resign_with(bundle: Path, signer: NoteSigner) -> int:
    """Sign a checkpoint over the bundle's entries as they now are with `signer` (a log key
    the operator holds, current or stolen) and make bundle.json agree; returns the size."""
    tree = CompactRange()
    for line in lines(bundle):
        tree.append(leaf_hash(line))
    note = Checkpoint(signer.name, tree.size, tree.root()).sign(signer)
    with (bundle / "checkpoints.jsonl").open("a") as handle:
        handle.write(json.dumps({"tree_size": tree.size, "note": note}) + "\n")
    meta = json.loads((bundle / "bundle.json").read_text())
    meta["tree_size"] = tree.size
    (bundle / "bundle.json").write_text(json.dumps(meta))
    return tree.size
