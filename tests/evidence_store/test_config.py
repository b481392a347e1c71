"""The evidence store's settings from the environment: whole numbers in ASCII digits only."""

from __future__ import annotations

from pathlib import Path

import pytest

from evidence_store.base import EvidenceError
from evidence_store.config import EvidenceConfig


@pytest.mark.parametrize("text", ["\u0665", "\u00b2", "+5", " 5", "5.0", "-1"])
def test_a_size_that_is_not_ascii_digits_is_refused_with_its_name(
    tmp_path: Path, text: str
) -> None:
    """`str.isdigit` is true of U+0665 (so it was accepted) and of U+00B2 (int() crashed)."""
    with pytest.raises(EvidenceError, match="EVIDENCE_MAX_BYTES must be a whole number"):
        EvidenceConfig.from_env(tmp_path, {"INQUIRY_LEDGER_EVIDENCE_MAX_BYTES": text})


def test_a_size_in_ascii_digits_is_read(tmp_path: Path) -> None:
    config = EvidenceConfig.from_env(tmp_path, {"INQUIRY_LEDGER_EVIDENCE_MAX_BYTES": "1048576"})
    assert config.max_bytes == 1048576


def test_a_key_encryption_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    # Whoever reads the KEK reads every encrypted blob (issue 17).
    config = EvidenceConfig.from_env(tmp_path, {})
    first = config.kek()  # created 0600 on first use
    assert config.kek_file is not None and config.kek() == first
    config.kek_file.chmod(0o644)
    with pytest.raises(EvidenceError, match="readable by others"):
        config.kek()
