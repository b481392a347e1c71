"""Stop and restart only the RADOS Gateway of the test session's Ceph cluster: an S3 outage
that loses nothing (the objects live in the OSD, which keeps running). It is started the
way tools/ceph-s3-up.sh starts it, by the pid file that script names."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx

PID_FILE = "run/client.rgw.a.pid"


class Gateway:
    def __init__(self, cluster: Path, endpoint_url: str) -> None:
        self.cluster = cluster
        self.endpoint_url = endpoint_url

    def _pid(self) -> int | None:
        path = self.cluster / PID_FILE
        try:
            return int(path.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def freeze(self) -> None:
        """SIGSTOP radosgw: connections are accepted by the kernel and then nothing is
        ever answered, as with a hung server or a partition."""
        pid = self._pid()
        if pid is None:
            raise RuntimeError(f"no radosgw pid file in {self.cluster}")
        os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        pid = self._pid()
        if pid is not None:
            os.kill(pid, signal.SIGCONT)

    def stop(self, *, wait: float = 30.0) -> None:
        """SIGTERM radosgw and wait until it no longer accepts connections."""
        pid = self._pid()
        if pid is None:
            raise RuntimeError(f"no radosgw pid file in {self.cluster}")
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            os.kill(pid, signal.SIGKILL)
        (self.cluster / PID_FILE).unlink(missing_ok=True)

    def start(self, *, wait: float = 120.0) -> float:
        """Start radosgw again; seconds until it answers S3 requests."""
        started = time.monotonic()
        subprocess.run(
            [
                "radosgw",
                "-c",
                str(self.cluster / "ceph.conf"),
                "-n",
                "client.rgw.a",
                "--keyring",
                str(self.cluster / "rgw.a" / "keyring"),
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        while time.monotonic() - started < wait:
            try:
                httpx.get(self.endpoint_url, timeout=2)
                return time.monotonic() - started
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("radosgw did not come back")
