"""What the writer last saw, for GET /health: writable, or failing with a reason since a time.

/health used to take the write lock itself (issue 9): under heavy ingest it lost to the writer and
answered a false 503; on a full disk it still got the lock (a lock needs no space) and answered a
false 200. Now the writer records the outcome of each transaction it runs, and /health reads that
from memory, without the database or a thread. Two failures the writer cannot report itself are
judged when the state is read: one transaction running longer than the commit timeout (stalled; a
request has given up on it by then), and the writer thread gone. The first failure and the recovery
are logged once each, one line without payload; a reason changing while failing is not logged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

# Kinds of store failure that more than one layer acts on (each backend maps its driver's errors to a
# kind: store/sqlite/failures.py, store/postgres/failures.py).
FULL = "disk full"
LOCKED = "locked longer than the busy timeout"


class WriterHealth:
    """Thread-safe: the writer calls begin/end/written/failed, the event loop calls state()."""

    def __init__(self, stall_after_s: float, alive: Callable[[], bool]) -> None:
        self._stall_after_s = stall_after_s
        self._alive = alive
        self._lock = threading.Lock()
        self.kind: str | None = None
        self.reason: str | None = None
        self.since = time.time()
        self._busy_since: float | None = None

    def begin(self) -> None:
        self._busy_since = time.monotonic()

    def end(self) -> None:
        self._busy_since = None

    def written(self) -> None:
        """A commit went through: the store is writable (again)."""
        with self._lock:
            if self.reason is None:
                return
            log.info("database writable again after %.1f s (%s)", time.time() - self.since, self.reason)
            self.kind = self.reason = None
            self.since = time.time()

    def failed(self, kind: str, reason: str) -> None:
        """A write failed because of the store: `kind` as the backend classified it, `reason` the line
        /health shows (starting with the kind)."""
        with self._lock:
            self._fail(kind, reason)

    def _fail(self, found: str, reason: str) -> None:  # caller holds the lock
        if self.reason is None:
            log.error("database not writable: %s", reason)
            self.since = time.time()
        self.kind, self.reason = found, reason

    def state(self) -> tuple[str | None, float]:
        """(None, since) while writable, else (reason, since the first failure)."""
        with self._lock:
            busy = self._busy_since
            if self.reason is None and not self._alive():
                self._fail("writer stopped", "writer stopped: the writer thread is gone; restart the server")
            elif self.reason is None and busy is not None and time.monotonic() - busy > self._stall_after_s:
                self._fail("stalled", f"stalled: one write transaction has run for more than "
                                      f"{self._stall_after_s:g} s (the commit timeout)")
            return self.reason, self.since
