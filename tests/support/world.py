"""A small ledger with a plan, two agencies and one user per role, for tests."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any

import pytest

from api.application.commands import Client
from api.application.setup import initialise
from domain import PLAN_ID, Plan
from evidence_store.local import LocalEvidenceStore
from ledger.auditor.ed25519 import encode_public_key
from ledger.auditor.note import NoteSigner, VerifierKey
from ledger.config import LedgerConfig
from ledger.keys import KeyPair
from ledger.service import Ledger
from ledger.signer import Signer

ORIGIN = "test.example/ledger"
USERS: list[tuple[str, str, str | None]] = [
    ("council.lead", "agency_lead", "council"),
    ("council.officer", "officer", "council"),
    ("police.lead", "agency_lead", "police"),
    ("police.officer", "officer", "police"),
    ("sig", "implementation_group", None),
    ("chair", "chair", None),
    ("scrutiny", "scrutiny", None),
]


@dataclass
class World:
    config: LedgerConfig
    ledger: Ledger
    clock: Any
    keys: dict[str, KeyPair] = field(default_factory=dict)

    def client(self, user: str) -> Client:
        return Client(self.ledger, self.signer(user))

    def signer(self, user: str) -> Signer:
        return Signer(user, self.keys[user], ORIGIN, clock=self.clock)

    @property
    def trust(self) -> str:
        """The roots an auditor pins (`verify-bundle --trust`): the chair's charter key."""
        return encode_public_key(self.keys["chair"].public_key) + "\n"

    @property
    def log_signer(self) -> NoteSigner:
        return NoteSigner(ORIGIN, KeyPair.read(self.config.log_key_path))

    @property
    def vkey(self) -> VerifierKey:
        return self.log_signer.verifier

    def checkpoint(self) -> Any:
        return self.ledger.sign_checkpoint(self.log_signer)

    def evidence(self, action_id: str, content: bytes, by: str = "council.officer") -> str:
        blob = LocalEvidenceStore(self.config.evidence_dir).put(BytesIO(content))
        self.client(by).attach_evidence(
            action_id,
            {
                "sha256": blob.sha256,
                "size": blob.size,
                "media_type": "text/plain",
                "original_name": "minutes.txt",
                "description": "Minutes",
                "storage_key": blob.storage_key,
                "effective_date": "2023-01-01",
            },
        )
        return blob.sha256

    def add_action(self, action_id: str = "R1.1", lead: str = "council") -> None:
        self.client("sig").add_action(
            {
                "action_id": action_id,
                "recommendation": int(action_id[1:].split(".")[0]),
                "title": f"Action {action_id}",
                "lead_agency": lead,
                "lead_officers": ["Lead"],
                "expected_outcome": "Done",
                "evidence_required": "Minutes",
                "due_date": "2023-06-30",
            }
        )


def make_world(config: LedgerConfig, clock: Any) -> World:
    ledger = Ledger(config, clock=clock, evidence=LocalEvidenceStore(config.evidence_dir))
    admin_key = KeyPair.generate()
    initialise(
        config,
        origin=ORIGIN,
        admin_id="admin",
        admin_name="Admin",
        admin_key=admin_key,
        ledger=ledger,
    )
    world = World(config, ledger, clock, {"admin": admin_key})
    world.keys["chair"] = KeyPair.generate()
    world.keys["sig"] = KeyPair.generate()
    chair = world.client("chair")
    chair.adopt_charter("Chair", "Test inquiry")
    chair.register_user("sig", "Sig", "implementation_group", None, world.keys["sig"].public_key)
    sig = world.signer("sig")
    ledger.append(
        [
            sig.sign(
                Plan.Created.TYPE,
                PLAN_ID,
                1,
                {
                    "title": "Test plan",
                    "source": "tests",
                    "agencies": [
                        {"id": "council", "name": "Council"},
                        {"id": "police", "name": "Police"},
                    ],
                    "recommendations_expected": 3,
                },
            ),
            sig.sign(
                Plan.RecommendationAdded.TYPE,
                PLAN_ID,
                2,
                {"number": 1, "title": "First", "text": "", "lead_agencies": ["council", "police"]},
            ),
            sig.sign(
                Plan.RecommendationAdded.TYPE,
                PLAN_ID,
                3,
                {"number": 2, "title": "Second", "text": "", "lead_agencies": ["police"]},
            ),
        ]
    )
    for user_id, role, agency in USERS:
        if user_id in world.keys:
            continue
        key = KeyPair.generate()
        world.keys[user_id] = key
        appointer = f"{agency}.lead" if role == "officer" else "chair"
        world.client(appointer).register_user(
            user_id, user_id.title(), role, agency, key.public_key
        )
    return world


def clear_store_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove the evidence-store settings (S3, encryption) from the environment for one
    test: the store is chosen from it, and a developer's own S3 settings must not leak
    into tests that expect the embedded local default."""
    for name in list(os.environ):
        if name.startswith(("INQUIRY_LEDGER_S3_", "INQUIRY_LEDGER_EVIDENCE_")):
            monkeypatch.delenv(name)
