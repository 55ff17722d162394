"""PostgreSQL's writer, on the shared queue and thread (store/writer.py), for any number of receivers
writing to one database at once.

One write connection per receiver process (session time zone UTC), opened again after a failure at the
next transaction or heartbeat, so the writer reconnects on its own when PostgreSQL is back. Per
transaction, each request is a SAVEPOINT. Its rows are COPYed into temporary staging tables and moved
by one statement per table: the INSERT .. ON CONFLICT DO NOTHING that dedups (a resend stores nothing,
whichever receiver stored the original) feeds, through RETURNING, the upserts of every rollup
(store/postgres/schema.py), so the rollups move in the same transaction as the rows and count exactly
the rows stored. Upserts are sorted by their conflict key, so concurrent receivers lock rollup rows in
one order; a deadlock or serialization failure that still happens runs the whole transaction again.

Cumulative points (store/series.py) are read and advanced under a transaction-level advisory lock per
series, taken in key order: another receiver may have advanced the series a moment ago, so there is no
cache across transactions. A request's future resolves only after COMMIT returned.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Sequence
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg

from ccmonitor.errors import StoreBusy, StoreUnavailable
from ccmonitor.records import EVENT_COLUMNS, METRIC_COLUMNS, SPAN_COLUMNS, Batch, MetricPoint, StoreResult
from ccmonitor.store import SeriesRow
from ccmonitor.store.health import FULL
from ccmonitor.store.postgres import failures
from ccmonitor.store.postgres.partitions import Partitions, wanted
from ccmonitor.store.postgres.schema import migrate
from ccmonitor.store.postgres.text import with_short_keys, without_nul
from ccmonitor.store.series import State, advance, state_after
from ccmonitor.store.writer import Done, Work, Writer
from ccmonitor.telemetry import ACTIVE_TIME, API_REQUEST, COST, SESSIONS, TOKENS, TOOL_RESULT, USER_PROMPT

log = logging.getLogger(__name__)
ATTEMPTS = 5  # a transaction that met a deadlock or serialization failure runs again, up to this often
CONNECT_TIMEOUT_S = 10
_N_METRIC = len(METRIC_COLUMNS)
HEARTBEAT = ("INSERT INTO heartbeat (id, at) VALUES (1, now()) ON CONFLICT (id) DO UPDATE SET at = excluded.at")
# After a full disk, the heartbeat's one-row update still fits in its page: it also writes this much into
# new pages of a temporary table (in the database's tablespace, no WAL) that its rollback removes, file
# and all, so /health does not call a still-full disk writable (as SQLite's HEADROOM_BYTES).
HEADROOM_BYTES = 1 << 20
HEADROOM = ("CREATE TEMP TABLE ccmonitor_headroom (pad text)",
            "ALTER TABLE ccmonitor_headroom ALTER pad SET STORAGE PLAIN",  # uncompressed, in the table's pages
            "INSERT INTO ccmonitor_headroom SELECT repeat('x', 4000)"
            f" FROM generate_series(1, {HEADROOM_BYTES // 4000})")
BUCKET = ("(CASE WHEN duration_ms < 100 THEN duration_ms ELSE length(duration_ms::text) * 100"
          " + substr(duration_ms::text, 1, 2)::integer END)")  # store/histograms.py, as in the migration
HOUR = "date_trunc('hour', timestamp, 'UTC')"
DAY = "(timestamp AT TIME ZONE 'UTC')::date"
SESSION_MARKS = {"events": f"event_name = '{USER_PROMPT}'",
                 "metrics": f"metric_name IN ('{SESSIONS}', '{ACTIVE_TIME}')"}
ROLLUP_KEYS = {
    "metrics": ("metric_name", "type", "model", "tool", "decision", "language"),
    "events": ("event_name", "model", "tool_name", "success", "decision"),
}
ROLLUP_TOTALS = {"metrics": ("value", "sum(metric_value)"), "events": ("n", "count(*)")}
STAGED = {"events": EVENT_COLUMNS, "metrics": METRIC_COLUMNS, "spans": SPAN_COLUMNS}
USER_KEYS = [("hour", HOUR), ('"user"', "COALESCE(user_email, account_uuid, user_id, '')"),
             ("metric_name", "metric_name"), ("model", "COALESCE(model, '')"), ("attribute_set", "attribute_set")]
USER_METRICS = f"metric_name IN ('{COST}', '{TOKENS}')"  # rollup_metrics_users (store/sqlite/rollups.py: USERS)


def _cols(columns: Sequence[str]) -> str:
    return ", ".join(columns)


def _upsert(table: str, keys: Sequence[tuple[str, str]], total: tuple[str, str], where: str = "TRUE") -> str:
    """Add the grouped rows of `ins` to one rollup, sorted by its key (the order row locks are taken in)."""
    groups = ", ".join(str(i + 1) for i in range(len(keys)))
    column = total[0]
    return (f"INSERT INTO {table} AS r ({_cols([k for k, _ in keys])}, {column}, records)"
            f" SELECT {_cols([e for _, e in keys])}, {total[1]}, count(*) FROM ins WHERE {where}"
            f" GROUP BY {groups} ORDER BY {groups}"
            f" ON CONFLICT ({_cols([k for k, _ in keys])}) DO UPDATE SET {column} = r.{column} + excluded.{column},"
            " records = r.records + excluded.records")


def _move(table: str) -> str:
    """The statement that moves one staged request into `table` and its rollups; returns the rows stored."""
    columns = _cols(STAGED[table][:_N_METRIC] if table == "metrics" else STAGED[table])
    keys = [(k, f"COALESCE({k}, '')" if k not in ("metric_name", "event_name") else k) for k in ROLLUP_KEYS[table]]
    total = ROLLUP_TOTALS[table]
    rollups = [_upsert(f"rollup_{table}", [("hour", HOUR), *keys], total),
               _upsert(f"rollup_{table}_sets", [("attribute_set", "attribute_set"), ("hour", HOUR), *keys], total,
                       "attribute_set != 0")]
    if table == "metrics":
        rollups.append(_upsert("rollup_metrics_users", USER_KEYS, total, USER_METRICS))
    if table == "events":
        durations = [("day", DAY), ("event_name", "event_name"),
                     ("key", f"COALESCE(CASE event_name WHEN '{API_REQUEST}' THEN model ELSE tool_name END, '')"),
                     ("bucket", BUCKET)]
        timed = f"event_name IN ('{API_REQUEST}', '{TOOL_RESULT}') AND duration_ms IS NOT NULL"
        rollups += [_upsert("rollup_durations", durations, ("n", "count(*)"), timed),
                    _upsert("rollup_durations_sets", [("attribute_set", "attribute_set"), *durations],
                            ("n", "count(*)"), f"{timed} AND attribute_set != 0")]
    rollups.append(
        'INSERT INTO rollup_sessions AS r (session_id, first_ts, last_ts, "user", terminal_type, app_version,'
        " custom_attributes) SELECT session_id, min(timestamp), max(timestamp),"
        " max(COALESCE(user_email, account_uuid, user_id)), max(terminal_type), max(app_version),"
        f" min(custom_attributes::text)::jsonb FROM ins WHERE session_id IS NOT NULL AND {SESSION_MARKS[table]}"
        " GROUP BY session_id ORDER BY session_id ON CONFLICT (session_id) DO UPDATE SET"
        ' first_ts = LEAST(r.first_ts, excluded.first_ts), last_ts = GREATEST(r.last_ts, excluded.last_ts),'
        ' "user" = COALESCE(r."user", excluded."user")')
    ctes = ", ".join(f"r{i} AS ({sql})" for i, sql in enumerate(rollups))
    return (f"WITH ins AS (INSERT INTO {table} ({columns}) SELECT {columns} FROM stage_{table}"
            " ORDER BY timestamp, dedup_key ON CONFLICT (timestamp, dedup_key) DO NOTHING RETURNING *),"
            f" {ctes} SELECT count(*) FROM ins")


MOVE = {"events": _move("events"), "metrics": _move("metrics"),
        "spans": f"INSERT INTO spans ({_cols(SPAN_COLUMNS)}) SELECT {_cols(SPAN_COLUMNS)} FROM stage_spans"
                 " ORDER BY timestamp, dedup_key ON CONFLICT (timestamp, dedup_key) DO NOTHING"}
SERIES_READ = ("SELECT series_key, start_time_unix_nano, last_time_unix_nano, last_value FROM metric_series"
               " WHERE series_key = ANY(%s)")
SERIES_WRITE = ("INSERT INTO metric_series AS s (series_key, start_time_unix_nano, last_time_unix_nano, last_value,"
                " updated_at) SELECT k, st::numeric, lt::numeric, v, now()"
                " FROM unnest(%s::bytea[], %s::text[], %s::text[], %s::float8[]) AS u(k, st, lt, v) ORDER BY k"
                " ON CONFLICT (series_key) DO UPDATE SET start_time_unix_nano = excluded.start_time_unix_nano,"
                " last_time_unix_nano = excluded.last_time_unix_nano, last_value = excluded.last_value,"
                " updated_at = excluded.updated_at")
# `copy`: a moved state wins only where it is newer (a later start, or the same start and a later time)
RESTORE_SERIES = (SERIES_WRITE + " WHERE (excluded.start_time_unix_nano, excluded.last_time_unix_nano)"
                  " > (s.start_time_unix_nano, s.last_time_unix_nano)")
STORED = ("SELECT s.i FROM unnest(%s::text[], %s::bigint[]) WITH ORDINALITY AS s(ts, k, i)"
          " WHERE EXISTS (SELECT 1 FROM metrics m WHERE m.timestamp = s.ts::timestamptz AND m.dedup_key = s.k)")
SETS = ("INSERT INTO attribute_sets (id, attributes) SELECT i, a::jsonb FROM unnest(%s::bigint[], %s::text[])"
        " AS u(i, a) ORDER BY i ON CONFLICT DO NOTHING")
SESSION_SETS = ("INSERT INTO session_attribute_sets (session, attribute_set) SELECT s, a"
                " FROM unnest(%s::text[], %s::bigint[]) AS u(s, a) ORDER BY s ON CONFLICT DO NOTHING")


def lock_key(series_key: bytes) -> int:
    """The advisory lock of a series: its key's first 8 bytes as a signed 64-bit integer."""
    return int.from_bytes(series_key[:8], "big", signed=True)


def redact(url: str) -> str:
    """The URL with its password (in the user part or the query) replaced by ***: safe to print."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        netloc = f"{parts.username or ''}:***@{netloc.rpartition('@')[2]}"
    query = urlencode([(k, "***" if k == "password" else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)],
                      safe="*")
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def connect(url: str, *, application_name: str = "ccmonitor", statement_timeout_ms: int = 0) -> psycopg.Connection:
    """An autocommit connection in UTC (stored times read back as UTC, bound text times mean UTC)."""
    conn = psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S, application_name=application_name,
                           keepalives=1, keepalives_idle=10, keepalives_interval=5, keepalives_count=3)
    try:
        conn.execute("SET TIME ZONE 'UTC'")
        if statement_timeout_ms:
            conn.execute(f"SET statement_timeout = {int(statement_timeout_ms)}")
    except BaseException:
        conn.close()
        raise
    return conn


def restore_series(conn: psycopg.Connection, rows: Sequence[SeriesRow]) -> int:
    """Series states from another store, each kept where it is newer, under the series' advisory locks
    (taken in key order, as the writer takes them); how many rows changed. `conn` is in autocommit mode."""
    newest: dict[bytes, SeriesRow] = {}
    for row in rows:  # one row per key: an upsert cannot touch a row twice
        if row[0] not in newest or row[1:3] > newest[row[0]][1:3]:
            newest[row[0]] = row
    if not newest:
        return 0
    k, st, lt, v = zip(*((r[0], str(r[1]), str(r[2]), r[3]) for _, r in sorted(newest.items())), strict=True)
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany("SELECT pg_advisory_xact_lock(%s)", [(n,) for n in sorted({lock_key(key) for key in k})])
        cur.execute(RESTORE_SERIES, (list(k), list(st), list(lt), list(v)))
        return cur.rowcount


class _NoPartition(Exception):
    """A partition went (retention in another process) after the cache said it exists."""


class PostgresWriter(Writer):
    errors = (psycopg.Error,)

    def __init__(self, url: str, *, queue_max_records: int = 20_000, commit_timeout_s: float = 30.0) -> None:
        super().__init__(queue_max_records=queue_max_records, commit_timeout_s=commit_timeout_s)
        self.url = url
        self._timeout_ms = int(commit_timeout_s * 1000)
        self._conn: psycopg.Connection | None = None
        self._partitions = Partitions()
        try:
            with connect(url, application_name="ccmonitor-migrate") as conn:
                migrate(conn)
            self._beat()
        except psycopg.Error as exc:
            self._drop()
            if failures.kind(exc) is None:
                raise  # our SQL is wrong: a bug, keep its traceback
            raise StoreUnavailable(f"cannot open the database {redact(url)}: {failures.classify(exc)[1]}") from None
        self.start()

    # -- the connection ---------------------------------------------------------------------------
    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            conn = connect(self.url, application_name="ccmonitor-writer", statement_timeout_ms=self._timeout_ms)
            try:
                for table, columns in STAGED.items():
                    conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS stage_{table} AS SELECT"
                                 f" {_cols(columns[:_N_METRIC] if table == 'metrics' else columns)}"
                                 f" FROM {table} WITH NO DATA")
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def _drop(self) -> None:
        """A failing connection is closed; the next transaction or heartbeat opens a new one."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _close_connection(self) -> None:
        self._drop()

    # -- the Writer hooks ---------------------------------------------------------------------------
    def _classify(self, exc: BaseException) -> tuple[str, str]:
        return failures.classify(exc)

    def _beat(self) -> bool:
        try:
            conn = self._connection()
            if self.health.kind == FULL:  # the heartbeat's row fits where an export's rows do not
                with conn.transaction(force_rollback=True):
                    for statement in HEADROOM:
                        conn.execute(statement)
            with conn.transaction() as txn:
                txn.connection.execute(HEARTBEAT)
        except psycopg.Error:
            self._drop()
            raise
        return True

    def _abort(self) -> None:
        self._drop()

    def _committed(self) -> None:
        pass  # no state outlives a transaction: another receiver may move a series next

    def _transaction(self, work: list[Work]) -> Done:
        for attempt in range(1, ATTEMPTS + 1):
            conn = self._connection()
            self._partitions.ensure(conn, wanted((e.timestamp for w in work for e in w.batch.events),
                                                 (p.timestamp for w in work for p in w.batch.metrics)))
            try:
                done, rejected = self._attempt(conn, work)
            except _NoPartition:
                self._partitions.forget()
                if attempt == ATTEMPTS:
                    raise
                continue
            except psycopg.Error as exc:
                if not failures.retryable(exc) or attempt == ATTEMPTS:
                    raise
                log.info("write transaction met %s; running it again (%d)", type(exc).__name__, attempt)
                time.sleep(random.uniform(0, 0.02 * attempt))
                continue
            for w, error in rejected:
                w.future.set_exception(error)
            return done
        raise AssertionError("unreachable")

    def _attempt(self, conn: psycopg.Connection, work: list[Work]) -> tuple[Done, list[tuple[Work, Exception]]]:
        """BEGIN .. COMMIT, each request in its own SAVEPOINT: a request whose rows the database refuses
        fails alone (answered after COMMIT); an error of the store itself is raised."""
        done: Done = []
        rejected: list[tuple[Work, Exception]] = []
        with conn.transaction():
            for w in work:
                try:
                    result = self._write_request(conn, w.batch)
                except psycopg.Error as exc:
                    if failures.no_partition(exc):
                        raise _NoPartition from exc
                    if failures.kind(exc) is not None or conn.broken:
                        raise
                    log.error("batch of %d %s rejected by the database: %s", w.batch.size, w.batch.signal, exc)
                    rejected.append((w, StoreBusy(f"database error: {exc}")))
                    continue
                done.append((w, result))
        return done, rejected

    # -- one request ------------------------------------------------------------------------------
    def _write_request(self, conn: psycopg.Connection, batch: Batch) -> StoreResult:
        """One request in its own SAVEPOINT, its key columns' text shortened to what an index holds.
        Refused, and holding a NUL: once more with U+FFFD for each. (Text PostgreSQL cannot hold as sent,
        text.py: its sender would retry the request forever.)"""
        batch = with_short_keys(batch)
        try:
            with conn.transaction():
                return self._write_batch(conn, batch)
        except psycopg.Error as exc:
            cleaned = without_nul(batch)
            if cleaned is batch or failures.kind(exc) is not None or failures.no_partition(exc) or conn.broken:
                raise
        with conn.transaction():
            return self._write_batch(conn, with_short_keys(cleaned))

    def _write_batch(self, conn: psycopg.Connection, batch: Batch) -> StoreResult:
        """Store one request's rows; duplicates are resent records the unique (timestamp, dedup_key) ignored."""
        duplicates = 0
        if batch.attribute_sets:
            ids, texts = zip(*batch.attribute_sets.items(), strict=True)
            conn.execute(SETS, (list(ids), list(texts)))
        if batch.session_sets:
            sessions, sets = zip(*batch.session_sets.items(), strict=True)
            conn.execute(SESSION_SETS, (list(sessions), list(sets)))
        if batch.events:
            duplicates += len(batch.events) - self._move(conn, "events", batch.events)
        if batch.spans:
            duplicates += len(batch.spans) - self._move(conn, "spans", batch.spans)
        if batch.metrics:
            rows, stale = self._metric_rows(conn, batch.metrics)
            duplicates += stale
            if rows:
                duplicates += len(rows) - self._move(conn, "metrics", rows)
        return StoreResult(batch.size - duplicates, duplicates)

    def _move(self, conn: psycopg.Connection, table: str, rows: Sequence[Sequence[object]]) -> int:
        """COPY rows into the staging table, move them; returns how many were new."""
        n = len(STAGED[table]) if table != "metrics" else _N_METRIC
        with conn.cursor() as cur:
            with cur.copy(f"COPY stage_{table} FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row[:n])
            cur.execute(MOVE[table])
            stored = cur.fetchone()[0] if table != "spans" else cur.rowcount  # type: ignore[index]
            # TRUNCATE, not DELETE: autovacuum never visits a temporary table, so deleted staging rows
            # would pile up as dead tuples the next COPY and move must scan (4x slower ingest, measured)
            cur.execute(f"TRUNCATE stage_{table}")
        return int(stored)

    def _metric_rows(self, conn: psycopg.Connection, points: list[MetricPoint]) -> tuple[list[MetricPoint], int]:
        """The rows to insert (cumulative points become increments) and how many points added nothing."""
        cumulative = [p for p in points if p.cumulative]
        if not cumulative:
            return points, 0
        keys = sorted({p.series_key for p in cumulative})
        with conn.cursor() as cur:
            cur.executemany("SELECT pg_advisory_xact_lock(%s)", [(k,) for k in sorted({lock_key(k) for k in keys})])
        states: dict[bytes, State] = {
            bytes(k): (int(st), int(lt), float(v)) for k, st, lt, v in conn.execute(SERIES_READ, (keys,))}
        stored = {i - 1 for (i,) in conn.execute(STORED, ([p.timestamp for p in cumulative],
                                                          [p.dedup_key for p in cumulative]))}
        rows: list[MetricPoint] = []
        advanced: dict[bytes, State] = {}
        stale = 0
        cumulative_index = 0
        for p in points:
            if not p.cumulative:
                rows.append(p)
                continue
            i, cumulative_index = cumulative_index, cumulative_index + 1
            if i in stored:
                stale += 1
                continue
            prev = states.get(p.series_key)
            step = advance(prev, p)
            if step is None:
                stale += 1
                continue
            states[p.series_key] = advanced[p.series_key] = state_after(p)
            if step != 0 or prev is None:
                rows.append(p._replace(metric_value=step))
            # else: a zero increment after the first point is accepted but adds no row
        if advanced:
            k, st, lt, v = zip(*((k, str(s[0]), str(s[1]), s[2]) for k, s in sorted(advanced.items())), strict=True)
            conn.execute(SERIES_WRITE, (list(k), list(st), list(lt), list(v)))
        return rows, stale
