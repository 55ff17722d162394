"""Which psycopg errors are failures of the store (unreachable, shutting down, disk full, read-only after
a failover, a timeout) rather than of one request's rows: the writer answers the first with 503 for
every waiting request and records it in /health, the second fails that request alone."""

from __future__ import annotations

import psycopg

from ccmonitor.store.health import FULL

UNREACHABLE = "unreachable"
# SQLSTATE (or its two-character class) -> kind. Class 22 (data), 23 (integrity) and 42 (our SQL)
# are the request's: they are not here.
_KINDS = {
    "53100": FULL,
    "53200": "out of memory",
    "53300": "too many connections",
    "53": "out of resources",
    "25006": "read-only",  # a replica after a failover, or default_transaction_read_only
    "42501": "permission denied",
    "57014": "statement timeout",
    "57P01": "server shutting down",
    "57P02": "server shutting down",
    "57P03": "server starting up",
    "57": "operator intervention",
    "58": "I/O error",
    "08": UNREACHABLE,
    "40P01": "deadlock",
    "40001": "serialization failure",
    "XX": "internal error",
}
RETRY = frozenset({"40P01", "40001"})  # the whole transaction may simply run again


def kind(exc: BaseException) -> str | None:
    """The kind of store failure exc reports, or None when only the request's rows or our SQL were wrong."""
    if not isinstance(exc, psycopg.Error):
        return None
    state = exc.sqlstate
    if state is None:  # no server answer: the connection failed or was lost
        return UNREACHABLE if isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)) else None
    return _KINDS.get(state) or _KINDS.get(state[:2])


def retryable(exc: BaseException) -> bool:
    return isinstance(exc, psycopg.Error) and exc.sqlstate in RETRY


def no_partition(exc: BaseException) -> bool:
    """An insert found no partition for its row: one was dropped behind the writer's cache."""
    return isinstance(exc, psycopg.errors.CheckViolation) and "no partition of relation" in str(exc)


def classify(exc: BaseException) -> tuple[str, str]:
    """(kind, reason) for WriterHealth.failed."""
    found = kind(exc) or "database error"
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    state = getattr(exc, "sqlstate", None)
    return found, f"{found}: {first} ({type(exc).__name__}{f' {state}' if state else ''})"
