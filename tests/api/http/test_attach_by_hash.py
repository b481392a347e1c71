"""Naming a blob is not reading it: an agency attaches only bytes it holds.

The attack (issue 17): a police officer who has seen the SHA-256 of a council file (in a
timeline, an export, an e-mail) attaches it to a police action by hash, then downloads
it as police evidence; and the refusal before that told them the size to claim. Now the
attach is refused exactly like a blob that does not exist, and the size is never named.
"""

from __future__ import annotations

from typing import Any

import pytest

from domain import Action
from tests.support.api_calls import auth, signed, wire
from tests.support.web import web_client
from tests.support.world import World

COUNCIL_FILE = b"Council safeguarding minutes, March: confidential"


def attach(world: World, user: str, action_id: str, sha256: str, size: int, **extra: Any) -> Any:
    payload = {
        "sha256": sha256,
        "size": size,
        "media_type": "text/plain",
        "original_name": "minutes.txt",
        "description": "Minutes",
        "storage_key": f"sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}",
        "effective_date": "2024-01-01",
        **extra,
    }
    return signed(world, user, Action.EvidenceAttached.TYPE, action_id, payload)


def upload(http: Any, user: str, content: bytes) -> dict[str, Any]:
    response = http.post(
        "/v1/evidence", files={"file": ("f.txt", content)}, headers=auth(http, user)
    )
    assert response.status_code == 201, response.text
    found: dict[str, Any] = response.json()
    return found


def post(http: Any, user: str, entry: Any) -> Any:
    return http.post("/v1/entries", json={"entries": [wire(entry)]}, headers=auth(http, user))


@pytest.fixture
def http(world: World) -> Any:
    """The shared world (R1.1 led by the council) with R1.2 led by the police, served."""
    world.add_action("R1.2", lead="police")
    with web_client(world) as client:
        yield client


@pytest.fixture
def council_blob(world: World, http: Any) -> str:
    """The council's file, uploaded by the council and attached to its R1.1 over HTTP."""
    stored = upload(http, "council.officer", COUNCIL_FILE)
    entry = attach(world, "council.officer", "R1.1", stored["sha256"], stored["size"])
    assert post(http, "council.officer", entry).status_code == 200
    return str(stored["sha256"])


def test_another_agencys_blob_cannot_be_attached_by_hash(
    world: World, http: Any, council_blob: str
) -> None:
    wrong_size = attach(world, "police.officer", "R1.2", council_blob, 1)
    refused = post(http, "police.officer", wrong_size)
    assert refused.status_code == 422
    assert refused.json()["error"] == "missing_evidence"
    assert str(len(COUNCIL_FILE)) not in refused.json()["detail"]  # the size is not told

    right_size = attach(world, "police.officer", "R1.2", council_blob, len(COUNCIL_FILE))
    assert post(http, "police.officer", right_size).status_code == 422
    # and so the file stays the council's to read
    download = http.get(f"/v1/evidence/{council_blob}", headers=auth(http, "police.officer"))
    assert download.status_code == 403


def test_the_refusal_reads_like_a_blob_that_does_not_exist(
    world: World, http: Any, council_blob: str
) -> None:
    never = "ab" * 32
    absent = post(http, "police.officer", attach(world, "police.officer", "R1.2", never, 5))
    present = post(http, "police.officer", attach(world, "police.officer", "R1.2", council_blob, 5))
    assert absent.status_code == present.status_code == 422
    assert absent.json()["detail"].replace(never, "X") == present.json()["detail"].replace(
        council_blob, "X"
    )


def test_an_agency_that_uploads_the_same_bytes_may_attach_them(
    world: World, http: Any, council_blob: str
) -> None:
    """Uploading proves possession: the police holding the same file attach it too."""
    stored = upload(http, "police.officer", COUNCIL_FILE)
    assert stored["sha256"] == council_blob and stored["already_stored"]
    entry = attach(world, "police.officer", "R1.2", council_blob, len(COUNCIL_FILE))
    assert post(http, "police.officer", entry).status_code == 200


def test_an_agency_reattaches_what_it_may_read(world: World, http: Any, council_blob: str) -> None:
    """A blob on one of its own actions may go on another without a new upload (blobs
    attached before uploads were recorded are covered this way)."""
    world.add_action("R1.3", lead="council")
    with world.ledger.tables.datastore.transaction(commit=True) as cursor:
        cursor.execute("DELETE FROM evidence_uploads")  # as on a ledger older than the table
    entry = attach(world, "council.lead", "R1.3", council_blob, len(COUNCIL_FILE))
    assert post(http, "council.lead", entry).status_code == 200


def test_the_signed_media_type_is_what_the_file_is(world: World, http: Any) -> None:
    stored = upload(http, "council.officer", b"plain words, not a PDF")
    assert stored["media_type"] == "text/plain"
    lying = attach(
        world,
        "council.officer",
        "R1.1",
        stored["sha256"],
        stored["size"],
        media_type="application/pdf",
    )
    refused = post(http, "council.officer", lying)
    assert refused.status_code == 422
    assert "text/plain" in refused.json()["detail"]
    honest = attach(world, "council.officer", "R1.1", stored["sha256"], stored["size"])
    assert post(http, "council.officer", honest).status_code == 200
