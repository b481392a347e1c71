"""The `inquiry-ledger` command line: small command modules over a public common module."""

from api.cli.main import main

__all__ = ["main"]
