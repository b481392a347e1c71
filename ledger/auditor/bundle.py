"""Reading an exported bundle, a folder or the same names inside a .zip (the layout is
ledger/bundle.py's, which writes it). Lines are streamed, so memory does not grow with
the log."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

BUNDLE_FORMAT = "inquiry-ledger/bundle/v1"


class Bundle:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.zip = zipfile.ZipFile(path) if path.is_file() else None

    def exists(self, name: str) -> bool:
        if self.zip is not None:
            return name in self.zip.namelist()
        return (self.path / name).is_file()

    def open(self, name: str) -> IO[bytes]:
        if self.zip is not None:
            return self.zip.open(name)
        return (self.path / name).open("rb")

    def lines(self, name: str) -> Iterator[bytes]:
        with self.open(name) as stream:
            for line in stream:
                yield line[:-1] if line.endswith(b"\n") else line

    def close(self) -> None:
        if self.zip is not None:
            self.zip.close()
