"""Moving a SQLite history into PostgreSQL exactly (`ccmonitor copy`, issue #14).

Rows are read through the source store (one snapshot per table, in (timestamp, id) order) and written
through the target's own write path, Store.submit, a few thousand per batch: PostgreSQL's dedup, rollups,
sessions and attribute sets are built as for live ingest, so nothing here knows how. Metric rows are
increments already: they go as non-cumulative points with their stored dedup_key, so a second run, or a
run resumed after an interruption (it simply starts over), stores nothing twice. Rows stored before
SQLite's migration 0004 have no attribute set of their own and take their session's, as SQLite's read
side gives them (store/attribute_sets.py). The cumulative series state (`metric_series`) moves too, or
the first cumulative export after the move would count a whole running total again.

A row PostgreSQL cannot hold (hand-typed: a timestamp that is not a time, text in a number column, JSON
it rejects) does not stop the copy: a refused batch is halved until the row is found; refused rows are
counted and named in the summary.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from ccmonitor.errors import StoreBusy
from ccmonitor.records import EVENT_COLUMNS, METRIC_COLUMNS, SPAN_COLUMNS, Batch, Event, MetricPoint, Span, StoreResult
from ccmonitor.store import SeriesRow, Store
from ccmonitor.store.attribute_sets import set_of

BATCH_ROWS = 5_000
IN_FLIGHT = 3  # batches waiting at the target's writer at once (it commits them together)
QUEUE_ROWS = (IN_FLIGHT + 1) * BATCH_ROWS  # the target's write queue must hold them
SHOWN = 10  # refused rows named in the summary
Progress = Callable[[str, int], None]
Named = tuple[object, Any]  # (what names a row in a refusal, what the target's write path takes)


def _columns(columns: Sequence[str]) -> str:
    return ", ".join(f"COALESCE({set_of()}, 0)" if c == "attribute_set" else c for c in columns)


# table -> its rows, each led by what names it in a refusal; in the order they move
SELECTS = {
    "attribute_sets": "SELECT id, id, attributes FROM attribute_sets ORDER BY id",
    "session_attribute_sets": "SELECT session, session, attribute_set FROM session_attribute_sets ORDER BY session",
    "metric_series": "SELECT hex(series_key), series_key, start_time_unix_nano, last_time_unix_nano, last_value"
                     " FROM metric_series ORDER BY series_key",
    "metrics": f"SELECT id, {_columns(METRIC_COLUMNS)} FROM metrics ORDER BY timestamp, id",
    "events": f"SELECT id, {_columns(EVENT_COLUMNS)} FROM events ORDER BY timestamp, id",
    "spans": f"SELECT id, {', '.join(SPAN_COLUMNS)} FROM spans ORDER BY timestamp, id",
}
NAMES = {"attribute_sets": "id", "session_attribute_sets": "session", "metric_series": "key", "metrics": "id",
         "events": "id", "spans": "id"}
TIMES = {"metrics": (1,), "events": (1,), "spans": (1, 2)}  # positions of the times in a record


@dataclass
class Tally:
    read: int = 0
    stored: int = 0
    duplicates: int = 0  # already in the target
    refused: int = 0


@dataclass
class Transfer:
    source: Store
    target: Store
    progress: Progress = lambda table, n: None  # noqa: E731 (rows of `table` done)
    batch_rows: int = BATCH_ROWS
    tallies: dict[str, Tally] = field(default_factory=lambda: {t: Tally() for t in SELECTS})
    refusals: list[str] = field(default_factory=list)  # the first SHOWN refused rows, with the reason
    _pending: deque[tuple[str, list[Named], Future[StoreResult]]] = field(default_factory=deque)

    def sizes(self) -> dict[str, int]:
        return self.source.read(lambda r: {t: r.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in SELECTS})

    def run(self) -> dict[str, Tally]:
        for table in SELECTS:
            before = self._count(table)
            for chunk in self._chunks(table):
                self._submit(table, chunk)
            while self._pending:
                self._settle(*self._pending.popleft())
            if table.endswith("attribute_sets"):  # a Batch's sets are not counted in its StoreResult
                tally = self.tallies[table]
                tally.stored = self._count(table) - before
                tally.duplicates = tally.read - tally.refused - tally.stored
        return self.tallies

    def _count(self, table: str) -> int:
        return int(self.target.read(lambda r: r.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]))

    def _chunks(self, table: str) -> Iterator[list[Named]]:
        """The source's rows in batches, as (name, record); a row PostgreSQL could not hold is refused here."""
        rows = self.source.stream(SELECTS[table], (), self.batch_rows)
        while chunk := list(islice(rows, self.batch_rows)):
            self.tallies[table].read += len(chunk)
            kept = []
            for name, *values in chunk:
                try:
                    kept.append((name, _checked(table, values)))
                except ValueError as exc:
                    self._refuse(table, name, str(exc))
            if len(kept) < len(chunk):
                self.progress(table, len(chunk) - len(kept))
            if kept:
                yield kept

    def _submit(self, table: str, rows: list[Named]) -> None:
        if table == "metric_series":  # not a Batch: its own write, where the moved state is newer
            restored = self.target.restore_series([r for _, r in rows])
            self._done(table, len(rows), StoreResult(restored, len(rows) - restored))
            return
        self._pending.append((table, rows, self.target.submit(_batch(table, rows))))
        while len(self._pending) > IN_FLIGHT:
            self._settle(*self._pending.popleft())

    def _settle(self, table: str, rows: list[Named], future: Future[StoreResult]) -> None:
        """Count a batch's result; a batch the database refused (while the store itself is fine) is
        halved until the refused rows are found."""
        try:
            result = future.result()
        except StoreBusy as exc:
            if self.target.health.reason is not None:
                raise  # the store failed, not these rows
            if len(rows) == 1:
                self._refuse(table, rows[0][0], str(exc))
                self.progress(table, 1)
                return
            for half in (rows[: len(rows) // 2], rows[len(rows) // 2 :]):
                self._settle(table, half, self.target.submit(_batch(table, half)))
            return
        self._done(table, len(rows), result)

    def _done(self, table: str, n: int, result: StoreResult) -> None:
        self.tallies[table].stored += result.accepted
        self.tallies[table].duplicates += result.duplicates
        self.progress(table, n)

    def _refuse(self, table: str, name: object, reason: str) -> None:
        self.tallies[table].refused += 1
        if len(self.refusals) < SHOWN:
            self.refusals.append(f"{table} {NAMES[table]} {name}: {reason.splitlines()[0] if reason else 'refused'}")


def _checked(table: str, values: list[Any]) -> Any:
    """A source row as what the target's write path takes; ValueError if PostgreSQL could not hold it."""
    if table in ("attribute_sets", "session_attribute_sets"):
        return tuple(values)
    if table == "metric_series":
        if not (isinstance(values[0], bytes) and all(isinstance(v, int) for v in values[1:3])
                and isinstance(values[3], int | float)):
            raise ValueError(f"not a series state: {values[1:]!r}")
        state: SeriesRow = (values[0], values[1], values[2], float(values[3]))
        return state
    for i in TIMES[table]:
        values[i] = stored_time(values[i])
    if table == "metrics":
        return MetricPoint._make((*values, b"", 0, 0, False, False))  # an increment: not cumulative
    return Event._make(values) if table == "events" else Span._make(values)


def stored_time(value: object) -> str:
    """A row's time in the stored form (UTC, as SQLite has it), else ValueError: a time that is not
    one would otherwise reach PostgreSQL's partitioning (store/postgres/partitions.py)."""
    try:
        if not isinstance(value, str):
            raise TypeError
        at = datetime.fromisoformat(value)
        if at.tzinfo is None and len(value) == 23 and value[10] == " ":
            return value  # already the stored form: the usual case
        return (at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at).isoformat(" ", "microseconds")
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"timestamp {value!r} is not a time") from None


def _batch(table: str, rows: list[Named]) -> Batch:
    records = [r for _, r in rows]
    if table == "attribute_sets":
        return Batch("logs", attribute_sets=dict(records))
    if table == "session_attribute_sets":
        return Batch("logs", session_sets=dict(records))
    if table == "metrics":
        return Batch("metrics", metrics=records)
    return Batch("logs", events=records) if table == "events" else Batch("traces", spans=records)


def summary(tallies: dict[str, Tally]) -> list[dict[str, Any]]:
    return [{"table": t, "read": c.read, "stored": c.stored, "already there": c.duplicates, "refused": c.refused}
            for t, c in tallies.items()]
