"""The byte budget of request bodies held at once: while being received, decompressed and decoded.

Why it counts bodies still arriving: 250 connections that each stop one byte short of a 16 MB body
would otherwise hold 4 GB before any decoding starts. Each request holds a `Hold` that grows chunk
by chunk and is released whole when the request ends, however it ends. A request alone is always
admitted (up to the body limit), so the budget can never refuse the only sender.
"""

from __future__ import annotations

import threading
from types import TracebackType

from ccmonitor.errors import Overloaded


class Inflight:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0
        self._lock = threading.Lock()  # decoding threads add to a hold too

    def hold(self) -> Hold:
        return Hold(self)

    def _take(self, n: int, mine: int) -> None:
        with self._lock:
            if self.held > mine and self.held + n > self.limit:
                raise Overloaded(f"{self.held} request bytes already held; retry shortly")
            self.held += n

    def _give(self, n: int) -> None:
        with self._lock:
            self.held -= n


class Hold:
    """One request's share of the budget; a context manager that releases it on exit."""

    def __init__(self, budget: Inflight) -> None:
        self.budget = budget
        self.size = 0

    def add(self, n: int) -> None:
        self.budget._take(n, self.size)
        self.size += n

    def __enter__(self) -> Hold:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.budget._give(self.size)
        self.size = 0
