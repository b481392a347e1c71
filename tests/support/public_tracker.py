"""A published ledger for the public tracker's tests (issue 16), and the edits an attacker
makes to a public page on its way to the reader.

The ledger is the demo's (`inquiry-ledger demo`: the Telford plan and a simulated history
to July 2024), plus one officer registered under a personal name who makes a public
decision and keeps private records (a comment and an evidence file named after her), so
that a public page showing her name, her comment or her file's name is caught.

A page carries its proof material as JSON in ``<script id="public-proofs">`` and shows
the same facts in its HTML after that script; `Tamper` edits either part and says
whether it changed anything, so a test can insist that each edit really altered the page.
"""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

from jinja2.utils import htmlsafe_json_dumps

from api.application.commands import Client
from api.application.tokens import TokenStore
from domain import Status
from evidence_store.local import LocalEvidenceStore
from ledger.config import LedgerConfig
from ledger.keys import KeyPair
from ledger.service import Ledger
from ledger.signer import Signer
from tests.support.server import REPO, free_port

#: The localStorage key the page keeps the reader's pins in (api/http/pages/static/public.js).
PINS = "inquiry-ledger.public.pins"
#: The officer with a personal name: her id is a role handle, as the README asks of a
#: published ledger; her name, comment and file name must never be public.
OFFICER = "council.caseworker"
OFFICER_NAME = "Priya Raman-Okafor"
#: A council action the demo leaves in progress (returned to the council, overdue); the
#: officer blocks it (a public decision).
OFFICER_ACTION = "R7.1"
OFFICER_REASON = "awaiting the regional safeguarding board's terms of reference"
OFFICER_COMMENT = "Spoke to Priya Raman-Okafor's line manager about the family on Tuesday."
OFFICER_FILE = "R7.1-Priya-Raman-Okafor-home-visit-notes.txt"
OFFICER_FILE_DESCRIPTION = "Home visit notes kept by Priya Raman-Okafor"
#: The comment appended once the witness has stopped (the last, uncosigned checkpoint).
LATE_COMMENT = "Internal: chase the board secretary before the next Full Council."


#: The witness that cosigns (the chair's), and one a reader pins that never cosigned.
WITNESS_NAME = "chair.inquiry.example"


def clean_environment() -> dict[str, str]:
    """This process's environment without any INQUIRY_LEDGER_ setting."""
    return {k: v for k, v in os.environ.items() if not k.startswith("INQUIRY_LEDGER_")}


def _environment(home: Path) -> dict[str, str]:
    return {**clean_environment(), "INQUIRY_LEDGER_HOME": str(home), "PYTHONPATH": str(REPO)}


def cli(home: Path, *args: str, timeout: float = 120) -> str:
    """Run `inquiry-ledger ARGS` as its own process on `home`; its stdout."""
    result = subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        env=_environment(home),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, f"inquiry-ledger {' '.join(args)}: {result.stderr[-2000:]}"
    return result.stdout


@dataclass(frozen=True)
class Seeded:
    origin: str
    log_vkey: str
    officer_key: Path
    officer_token: str
    size: int  # the log's size once seeded (the server's first checkpoint covers it)
    private: tuple[str, ...]  # text no public page or JSON may contain


def seed(home: Path, folder: Path) -> Seeded:
    """The demo's ledger in `home`, plus the named officer's decision and private records
    (appended now, on the real clock: after every demo entry, so the ledger takes them)."""
    cli(home, "demo")
    config = LedgerConfig(home=home)
    store = LocalEvidenceStore(config.evidence_dir)
    officer_key = KeyPair.generate()
    officer_key_file = folder / "caseworker.key"
    officer_key.write(officer_key_file)
    with Ledger(config, evidence=store) as ledger:
        origin = ledger.origin()
        lead = Client(
            ledger,
            Signer("council.lead", KeyPair.read(config.user_key_path("council.lead")), origin),
        )
        lead.register_user(OFFICER, OFFICER_NAME, "officer", "council", officer_key.public_key)
        officer = Client(ledger, Signer(OFFICER, officer_key, origin))
        blob = store.put(BytesIO(b"Simulated notes for the public tracker's tests.\n"))
        officer.attach_evidence(
            OFFICER_ACTION,
            {
                "sha256": blob.sha256,
                "size": blob.size,
                "media_type": "text/plain",
                "original_name": OFFICER_FILE,
                "description": OFFICER_FILE_DESCRIPTION,
                "storage_key": blob.storage_key,
                "effective_date": datetime.now(UTC).date().isoformat(),
            },
        )
        officer.comment(OFFICER_ACTION, OFFICER_COMMENT)
        officer.change_status(OFFICER_ACTION, Status.BLOCKED, OFFICER_REASON)
        token = TokenStore(ledger.tables).create(OFFICER, timedelta(days=1))
        private = private_texts(ledger)
        size = ledger.tree_size()
    return Seeded(
        origin=origin,
        log_vkey=(home / "log.vkey").read_text().strip(),
        officer_key=officer_key_file,
        officer_token=token,
        size=size,
        private=(*private, LATE_COMMENT),
    )


@dataclass(frozen=True)
class Witness:
    url: str
    vkey: str  # NAME+HASH+KEY, as `witness new-key` prints it for readers to pin


@contextmanager
def witness_process(folder: Path, log_vkey: str) -> Iterator[Witness]:
    """`inquiry-ledger witness serve` as its own process on a free loopback port, pinning
    the log's key; stopped (its connections with it) when the block ends."""
    folder.mkdir(parents=True)
    key, pinned = folder / "witness.key", folder / "log.vkey"
    printed = cli(folder, "witness", "new-key", "--name", WITNESS_NAME, "--out", str(key))
    vkey = printed.split("readers pin it): ", 1)[1].strip()
    pinned.write_text(log_vkey + "\n")
    port = free_port()
    command = [
        sys.executable, "-m", "api.cli", "witness", "serve", "--name", WITNESS_NAME,
        "--key", str(key), "--log-key", str(pinned), "--state", str(folder / "state"),
        "--port", str(port),
    ]  # fmt: skip
    with tempfile.TemporaryFile() as log_file:
        process = subprocess.Popen(
            command, env=_environment(folder), cwd=REPO, stdout=log_file, stderr=log_file
        )
        try:

            def listening() -> bool:
                assert process.poll() is None, "the witness did not start"
                with socket.socket() as sock:
                    return sock.connect_ex(("127.0.0.1", port)) == 0

            wait_for("the witness", listening, bool)
            yield Witness(f"http://127.0.0.1:{port}", vkey)
        finally:
            process.terminate()
            process.wait(timeout=30)
            log_file.seek(0)
            output = log_file.read()
        assert b"Traceback" not in output, output.decode(errors="replace")[-3000:]


def private_texts(ledger: Ledger) -> tuple[str, ...]:
    """Everything the log holds that is never public: every name in the directory (and
    the charter's chair), every comment's text, and the name and description of every
    evidence file its agency has not published (a published file is public by the
    agency's signed statement). A body's name the ledger signed as one of its words
    (`plan.wording_set`: "Strategic Implementation Group") is public by that entry."""
    found: set[str] = set()
    words: set[str] = set()
    directory = ledger.require_directory()
    found |= {user.name for user in directory.users.values()}
    evidence: dict[str, set[str]] = {}
    published: set[str] = set()
    for _leaf, raw in ledger.entries():
        entry = json.loads(raw)
        kind, payload = entry["type"], entry["payload"]
        if kind in ("ledger.created", "directory.charter_adopted"):
            found.add(payload.get("admin_name") or payload["name"])
        elif kind == "action.comment_added":
            found.add(payload["text"])
        elif kind == "action.evidence_attached":
            names = evidence.setdefault(payload["sha256"], set())
            names |= {payload["original_name"], payload["description"]}
        elif kind == "action.evidence_published":
            published.add(payload["sha256"])
        elif kind == "action.evidence_unpublished":
            published.discard(payload["sha256"])
        elif kind == "plan.wording_set":
            words |= set(payload["words"].values())
    for sha256, names in evidence.items():
        if sha256 not in published:
            found |= names
    return tuple(sorted(t for t in found - words if t))


def get(url: str) -> tuple[int, str]:
    """GET `url`: (status, body), 4xx and 5xx included."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def get_json(url: str) -> Any:
    status, body = get(url)
    assert status == 200, f"{url}: {status} {body[:300]}"
    return json.loads(body)


def wait_for(
    what: str, probe: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 30.0
) -> Any:
    """Poll `probe` until `done` says its value is the one awaited; that value."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if done(found):
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}: last {found!r}"
        time.sleep(0.2)


def cosignature_time(note: str, name: str) -> int:
    """The time (Unix seconds) in `name`'s cosignature/v1 line of a checkpoint note."""
    for line in note.splitlines():
        if line.startswith(f"\u2014 {name} "):
            raw = base64.b64decode(line.split(" ")[2])
            return int.from_bytes(raw[4:12], "big")
    raise AssertionError(f"no cosignature by {name} in {note!r}")


def reads_as(seconds: int) -> str:
    """A Unix time as the page writes it (public.js `when`)."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


# -- editing a page in transit ---------------------------------------------------------

_PROOFS = re.compile(r'(<script type="application/json" id="public-proofs">)(.*?)(</script>)', re.S)


def flip_base64(text: str, at: int) -> str:
    """`text` (base64) with one bit of byte `at` flipped."""
    raw = bytearray(base64.b64decode(text))
    raw[at] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def flip_signature(note: str, name: str, at: int) -> str:
    """The note with a bit flipped in byte `at` of `name`'s signature line's blob."""
    lines = note.split("\n")
    for i, line in enumerate(lines):
        if line.startswith(f"\u2014 {name} "):
            prefix, blob = line.rsplit(" ", 1)
            lines[i] = f"{prefix} {flip_base64(blob, at)}"
            return "\n".join(lines)
    raise AssertionError(f"no signature line by {name}")


def flip_root(note: str) -> str:
    """The checkpoint note with a bit of its body's root hash flipped (signatures kept)."""
    lines = note.split("\n")
    lines[2] = flip_base64(lines[2], 0)
    return "\n".join(lines)


def entry_of(found: dict[str, Any], leaf: int) -> dict[str, Any]:
    """The proof material (entry bytes and inclusion proof) of log entry `leaf`."""
    return next(e for e in found["proofs"]["entries"] if e["leaf_index"] == leaf)


def fact_of(found: dict[str, Any], leaf: int) -> dict[str, Any]:
    """The fact the page's view shows for log entry `leaf`."""
    return next(e for e in found["view"]["entries"] if e["leaf_index"] == leaf)


def edit_entry(found: dict[str, Any], leaf: int, old: str, new: str) -> None:
    """Rewrite text inside log entry `leaf`'s own bytes (its base64 JSON)."""
    item = entry_of(found, leaf)
    text = base64.b64decode(item["entry"]).decode()
    assert old in text, f"{old!r} not in entry {leaf}"
    item["entry"] = base64.b64encode(text.replace(old, new, 1).encode()).decode()


def decoded_entries(found: dict[str, Any]) -> list[dict[str, Any]]:
    return [json.loads(base64.b64decode(e["entry"])) for e in found["proofs"]["entries"]]


def in_item(dom: str, leaf: int, old: str, new: str) -> str:
    """The page's HTML with `old` replaced by `new` once, inside decision `leaf`'s item."""
    start = dom.index(f'<li data-leaf="{leaf}"')
    end = dom.index("</li>", start)
    item = dom[start:end]
    assert old in item, f"{old!r} not in the item of log entry {leaf}"
    return dom[:start] + item.replace(old, new, 1) + dom[end:]


@dataclass
class Tamper:
    """An edit of a public page's HTML: `proofs` mutates the page's JSON (its view and
    proof material), `dom` rewrites the HTML after it (what the reader reads)."""

    proofs: Callable[[dict[str, Any]], None] | None = None
    dom: Callable[[str], str] | None = None

    def apply(self, html: str) -> str:
        match = _PROOFS.search(html)
        assert match, "the page carries no proof material"
        found = json.loads(match.group(2))
        if self.proofs is not None:
            self.proofs(found)
        data = str(htmlsafe_json_dumps(found, sort_keys=True))
        head, rest = html[: match.start()], html[match.end() :]
        if self.dom is not None:
            rest = self.dom(rest)
        return head + match.group(1) + data + match.group(3) + rest


def proofs_in(html: str) -> dict[str, Any]:
    """The JSON a page carries (its view, proof material and the keys it states)."""
    match = _PROOFS.search(html)
    assert match, "the page carries no proof material"
    found: dict[str, Any] = json.loads(match.group(2))
    return found
