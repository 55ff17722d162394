"""Which sqlite3 errors are failures of the store (disk full, locked, read-only, damaged) rather than of
one statement or its data: the writer answers the first with 503 for everyone and records it in
/health, the second fails one request alone."""

from __future__ import annotations

import sqlite3

from ccmonitor.store.health import FULL, LOCKED

# primary result codes that say the store, not the request's data, is the problem
_KINDS = {
    13: FULL,  # SQLITE_FULL
    8: "read-only",  # SQLITE_READONLY
    3: "read-only",  # SQLITE_PERM
    14: "cannot open a database file",  # SQLITE_CANTOPEN (e.g. -wal or -shm on a read-only file system)
    10: "I/O error",  # SQLITE_IOERR
    5: LOCKED,  # SQLITE_BUSY (also SQLITE_BUSY_SNAPSHOT, which never waits)
    6: LOCKED,  # SQLITE_LOCKED
    11: "database file damaged",  # SQLITE_CORRUPT
    26: "database file damaged",  # SQLITE_NOTADB
    7: "out of memory",  # SQLITE_NOMEM
}


def kind(exc: sqlite3.Error) -> str | None:
    """The kind of store failure exc reports, or None when only the statement or its data was wrong."""
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else _KINDS.get(code & 0xFF)


def classify(exc: BaseException) -> tuple[str, str]:
    """(kind, reason) for WriterHealth.failed: any sqlite3 error the writer met outside a request."""
    found = (kind(exc) if isinstance(exc, sqlite3.Error) else None) or "database error"
    return found, f"{found}: {exc} ({getattr(exc, 'sqlite_errorname', type(exc).__name__)})"
