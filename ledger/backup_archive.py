"""The backup file: a zip of named parts, a manifest of their SHA-256, and encrypted secrets.

Layout::

    manifest.json   format, origin, log key(s), counts, the scrypt parameters, and for every
                    other part its SHA-256 and size
    manifest.mac    HMAC-SHA256 of manifest.json under a key derived from the passphrase
    secrets.enc     the home folder's key material (log signing key, evidence KEK, wrapped
                    evidence data keys, keys kept for users), AES-256-GCM under a key derived
                    from the passphrase; its associated data is the format name
    db/*.jsonl      the event store and the ledger's tables, one JSON array a row
    home/*          public files of the home folder (log.vkey, the log key history)
    evidence/...    the evidence manifest, and with --evidence the local blobs as stored

Why a passphrase and not plain files: the log's signing key and the evidence KEK are the
two secrets of the server; a backup that held them in clear would be the easiest way to
steal them. The passphrase (INQUIRY_LEDGER_BACKUP_PASSPHRASE or --passphrase-file) is
stretched with scrypt (n=2^15, r=8, p=1), so a stolen backup costs a guessing attack per
candidate; the file is also created mode 0600. The MAC makes the manifest, and through its
hashes every part, authentic to whoever knows the passphrase: a backup edited by someone
without it is refused before anything is restored.

The scrypt parameters are read from the manifest, which cannot be authenticated before
the key is derived from them: whoever hands over a backup chooses them. So they are
bounded first by what this version writes (n <= 2^15, r <= 8, p <= 1: about 32 MiB and a
tenth of a second), and a manifest asking for more (n=2^20, r=32, p=16 would be 4 GiB
and seconds of CPU per attempt) is refused before scrypt runs. The manifest and its MAC
are read with size limits for the same reason.

Reading checks everything first (zip structure, MAC, every part's hash and size, no part
that the manifest does not list) and only then hands out parts.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

BACKUP_FORMAT = "inquiry-ledger/backup/v1"
MANIFEST = "manifest.json"
MAC = "manifest.mac"
SECRETS = "secrets.enc"
MIN_PASSPHRASE = 12
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
#: The weakest parameters accepted on reading (a backup is never written weaker).
SCRYPT_MIN_N = 2**10
SALT_SIZES = range(16, 65)
#: Unauthenticated members are read with these limits (a manifest lists one part per
#: table and per blob: 64 MiB is some 400,000 parts).
MANIFEST_LIMIT = 64 * 1024 * 1024
MAC_LIMIT = 1024


class BackupError(Exception):
    """A backup cannot be written, or a backup file is unreadable, altered or incomplete."""


def check_kdf(salt: bytes, n: int, r: int, p: int) -> None:
    """Refuse scrypt parameters above what this version writes, before they cost anything.

    They come from the manifest, which is authenticated only with the key they derive,
    so anyone can write them; bounded by the writer's own, scrypt costs at most what a
    genuine backup costs (128 * r * n = 32 MiB)."""
    power_of_two = n > 0 and n & (n - 1) == 0
    if not (
        SCRYPT_MIN_N <= n <= SCRYPT_N and power_of_two and 1 <= r <= SCRYPT_R and 1 <= p <= SCRYPT_P
    ):
        raise BackupError(
            "the backup's key-derivation parameters are out of bounds: scrypt "
            f"n={_shown(n)} r={_shown(r)} p={_shown(p)}; this version writes n={SCRYPT_N} "
            f"r={SCRYPT_R} p={SCRYPT_P} and reads no more (n a power of two from "
            f"{SCRYPT_MIN_N}): a tampered manifest, or not a backup of this product; "
            "nothing was derived or restored"
        )
    if len(salt) not in SALT_SIZES:
        raise BackupError(f"the backup's scrypt salt is {len(salt)} bytes, not 16 to 64")


def _shown(value: int) -> str:
    text = str(value)
    return text if len(text) <= 20 else f"{text[:8]}...({len(text)} digits)"


def _derive(passphrase: bytes, salt: bytes, n: int, r: int, p: int) -> tuple[bytes, bytes]:
    """(encryption key, MAC key) from the passphrase, with parameters `check_kdf` allows."""
    check_kdf(salt, n, r, p)
    raw = Scrypt(salt=salt, length=64, n=n, r=r, p=p).derive(passphrase)
    return raw[:32], raw[32:]


def check_passphrase(passphrase: bytes) -> bytes:
    if len(passphrase) < MIN_PASSPHRASE:
        raise BackupError(f"the backup passphrase must be at least {MIN_PASSPHRASE} characters")
    return passphrase


class _HashingWriter:
    """A zip member being written, hashed and counted on the way."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.stream.write(data)
        self.digest.update(data)
        self.size += len(data)


class ArchiveWriter:
    """Writes a backup beside its destination and links it into place only when whole."""

    def __init__(self, out: Path, passphrase: bytes) -> None:
        if out.exists():
            raise BackupError(f"{out} already exists; choose a new name")
        self.out = out
        self.passphrase = check_passphrase(passphrase)
        self.salt = os.urandom(16)
        self.enc_key, self.mac_key = _derive(passphrase, self.salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
        self.parts: dict[str, dict[str, Any]] = {}
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part")
        os.fchmod(fd, 0o600)  # mkstemp already uses 0600; say so explicitly
        self.tmp = Path(tmp)
        self.file = os.fdopen(fd, "w+b")
        self.zip = zipfile.ZipFile(self.file, "w", zipfile.ZIP_DEFLATED, allowZip64=True)

    @contextmanager
    def part(self, name: str) -> Iterator[_HashingWriter]:
        if name in self.parts or name in (MANIFEST, MAC):
            raise BackupError(f"part {name} written twice")
        with self.zip.open(name, "w", force_zip64=True) as stream:
            writer = _HashingWriter(stream)
            yield writer
        self.parts[name] = {"sha256": writer.digest.hexdigest(), "size": writer.size}

    def add(self, name: str, data: bytes) -> None:
        with self.part(name) as writer:
            writer.write(data)

    def add_secrets(self, files: dict[str, bytes]) -> None:
        """Encrypt {relative path: content} of the home folder's key material."""
        document = {path: base64.b64encode(data).decode() for path, data in sorted(files.items())}
        nonce = os.urandom(12)
        sealed = AESGCM(self.enc_key).encrypt(
            nonce, json.dumps(document).encode(), BACKUP_FORMAT.encode()
        )
        self.add(SECRETS, nonce + sealed)

    def finish(self, meta: dict[str, Any]) -> Path:
        manifest = dict(meta)
        manifest.update(
            format=BACKUP_FORMAT,
            kdf={
                "name": "scrypt",
                "salt": base64.b64encode(self.salt).decode(),
                "n": SCRYPT_N,
                "r": SCRYPT_R,
                "p": SCRYPT_P,
            },
            parts=self.parts,
        )
        data = json.dumps(manifest, indent=1, sort_keys=True).encode()
        self.zip.writestr(MANIFEST, data)
        self.zip.writestr(MAC, hmac.new(self.mac_key, data, hashlib.sha256).hexdigest())
        self.zip.close()
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        try:
            os.link(self.tmp, self.out)  # never replaces an existing file
        except FileExistsError:
            raise BackupError(f"{self.out} appeared while the backup was written") from None
        finally:
            self.tmp.unlink(missing_ok=True)
        return self.out

    def abort(self) -> None:
        with suppress(OSError, ValueError, zipfile.BadZipFile):
            self.zip.close()
        self.file.close()
        self.tmp.unlink(missing_ok=True)


class ArchiveReader:
    """A backup whose every part has been checked; refuses anything altered or missing."""

    def __init__(self, path: Path, passphrase: bytes) -> None:
        self.path = path
        try:
            self.zip = zipfile.ZipFile(path)
        except FileNotFoundError:
            raise BackupError(f"no backup file at {path}") from None
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
            raise BackupError(
                f"{path} is not a readable backup (truncated or corrupt: {error})"
            ) from None
        try:
            self.manifest, self.enc_key = self._check(passphrase)
        except BaseException:
            self.zip.close()
            raise

    def _raw(self, name: str, limit: int | None = None) -> bytes:
        """The member `name`; with `limit`, refused if it holds more than `limit` bytes
        (read at most one byte past it, whatever the zip's header claims)."""
        try:
            with self.zip.open(name) as stream:
                data = stream.read() if limit is None else stream.read(limit + 1)
        except KeyError:
            raise BackupError(f"the backup has no {name}: it is incomplete") from None
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError) as error:
            raise BackupError(f"the backup's {name} is corrupt: {error}") from None
        if limit is not None and len(data) > limit:
            raise BackupError(
                f"the backup's {name} is larger than {limit} bytes: not a backup of this product"
            )
        return data

    def _check(self, passphrase: bytes) -> tuple[dict[str, Any], bytes]:
        data = self._raw(MANIFEST, MANIFEST_LIMIT)
        try:
            manifest = json.loads(data)
            if not isinstance(manifest, dict) or manifest.get("format") != BACKUP_FORMAT:
                raise BackupError(f"{self.path} is not an {BACKUP_FORMAT} backup")
            kdf = manifest["kdf"]
            salt = base64.b64decode(kdf["salt"], validate=True)
            n, r, p = kdf["n"], kdf["r"], kdf["p"]
            if not all(type(value) is int for value in (n, r, p)):
                raise TypeError("scrypt n, r and p must be integers")
            parts = manifest["parts"]
            if not isinstance(parts, dict):
                raise TypeError("parts")
        except (ValueError, KeyError, TypeError, RecursionError, binascii.Error) as error:
            if isinstance(error, BackupError):
                raise
            raise BackupError(f"the backup's manifest is malformed ({error})") from None
        check_kdf(salt, n, r, p)  # before anything costs: the manifest is not yet authentic
        mac = self._raw(MAC, MAC_LIMIT).strip()
        enc_key, mac_key = _derive(passphrase, salt, n, r, p)
        expected = hmac.new(mac_key, data, hashlib.sha256).hexdigest().encode()
        if not hmac.compare_digest(expected, mac):
            raise BackupError(
                "the backup's manifest does not authenticate: wrong passphrase, or the backup "
                "was altered"
            )
        members = set(self.zip.namelist()) - {MANIFEST, MAC}
        unlisted = sorted(members - set(parts))
        if unlisted:
            raise BackupError(f"the backup holds parts its manifest does not list: {unlisted[:3]}")
        for name, record in sorted(parts.items()):
            digest, size = hashlib.sha256(), 0
            try:
                with self.zip.open(name) as stream:
                    while chunk := stream.read(1 << 20):
                        digest.update(chunk)
                        size += len(chunk)
            except KeyError:
                raise BackupError(f"the backup has no {name}: it is incomplete") from None
            except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError) as error:
                raise BackupError(f"the backup's {name} is corrupt: {error}") from None
            if not isinstance(record, dict) or (digest.hexdigest(), size) != (
                record.get("sha256"),
                record.get("size"),
            ):
                raise BackupError(f"the backup's {name} does not match its manifest (altered)")
        return manifest, enc_key

    def has(self, name: str) -> bool:
        return name in self.manifest["parts"]

    def names(self, prefix: str) -> list[str]:
        return sorted(n for n in self.manifest["parts"] if n.startswith(prefix))

    def read(self, name: str) -> bytes:
        return self._raw(name)

    def lines(self, name: str) -> Iterator[bytes]:
        with self.zip.open(name) as stream:
            for line in stream:
                yield line.rstrip(b"\n")

    def open(self, name: str) -> IO[bytes]:
        return self.zip.open(name)

    def secrets(self) -> dict[str, bytes]:
        if not self.has(SECRETS):
            return {}
        sealed = self._raw(SECRETS)
        try:
            plain = AESGCM(self.enc_key).decrypt(sealed[:12], sealed[12:], BACKUP_FORMAT.encode())
        except (InvalidTag, ValueError):
            raise BackupError("the backup's key material does not decrypt (altered)") from None
        document = json.loads(plain)
        return {path: base64.b64decode(text) for path, text in document.items()}

    def close(self) -> None:
        self.zip.close()

    def __enter__(self) -> ArchiveReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
