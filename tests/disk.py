"""A real, tiny file system for tests: a tmpfs mounted in a tmp dir that a test can fill, free, or make
read-only. Needs root (CI runs as root); where mount is refused the test fails saying why, it never
skips, so a machine that cannot run these tests is noticed."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest


class TinyDisk:
    def __init__(self, where: Path, size: str = "4m") -> None:
        self.root = where
        self.size = size
        self._filler = where / "filler"

    def __enter__(self) -> TinyDisk:
        self.root.mkdir(parents=True, exist_ok=True)
        self._mount("-t", "tmpfs", "-o", f"size={self.size},mode=0755", "tmpfs")
        return self

    def __exit__(self, *exc: Any) -> None:
        if subprocess.run(["umount", str(self.root)], capture_output=True).returncode:
            subprocess.run(["umount", "-l", str(self.root)], check=True)  # a file still open: detach anyway

    def _mount(self, *args: str) -> None:
        done = subprocess.run(["mount", *args, str(self.root)], capture_output=True, text=True)
        if done.returncode:
            pytest.fail(f"these tests need a real tmpfs (run as root): mount {' '.join(args)} failed: "
                        f"{done.stderr.strip()}", pytrace=False)

    def fill(self, leave: int = 0) -> None:
        """Write a file until the disk is full, then give back `leave` bytes."""
        fd = os.open(self._filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            while True:
                os.write(fd, b"\0" * 65536)
        except OSError:
            while True:  # the last few KiB
                try:
                    os.write(fd, b"\0" * 512)
                except OSError:
                    break
        finally:
            os.close(fd)
        if leave:
            os.truncate(self._filler, max(0, self._filler.stat().st_size - leave))

    def free(self) -> None:
        self._filler.unlink(missing_ok=True)

    def read_only(self) -> None:
        self._mount("-o", "remount,ro")

    def free_bytes(self) -> int:
        st = os.statvfs(self.root)
        return st.f_bavail * st.f_frsize
