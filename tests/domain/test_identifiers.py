"""Identifiers and other checked strings are matched whole: Python's `$` also matches
before a final newline, so "chair\\n" would have been a valid look-alike of "chair"
(issue 17)."""

from __future__ import annotations

import pytest

from domain.errors import InvalidInput
from domain.reminders import MESSAGE_ID, SHA256_HEX
from domain.rules import IDENTIFIER, require_identifier


@pytest.mark.parametrize("value", ["chair\n", "chair\r\n", "sig\n", "a\nb"])
def test_an_identifier_with_a_line_break_is_refused(value: str) -> None:
    assert IDENTIFIER.fullmatch(value) is None
    with pytest.raises(InvalidInput):
        require_identifier(value, "user_id", "directory.register_user")


def test_a_plain_identifier_is_accepted() -> None:
    require_identifier("council.officer-2", "user_id", "directory.register_user")


def test_message_ids_and_digests_are_matched_whole() -> None:
    assert MESSAGE_ID.fullmatch("<a@b>") and not MESSAGE_ID.fullmatch("<a@b>\n")
    assert SHA256_HEX.fullmatch("0" * 64) and not SHA256_HEX.fullmatch("0" * 64 + "\n")
