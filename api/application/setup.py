"""Creating a ledger: its log keys, its genesis entry and its first checkpoint.

The log has two keys: the Ed25519 log key (HOME/keys/log.key, published as log.vkey),
which every verifier and the witness network pin, and a post-quantum ML-DSA-44 key
(HOME/keys/log-pq.key, published as log-pq.vkey) that signs every checkpoint a second
time, bound to the first by a statement both sign (ledger/pqkeys.py). Where this
`cryptography` has no ML-DSA the ledger is made with the Ed25519 key alone (`pq_vkey`
None); `inquiry-ledger log-key add-pq` adds the second key later.

The first administrator's key is made on their side (``inquiry-ledger keys new``) and only
read here to sign the genesis: the server keeps no user's private key. Nor does the
administrator hold any authority over the inquiry's process: that comes from the chair's
charter (domain/charter.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from domain import DIRECTORY_ID, Directory
from ledger.auditor.ed25519 import encode_public_key
from ledger.auditor.mldsa import mldsa_supported
from ledger.auditor.note import NoteSigner
from ledger.config import LedgerConfig
from ledger.errors import LedgerError
from ledger.keys import KeyPair
from ledger.pqkeys import bind_pq_key
from ledger.service import Ledger
from ledger.signer import Signer


class AlreadyInitialised(LedgerError):
    code = "already_initialised"


@dataclass(frozen=True)
class InitResult:
    origin: str
    log_vkey: str
    pq_vkey: str | None = None


def _load_or_create(path: Path) -> KeyPair:
    if path.exists():
        return KeyPair.read(path)
    key = KeyPair.generate()
    key.write(path)
    return key


def initialise(
    config: LedgerConfig,
    *,
    origin: str,
    admin_id: str,
    admin_name: str,
    admin_key: KeyPair,
    ledger: Ledger | None = None,
    post_quantum: bool = True,
) -> InitResult:
    """Create the ledger. Safe to re-run after a failure part-way: keys already written
    are reused, and an existing genesis entry makes it refuse rather than fork the log.

    `post_quantum`: also make the ML-DSA-44 log key (when this cryptography has ML-DSA);
    False makes a ledger as one made before that key existed (tests of `add-pq`)."""
    own = ledger is None
    ledger = ledger or Ledger(config)
    try:
        if ledger.directory() is not None:
            raise AlreadyInitialised(f"a ledger already exists in {config.describe_store()}")
        log_signer = NoteSigner(origin, _load_or_create(config.log_key_path))
        signer = Signer(admin_id, admin_key, origin, clock=ledger.clock)
        genesis = signer.sign(
            Directory.Created.TYPE,
            DIRECTORY_ID,
            1,
            {
                "origin": origin,
                "admin_id": admin_id,
                "admin_name": admin_name,
                "public_key": encode_public_key(admin_key.public_key),
            },
        )
        ledger.append([genesis])
        vkey = log_signer.verifier.encode()
        config.log_vkey_path.parent.mkdir(parents=True, exist_ok=True)
        config.log_vkey_path.write_text(vkey + "\n")
        ledger.tables.set_meta("log_vkey", vkey)
        pq_vkey = None
        if post_quantum and mldsa_supported():
            with ledger.append_lock():  # before the first checkpoint, which then carries it
                pq_vkey = bind_pq_key(config, ledger, origin).pq.encode()
        ledger.sign_checkpoint(log_signer)
        return InitResult(origin, vkey, pq_vkey)
    finally:
        if own:
            ledger.close()
