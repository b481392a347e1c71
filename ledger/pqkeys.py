"""The log's second, post-quantum key (ML-DSA-44): adding it, keeping it, signing with it.

The witness network requires Ed25519, so the log key stays Ed25519 and every checkpoint
keeps that signature; a ledger with a post-quantum key adds a second signature line by it
to every checkpoint it signs, stored or in a receipt (`Ledger.checkpoint_signer`). The
signature format and its type bytes are ledger/auditor/mldsa.py; the statement binding the
key to the log key, and the audit of the lines, ledger/auditor/pqkey.py.

`init` makes the key; `inquiry-ledger log-key add-pq` adds one to an existing ledger.
Either way it is an act of whoever holds the log key: under the append lock, the Ed25519
log key the ledger names (HOME/keys/log.key) and the new key both sign the statement
naming the two keys and the current tree, which is kept in the ledger's metadata (so in
backups; exports copy it to the bundle). From then on checkpoints larger than that tree
carry both lines. Files: HOME/keys/log-pq.key, the private key (PKCS#8 PEM, mode 0600,
never overwritten, never logged; backups carry it encrypted like log.key), and
HOME/log-pq.vkey, its verifier key, to publish beside log.vkey (`GET /v1/log-key/pq`
serves it with the statement).

What is not done: replacing or rotating the post-quantum key (a second `add-pq` is
refused), and making it required of witnesses or `receipts check` (they verify Ed25519).
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from ledger.auditor.mldsa import ALGORITHM, PQSigner, mldsa_supported
from ledger.auditor.note import NoteSigner, sign_note
from ledger.auditor.pqkey import PQBinding
from ledger.auditor.rotation import LogKeyError
from ledger.config import LedgerConfig
from ledger.errors import WrongLogKey
from ledger.keys import KeyFileError, KeyPair, PQKeyPair

META_PQ_KEY = "log_pq_key"  # the statement (ledger/auditor/pqkey.py), once recorded
META_VKEY = "log_vkey"  # the Ed25519 log key the ledger names (ledger/logkeys.py)


def pq_key_path(config: LedgerConfig) -> Path:
    return config.keys_dir / "log-pq.key"


def pq_vkey_path(config: LedgerConfig) -> Path:
    return config.home / "log-pq.vkey"


def pq_statement(tables: Any) -> str | None:
    """The post-quantum key statement the ledger recorded (its `LedgerTables`), if any."""
    return tables.get_meta(META_PQ_KEY)  # type: ignore[no-any-return]


def pq_binding(tables: Any) -> PQBinding | None:
    note = pq_statement(tables)
    return None if note is None else PQBinding.parse(note)


def add_pq_log_key(config: LedgerConfig, ledger: Any) -> PQBinding:
    """Give the ledger its post-quantum key (see the module docstring); return the
    statement. Safe to re-run after a crash part-way: a key file already written is used,
    and a statement already recorded for it only has its files finished. LogKeyError if
    the ledger already has another post-quantum key, or the log key at hand is not the
    one the ledger names."""
    origin = ledger.origin()
    ledger.integrate()
    with ledger.append_lock():
        return bind_pq_key(config, ledger, origin)


def bind_pq_key(config: LedgerConfig, ledger: Any, origin: str) -> PQBinding:
    """`add_pq_log_key` for a caller that already holds the append lock (`init`)."""
    if not mldsa_supported():
        raise LogKeyError(
            f"this cryptography (its OpenSSL) has no {ALGORITHM}: no post-quantum key added"
        )
    key_path = pq_key_path(config)
    recorded = pq_binding(ledger.tables)
    if recorded is not None:
        if key_path.exists() and PQSigner(origin, PQKeyPair.read(key_path)).verifier == recorded.pq:
            _write_vkey(config, recorded)  # finishing a run that stopped after recording
            return recorded
        raise LogKeyError(
            f"this ledger already has a post-quantum log key, {recorded.pq.label} (added at "
            f"size {recorded.size}); it is never replaced"
        )
    log_signer = NoteSigner(origin, KeyPair.read(config.log_key_path))
    named = ledger.tables.get_meta(META_VKEY)
    if named is None or named.strip() != log_signer.verifier.encode():
        raise LogKeyError(
            f"{config.log_key_path} is not the log key the ledger names: no post-quantum key added"
        )
    if key_path.exists():
        pq_key = PQKeyPair.read(key_path)
    else:
        pq_key = PQKeyPair.generate()
        pq_key.write(key_path)
    pq_signer = PQSigner(origin, pq_key)
    size = ledger.tree_size()
    body = PQBinding.body(
        origin, size, ledger.root_hash(size), log_signer.verifier, pq_signer.verifier
    )
    note = sign_note(body, replace(log_signer, also=(pq_signer,)))
    binding = PQBinding.parse(note)
    ledger.tables.set_meta(META_PQ_KEY, note)
    _write_vkey(config, binding)
    return binding


class HeldPQKey:
    """The post-quantum private key in HOME/keys/log-pq.key, read once per change of the
    file (loading an ML-DSA key costs about as much as a receipt's other work)."""

    def __init__(self, config: LedgerConfig) -> None:
        self.path = pq_key_path(config)
        self._loaded: tuple[tuple[int, int, int], PQKeyPair] | None = None

    def signer(self, binding: PQBinding) -> PQSigner:
        """The signer of `binding`'s post-quantum key; WrongLogKey if this side does not
        hold it (then no checkpoint is signed: never one with the Ed25519 line alone)."""
        try:
            stat = self.path.stat()
            stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
            if self._loaded is None or self._loaded[0] != stamp:
                self._loaded = (stamp, PQKeyPair.read(self.path))
        except (OSError, KeyFileError) as error:
            raise WrongLogKey(
                f"the ledger has a post-quantum log key ({binding.pq.label}) but it cannot be "
                f"read here: {error}; no checkpoint signed"
            ) from None
        signer = PQSigner(binding.origin, self._loaded[1])
        if signer.verifier != binding.pq:
            raise WrongLogKey(
                f"{self.path} is not the post-quantum log key the ledger names "
                f"({binding.pq.label}); no checkpoint signed"
            )
        return signer


def _write_vkey(config: LedgerConfig, binding: PQBinding) -> None:
    path = pq_vkey_path(config)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    with os.fdopen(fd, "w") as handle:
        handle.write(binding.pq.encode() + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
