"""The standalone auditor: verify an exported bundle without trusting whoever exported it.

This package depends only on the Python standard library and `cryptography`, and imports
nothing else from this project, so an auditor can read it end to end and run it on a
machine of their own (``python -m ledger.auditor BUNDLE --log-key FILE``). It is also the
ledger's one implementation of every format it signs and checks, which the rest of the
project imports:

- canonical.py: canonical JSON (RFC 8785, integers only) and strict JSON;
- merkle.py: RFC 9162 hashing, proof verification, the compact range;
- ed25519.py: public keys, key ids, signature checks;
- note.py, checkpoint.py, cosignature.py: C2SP signed notes, verifier keys,
  tlog-checkpoint and tlog-cosignature;
- rotation.py: log-key rotation statements and the keys valid for each tree size;
- mldsa.py, pqkey.py: the log's second, post-quantum (ML-DSA-44) signature on its
  checkpoints, and the statement that binds that key to the log key;
- entry.py: the signed entry and the bytes its signature covers;
- receipt.py: the receipt of an append (leaf, signed checkpoint, inclusion proof);
- authority.py: who may sign what;
- keyindex.py: the bundle's keys.json, written by the exporter and checked by the audit;
- dating.py: history dated against the witnesses' cosignature times;
- pins.py: the log key and the roots of authority the auditor pinned (or did not);
- checkpoint_roots.py: the root each tree size must hash to, and split views;
- witnesses.py: the pinned witnesses' cosignatures, k of n;
- signers.py: each entry's key and authority, replayed from the directory;
- evidence.py: the evidence manifest and blobs against the attachments;
- bundle.py, findings.py, signatures.py, audit.py: reading a bundle and auditing it
  (audit.py orders the checks and streams the entries once for all of them).

The audit re-derives everything from the signed entries:

0. the log audited is the one the pinned log key is named for (a log key is always named
   by its log's origin): bundle.json, every checkpoint, the genesis and every entry must
   name it, so a checkpoint of another log signed with the same key is refused, and the
   summary's first line names it;
1. every entry is canonical JSON in the documented format, and its Ed25519 signature
   verifies over the canonical body, with the key that was registered to its actor and
   not revoked *at that point in the log* (keys are replayed from the directory events;
   a directory entry the domain refuses whoever signs it, such as a user registered
   twice or a key revoked that is not the named user's, is reported and not replayed);
2. the signer's role, and for officers and agency leads their agency, may sign that kind
   of event (authority.py: who may sign what, never what state it leaves);
3. per aggregate, versions run 1, 2, 3... and timestamps never go backwards;
4. the RFC 9162 Merkle root of the first n entries equals the root in every signed
   checkpoint of size n; the latest checkpoint covers every entry; two checkpoints of the
   same size with different roots (a split view) are reported; with the post-quantum
   log key the auditor pinned (`pq_log_key`), every checkpoint since that key was added
   carries its valid ML-DSA-44 signature (pqkey.py);
5. with a checkpoint the auditor saved on an earlier visit (`since`), the first n entries
   of today's log still hash to that root: nothing was rewritten since, even if the
   operator re-signed a rewritten history with the log key;
6. the evidence manifest names exactly the blobs the entries attach, and (with
   `evidence=True`) each blob in the bundle re-hashes to its SHA-256 and size;
7. cosignatures by the witnesses the auditor pins (C2SP tlog-cosignature) verify, and
   two saved checkpoints of one size with different roots are reported as a split view;
   no entry after a checkpoint a pinned witness cosigned at time T is dated more than
   five minutes before T (backdated), and none it holds more than five minutes after T
   (future-dated): dating.py. A pinned witness's cosignature on a checkpoint saved
   earlier (`since`) dates and counts like one in the bundle, so the operator cannot
   move the dates back by dropping it from the bundle;
8. keys.json, the directory as people read it, lists exactly the users, roles, keys and
   leaves of the directory replayed in step 1.

The lifecycle rules (which status may follow which) are the project's domain code, which
`inquiry-ledger verify-bundle --rules` replays on top of this when the project is installed;
it fails closed: an entry it cannot parse, map to a domain event or attribute to a signer
the directory knows is a problem, and it reports how many entries of how many it replayed.
"""

from __future__ import annotations

from ledger.auditor.audit import Auditor, audit
from ledger.auditor.bundle import BUNDLE_FORMAT, Bundle
from ledger.auditor.errors import FormatError
from ledger.auditor.findings import AuditReport, Finding, write_report

__all__ = [
    "BUNDLE_FORMAT",
    "AuditReport",
    "Auditor",
    "Bundle",
    "Finding",
    "FormatError",
    "audit",
    "write_report",
]
