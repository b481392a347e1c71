"""Other spellings of the same bytes: what a signer may not send in place of the one
canonical text of a key or a signature (tests/ledger/test_public_keys.py,
tests/ledger/test_nine_attacks.py)."""

from __future__ import annotations

import base64


def other_base64(text: str) -> str:
    """The same bytes in base64 with an unused pad bit set: a second spelling."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    at = len(text.rstrip("=")) - 1
    changed = text[:at] + alphabet[alphabet.index(text[at]) | 1] + text[at + 1 :]
    assert changed != text and base64.b64decode(changed) == base64.b64decode(text)
    return changed
