"""Reading an exported bundle, a folder or the same names inside a .zip (the layout is
ledger/bundle.py's, which writes it). Lines are streamed, so memory does not grow with
the log; and no line, nor any file read whole, is read past its limit (limits.py), so
memory does not grow with what a hostile member inflates to either."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from ledger.auditor.limits import MAX_LINE, BundleTooLarge

BUNDLE_FORMAT = "inquiry-ledger/bundle/v1"


class Bundle:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.zip = zipfile.ZipFile(path) if path.is_file() else None

    def exists(self, name: str) -> bool:
        if self.zip is not None:
            try:
                self.zip.getinfo(name)  # not `in namelist()`: a list of every member each time
            except KeyError:
                return False
            return True
        path = self._inside(name)
        return path is not None and path.is_file()

    def open(self, name: str) -> IO[bytes]:
        if self.zip is not None:
            return self.zip.open(name)
        path = self._inside(name)
        if path is None:
            raise FileNotFoundError(f"{name} is not a file inside the bundle")
        return path.open("rb")

    def _inside(self, name: str) -> Path | None:
        """The file `name` of a folder bundle, or None if it would be outside the folder
        (a name with `..`, or a link out of it): a bundle is the operator's, and the
        auditor reads nothing of the chair's machine because a bundle names it."""
        if name.startswith("/") or "\\" in name or ".." in name.split("/"):
            return None
        root = self.path.resolve()
        path = (root / name).resolve()
        return path if path.is_relative_to(root) else None

    def lines(self, name: str, limit: int = MAX_LINE) -> Iterator[bytes]:
        """The member's lines without their newline; BundleTooLarge at one longer than
        `limit` bytes (at most `limit` + 1 bytes of it are read)."""
        with self.open(name) as stream:
            number = 0
            while line := stream.readline(limit + 1):
                number += 1
                if line.endswith(b"\n"):
                    line = line[:-1]
                if len(line) > limit:
                    raise BundleTooLarge(f"line {number} of {name} is longer than {limit} bytes")
                yield line

    def read(self, name: str, limit: int) -> bytes:
        """The whole member; BundleTooLarge if it holds more than `limit` bytes (at most
        `limit` + 1 are read, whatever a zip's header claims)."""
        with self.open(name) as stream:
            data = stream.read(limit + 1)
        if len(data) > limit:
            raise BundleTooLarge(f"{name} is larger than {limit} bytes")
        return data

    def close(self) -> None:
        if self.zip is not None:
            self.zip.close()
