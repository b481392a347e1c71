"""The browser's own proof checks (api/http/pages/static/public.js), run in Node's
WebCrypto (the same API a browser offers): inclusion and consistency proofs for every
tree size up to 70 and leaf or old size in it, from RFC 9162's own recursive definitions
computed here; each proof passes, and each with a node flipped or at the wrong index
fails. Chromium runs the whole page in tests/api/http/public/."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ledger.auditor.cosignature import Cosigner
from ledger.auditor.note import NoteSigner
from ledger.keys import KeyPair

SCRIPT = Path(__file__).resolve().parents[3] / "api/http/pages/static/public.js"
SIZES = range(1, 71)


def _leaf(i: int) -> bytes:
    return hashlib.sha256(b"\x00" + f"entry {i}".encode()).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


def mth(leaves: list[bytes]) -> bytes:
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return _node(mth(leaves[:k]), mth(leaves[k:]))


def path(m: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 9162 2.1.3.1 PATH(m, D[n])."""
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if m < k:
        return [*path(m, leaves[:k]), mth(leaves[k:])]
    return [*path(m - k, leaves[k:]), mth(leaves[:k])]


def subproof(m: int, leaves: list[bytes], complete: bool) -> list[bytes]:
    """RFC 9162 2.1.4.1 SUBPROOF(m, D[n], b)."""
    n = len(leaves)
    if m == n:
        return [] if complete else [mth(leaves)]
    k = _split(n)
    if m <= k:
        return [*subproof(m, leaves[:k], complete), mth(leaves[k:])]
    return [*subproof(m - k, leaves[k:], False), mth(leaves[:k])]


def b64(items: list[bytes]) -> list[str]:
    return [base64.b64encode(item).decode() for item in items]


def _node_bin() -> str:
    found = shutil.which("node")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Node.js is missing: the browser script's proof checks cannot run")
        pytest.skip("Node.js is not installed")
    return found


def run_node(cases: dict[str, object], tmp_path: Path) -> dict[str, object]:
    driver = tmp_path / "driver.mjs"
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    driver.write_text(
        f"""
import {{readFileSync}} from "node:fs";
const m = await import({json.dumps(SCRIPT.as_uri())});
const cases = JSON.parse(readFileSync({json.dumps(str(tmp_path / "cases.json"))}, "utf8"));
const b = (t) => Uint8Array.from(Buffer.from(t, "base64"));
const same = (x, y) => x !== null && Buffer.from(x).equals(Buffer.from(y));
const out = {{inclusion: [], consistency: [], notes: null}};
for (const c of cases.inclusion) {{
  const root = await m.inclusionRoot(c.index, c.size, b(c.leaf), c.proof.map(b));
  out.inclusion.push(same(root, b(c.root)));
}}
for (const c of cases.consistency) {{
  out.consistency.push(await m.consistent(c.old, c.size, b(c.old_root), b(c.root), c.proof.map(b)));
}}
const n = cases.notes;
const logKey = await m.parseVkey(n.vkey, 1);
const body = await m.verifiedBy(n.note, logKey);
const witness = await m.parseVkey(n.witness, 4);
let forged = null;
try {{
  await m.verifiedBy(n.note.replace("\\n", "\\n "), logKey);
}} catch (e) {{
  forged = e.message;
}}
out.notes = {{
  size: body.size, origin: body.origin,
  cosigned: await m.cosignedAt(n.note, witness),
  forged,
  uuid: await m.uuid5("action:R10.1"),
}};
console.log(JSON.stringify(out));
"""
    )
    done = subprocess.run([_node_bin(), str(driver)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    found: dict[str, object] = json.loads(done.stdout)
    return found


def test_the_browser_checks_every_small_tree_as_rfc_9162_defines_it(tmp_path: Path) -> None:
    from domain import action_aggregate_id

    leaves = [_leaf(i) for i in range(max(SIZES))]
    inclusion, expected_inclusion = [], []
    consistency, expected_consistency = [], []
    flipped = base64.b64encode(b"\xff" * 32).decode()
    for size in SIZES:
        tree = leaves[:size]
        root = base64.b64encode(mth(tree)).decode()
        for index in range(size):
            proof = b64(path(index, tree))
            leaf = base64.b64encode(tree[index]).decode()
            case = {"index": index, "size": size, "leaf": leaf, "proof": proof, "root": root}
            inclusion.append(case)
            expected_inclusion.append(True)
            if proof:
                inclusion.append({**case, "proof": [flipped, *proof[1:]]})
                expected_inclusion.append(False)
            if size > 1:
                inclusion.append({**case, "index": (index + 1) % size})
                expected_inclusion.append(False)  # another leaf's position
        for old in range(1, size + 1):
            old_root = base64.b64encode(mth(tree[:old])).decode()
            proof = b64(subproof(old, tree, True)) if old < size else []
            case = {"old": old, "size": size, "old_root": old_root, "root": root, "proof": proof}
            consistency.append(case)
            expected_consistency.append(True)
            if proof:
                consistency.append({**case, "proof": [*proof[:-1], flipped]})
                expected_consistency.append(False)
    log = NoteSigner("example.org/log", KeyPair.generate())
    note = "example.org/log\n12\n" + base64.b64encode(b"\x07" * 32).decode() + "\n"
    signed = note + "\n" + log.signature_line(note)
    witness = Cosigner("example.org/witness", KeyPair.generate())
    signed += witness.cosign(note, 1_700_000_000) + "\n"
    notes = {"vkey": log.verifier.encode(), "note": signed, "witness": witness.public.encode()}
    found = run_node({"inclusion": inclusion, "consistency": consistency, "notes": notes}, tmp_path)
    assert found["inclusion"] == expected_inclusion
    assert found["consistency"] == expected_consistency
    assert len(expected_inclusion) > 4000 and len(expected_consistency) > 2000
    assert found["notes"] == {
        "size": 12,
        "origin": "example.org/log",
        "cosigned": 1_700_000_000,
        "forged": "the log key's signature on the checkpoint is not valid",
        "uuid": str(action_aggregate_id("R10.1")),
    }
