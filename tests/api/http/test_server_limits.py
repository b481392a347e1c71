"""The settings behind `serve`'s connection bounds (api/http/connections.py): read from
INQUIRY_LEDGER_*, refused when meaningless, and the cap kept within the descriptors."""

from __future__ import annotations

import resource
import subprocess
import sys

import pytest

from api.http.connections import ServerLimits, connection_cap
from ledger.config import ConfigError
from tests.support.server import REPO


def test_the_limits_come_from_the_environment_with_defaults() -> None:
    assert ServerLimits.from_env({}) == ServerLimits()
    limits = ServerLimits.from_env(
        {
            "INQUIRY_LEDGER_HEADER_TIMEOUT": "2.5",
            "INQUIRY_LEDGER_BODY_TIMEOUT": "",  # empty: the default
            "INQUIRY_LEDGER_BODY_MIN_RATE": "100",
            "INQUIRY_LEDGER_MAX_CONNECTIONS": "50",
        }
    )
    assert limits == ServerLimits(header_timeout=2.5, body_min_rate=100, max_connections=50)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("HEADER_TIMEOUT", "0"),
        ("HEADER_TIMEOUT", "soon"),
        ("BODY_TIMEOUT", "-1"),
        ("BODY_MIN_RATE", "0"),
        ("MAX_CONNECTIONS", "1e9"),
    ],
)
def test_a_meaningless_limit_stops_the_start_naming_it(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"INQUIRY_LEDGER_{name}"):
        ServerLimits.from_env({f"INQUIRY_LEDGER_{name}": value})


def test_the_cap_leaves_descriptors_for_the_rest_of_the_server() -> None:
    assert connection_cap(1024, None) == 1024
    assert connection_cap(1024, 1_048_576) == 1024
    assert connection_cap(1024, 1024) == 768  # 256 kept back
    assert connection_cap(1024, 256) == 128  # few: half kept back


def test_serve_raises_its_soft_descriptor_limit_to_the_hard_one() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard <= 256:
        pytest.skip(f"the hard RLIMIT_NOFILE ({hard}) leaves nothing to raise to")
    script = (
        "import resource\n"
        "_, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))\n"
        "from api.http.connections import raise_open_files_limit\n"
        "print(raise_open_files_limit(), resource.getrlimit(resource.RLIMIT_NOFILE)[0])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == [str(hard), str(hard)]
