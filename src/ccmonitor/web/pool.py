"""Read-only connections for the dashboard, reused across requests so SQLite's page cache stays
warm, each used by one thread at a time, each request inside one read transaction (one snapshot).
Queries run in worker threads: the event loop (which also serves OTLP on this port) never waits on
SQLite."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from ccmonitor.queries import reader

T = TypeVar("T")
CACHE_KIB = 32 * 1024  # per connection
MMAP_BYTES = 1 << 30  # read pages straight from the OS cache, no copy


class Pool:
    def __init__(self, db: Path, busy_timeout_ms: int = 5000, size: int = 4) -> None:
        self.db = db
        self.busy_timeout_ms = busy_timeout_ms
        self.size = size
        self._idle: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        conn = reader(self.db, self.busy_timeout_ms)
        conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
        return conn

    def call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            conn = self._connect()
        try:
            conn.execute("BEGIN")  # one snapshot per request: its panels agree even while ingest commits
            try:
                result = fn(conn)
            finally:
                conn.execute("ROLLBACK")
        except sqlite3.DatabaseError:
            conn.close()  # a connection that saw an error is not trusted again
            raise
        with self._lock:
            if len(self._idle) < self.size:
                self._idle.append(conn)
                conn = None
        if conn is not None:
            conn.close()
        return result

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.to_thread(self.call, fn)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
