"""`ccmonitor export`: one table as CSV or JSON Lines, streamed in constant memory.

Rows leave in (timestamp, id) order straight from one SELECT (a single consistent snapshot, read
beside the running writer: Store.stream), `CHUNK` rows at a time; nothing is collected first. Values
are exactly as stored: timestamps are UTC text, and JSON columns (custom_attributes, tool_parameters,
span_events, links) stay JSON text, so an export loads back into the same schema unchanged. The
internal `dedup_key` digest is left out.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, TextIO

from ccmonitor.store import Store
from ccmonitor.telemetry import utc_text

TABLES = ("events", "metrics", "spans")
FORMATS = ("csv", "jsonl")
CHUNK = 1000
INTERNAL = {"dedup_key"}


def columns(store: Store, table: str) -> list[str]:
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}; choose one of {', '.join(TABLES)}")
    return [c for c in store.columns(table) if c not in INTERNAL]


def rows(store: Store, table: str, since: datetime | None = None,
         until: datetime | None = None) -> tuple[list[str], Iterator[tuple[Any, ...]]]:
    """The column names and a lazy iterator over the table's rows in [since, until)."""
    names = columns(store, table)
    clauses, params = [], []
    if since is not None:
        clauses.append("timestamp >= ?")
        params.append(utc_text(since))
    if until is not None:
        clauses.append("timestamp < ?")
        params.append(utc_text(until))
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    it = store.stream(f"SELECT {', '.join(names)} FROM {table} {where} ORDER BY timestamp, id", params, CHUNK)
    return names, (tuple(row) for row in it)


def write(store: Store, table: str, fmt: str, out: TextIO, since: datetime | None = None,
          until: datetime | None = None, progress: Callable[[int], None] | None = None) -> int:
    """Stream the rows to `out`; returns how many were written."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    names, it = rows(store, table, since, until)
    csv_out = csv.writer(out, lineterminator="\n") if fmt == "csv" else None
    if csv_out is not None:
        csv_out.writerow(names)
    n = 0
    for row in it:
        if csv_out is not None:
            csv_out.writerow(["" if v is None else v for v in row])
        else:
            out.write(json.dumps(dict(zip(names, row, strict=True)), ensure_ascii=False) + "\n")
        n += 1
        if progress and n % CHUNK == 0:
            progress(n)
    return n
