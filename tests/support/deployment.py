"""A served ledger set up the way its people set it up (the charter's rules, issue 13),
for the tests that drive a real `inquiry-ledger serve` with the command line.

On the server's side: the first administrator runs `init` with a key they made on their
own side (init reads it to sign the genesis entry and keeps no copy). Everything else is
over HTTP: the chair, with a key made on their own machine, adopts the charter (carried
by the administrator's token, as nobody has a token for the chair yet), then each
appointment is made in client mode and signed by the appointer the charter names — the chair
appoints the implementation group, the agency leads and scrutiny, each lead registers
their own agency's officers — with the public key the appointee made on their side; the
implementation group imports the plan; the administrator issues each person a token on
the server (`tokens create`, which needs the ledger's folder).

Server-side commands run with the server's environment only, client-mode commands with
a client's home and nothing else, whatever the test's environment is meanwhile.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from api.cli.main import main

Result = tuple[int, str, str]


def cli_runner(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """The CLI in this process: (exit code, stdout, stderr)."""

    def run(*args: str) -> Result:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


@dataclass
class Deployment:
    run: Callable[..., Result]
    monkeypatch: pytest.MonkeyPatch
    server_env: dict[str, str]
    #: Everyone's own key files (each on their own machine; the server never sees them).
    keys: Path
    #: The home a client-mode command keeps its receipts in (no database, no store).
    client_home: Path
    url: str = ""
    tokens: dict[str, str] = field(default_factory=dict)

    def _in(self, env: dict[str, str], args: tuple[str, ...]) -> Result:
        with self.monkeypatch.context() as patch:
            for name in list(os.environ):
                if name.startswith("INQUIRY_LEDGER_"):
                    patch.delenv(name)
            for name, value in env.items():
                patch.setenv(name, value)
            return self.run(*args)

    def on_server(self, *args: str) -> Result:
        """A command run on the server, in the ledger's own folder and database."""
        return self._in(self.server_env, args)

    def on_client(self, *args: str) -> Result:
        """A command run on someone's own machine: client mode, no server settings."""
        return self._in({"INQUIRY_LEDGER_HOME": str(self.client_home)}, args)

    def key(self, user: str) -> Path:
        return self.keys / f"{user}.key"

    def new_key(self, user: str) -> str:
        """`keys new` on the user's own machine; the base64 public key it prints."""
        code, out, err = self.on_client("keys", "new", "--out", str(self.key(user)))
        assert code == 0, err
        found = re.search(r"public key: (\S+)", out)
        assert found is not None, out
        return found.group(1)

    def admin(self) -> list[str]:
        """The first administrator, signing with the key they keep on their side."""
        return ["--as", "admin", "--key", str(self.key("admin"))]

    def initialise(self, origin: str) -> None:
        self.new_key("admin")
        code, _, err = self.on_server(
            "init", "--origin", origin, "--admin-key", str(self.key("admin"))
        )
        assert code == 0, err
        home = Path(self.server_env["INQUIRY_LEDGER_HOME"])
        assert not (home / "keys" / "users" / "admin.key").exists()  # init kept no copy

    def adopt_charter(self, chair: str) -> Path:
        """The chair, on their own machine, makes a key and adopts the charter over HTTP
        (client mode). Nobody holds a token for the chair before the charter makes them
        someone, so the administrator's token carries it: the charter is self-signed, and
        the token grants access, not authority. Returns the trust file for auditors."""
        public_key = self.new_key(chair)
        token = self.tokens.get("admin") or self.token("admin")
        code, out, err = self.on_client(
            "--server", self.url, "--token", token, "--as", chair, "--key", str(self.key(chair)),
            "charter", "adopt", "--name", "Chair", "--title", "Inquiry",
        )  # fmt: skip
        assert code == 0, err
        assert f"root key {public_key}" in out and "receipt under checkpoint" in out, out
        trust = self.keys / "trust.keys"
        trust.write_text(public_key + "\n")
        return trust

    def token(self, user: str) -> str:
        """The administrator issues `user` a token, on the server."""
        code, out, err = self.on_server(*self.admin(), "tokens", "create", user)
        assert code == 0, err
        self.tokens[user] = out.strip()
        return self.tokens[user]

    def as_user(self, user: str) -> list[str]:
        """Client-mode arguments for `user`: the server, their token, their own key."""
        return [
            "--server", self.url, "--token", self.tokens[user],
            "--as", user, "--key", str(self.key(user)),
        ]  # fmt: skip

    def appoint(
        self,
        by: str,
        user: str,
        role: str,
        agency: str | None = None,
        *,
        name: str | None = None,
        public_key: str | None = None,
    ) -> None:
        """`by` registers `user` over HTTP with the public key `user` made on their side
        (a key file made now unless `public_key` is given, e.g. one a browser made);
        then the administrator issues `user` a token."""
        if public_key is None:
            public_key = self.new_key(user)
        extra = ["--agency", agency] if agency else []
        code, _, err = self.on_client(
            *self.as_user(by), "users", "add", user, "--name", name or user,
            "--role", role, "--public-key", public_key, *extra,
        )  # fmt: skip
        assert code == 0, err
        self.token(user)

    def import_plan(self, by: str, files: list[Path], *, expected: int) -> None:
        """The implementation group imports the plan over HTTP, file by file."""
        for i, path in enumerate(files):
            first = ["--title", "Plan", "--expected", str(expected)] if i == 0 else []
            code, out, err = self.on_client(*self.as_user(by), "import", str(path), *first)
            assert code == 0 and "imported" in out, err


@contextmanager
def served_site(
    config: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    origin: str,
    *,
    agency_people: bool = True,
) -> Iterator[Deployment]:
    """A served ledger (SQLite, or the test's PostgreSQL database, from `config`) set up
    over HTTP as its users would: the chair's charter, the implementation group sig and
    its plan (tests/support/sample_plan.py: two recommendations, action R1.1), and, with
    `agency_people`, the council's lead sam and officer jo. Shared by the client-mode
    tests of several commands, each with its own `origin`."""
    from tests.support.sample_plan import ONE_ACTION, RECOMMENDATIONS
    from tests.support.server import running_server

    for name in list(os.environ):
        if name.startswith("INQUIRY_LEDGER_"):
            monkeypatch.delenv(name)
    env = {"INQUIRY_LEDGER_HOME": str(tmp_path / "server-home")}
    if config.database_url:
        env["INQUIRY_LEDGER_DATABASE_URL"] = config.database_url
    deployed = Deployment(
        cli_runner(capsys), monkeypatch, env, tmp_path / "client-keys", tmp_path / "client-home"
    )
    deployed.initialise(origin)
    (tmp_path / "recs.csv").write_text(RECOMMENDATIONS)
    (tmp_path / "actions.csv").write_text(ONE_ACTION)
    with running_server(env) as url:
        deployed.url = url
        deployed.adopt_charter("chair")
        deployed.token("chair")
        deployed.appoint("chair", "sig", "implementation_group")
        deployed.import_plan("sig", [tmp_path / "recs.csv", tmp_path / "actions.csv"], expected=2)
        if agency_people:
            deployed.appoint("chair", "sam", "agency_lead", "council")
            deployed.appoint("sam", "jo", "officer", "council")
        yield deployed
