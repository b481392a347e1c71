"""Building the interop tests' Go programs offline, against Debian's golang.org/x/mod
(GOPATH mode, no module proxy): without Go the tests are skipped, except in CI (CI set),
where .ci/run installs it and a skip would hide a broken interop, so there they fail."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

GOPATH = "/usr/share/gocode"
HINT = "install it with: apt-get install -y golang-go golang-golang-x-mod-dev (CI: .ci/run)"


def build_go(source: Path, out: Path, *, needs: str) -> Path:
    """Build `source` into `out`; `needs` is the x/mod package it imports (its presence
    is what tells an installed Go from one without Debian's golang-golang-x-mod-dev)."""
    go = shutil.which("go")
    if go is None or not (Path(GOPATH) / "src" / needs).is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"Go or {needs} is missing; {HINT}")
        pytest.skip(f"Go or {needs} is missing; {HINT}")
    env = {
        **os.environ,
        "GOPATH": GOPATH,
        "GO111MODULE": "off",
        "GOFLAGS": "-mod=mod",
        "GOCACHE": str(out.parent / "cache"),
        "GOPROXY": "off",
    }
    built = subprocess.run(
        [go, "build", "-o", str(out), source.name],
        cwd=source.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    return out
