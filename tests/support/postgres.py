"""Where the tests' PostgreSQL server is: 127.0.0.1:5432 with trust authentication on every
machine of this kind; INQUIRY_LEDGER_TEST_POSTGRES points elsewhere."""

from __future__ import annotations

import os

POSTGRES_ADMIN_URL = os.environ.get(
    "INQUIRY_LEDGER_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
