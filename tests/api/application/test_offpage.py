"""What signing off the page shares between the pages and `inquiry-ledger sign`: who must
sign that way (read defensively from the charter), strict body parsing, names, and text
that cannot hide anything when shown."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from uuid import uuid4

import pytest

from api.application.offpage import (
    BodyError,
    action_in_name,
    file_name,
    must_sign_off_page,
    off_page_roles,
    read_body,
    shown,
)
from domain import Actor, Role, action_aggregate_id
from ledger.auditor.entry import EventBody


def _body(type_name: str = "action.signed_off", aggregate: str = "R1.1") -> EventBody:
    fields = {
        "type": type_name,
        "aggregate_id": action_aggregate_id(aggregate),
        "version": 3,
        "timestamp": datetime(2024, 7, 1, 9, 30, tzinfo=UTC),
        "actor": "kc",
        "key_id": "0123456789abcdef",
        "payload": {"statement": "ok"},
    }
    if "origin" in EventBody.__dataclass_fields__:
        fields["origin"] = "council.example/inquiry"
    return EventBody(**fields)  # type: ignore[arg-type]


def test_the_charter_is_read_defensively() -> None:
    chair = Actor("kc", Role.CHAIR, None)
    assert off_page_roles(SimpleNamespace()) == frozenset()  # before charters existed
    assert off_page_roles(SimpleNamespace(charter=None)) == frozenset()  # none adopted
    charter = SimpleNamespace(off_page_roles=frozenset({"chair"}))
    assert must_sign_off_page(SimpleNamespace(charter=charter), chair)
    officer = Actor("jo", Role.OFFICER, "council")
    assert not must_sign_off_page(SimpleNamespace(charter=charter), officer)


def test_only_the_exact_canonical_bytes_of_a_body_are_read() -> None:
    body = _body()
    data = body.signing_bytes()
    assert read_body(data) == body
    for bad in (data + b"\n", b" " + data, data.replace(b'":', b'": ', 1), b"[]", b"\xff"):
        with pytest.raises(BodyError):
            read_body(bad)


def test_names_and_shown_text() -> None:
    body = _body()
    assert file_name(body, "R1.1") == "action.signed_off-R1.1-v3.json"
    assert file_name(_body('a"b\r\nc'), "R1.1") == "a_b__c-R1.1-v3.json"
    assert action_in_name("action.signed_off-R1.1-v3.json", body.aggregate_id) == "R1.1"
    assert action_in_name("action.signed_off-R1.2-v3.json", body.aggregate_id) is None
    assert action_in_name("renamed.json", uuid4()) is None
    assert shown("a\x1b[31mb\u202ec\nd\u200be é") == "a\\u001b[31mb\\u202ec\\nd\\u200be é"
