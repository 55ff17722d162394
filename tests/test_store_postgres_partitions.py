"""Monthly partitions on PostgreSQL: named and bounded by UTC month from 1970 to 9999, created once
however many receivers ask at the same time, and created again when retention dropped one behind a
receiver's cache."""

from __future__ import annotations

import threading

import psycopg
import pytest

from ccmonitor.records import Batch, StoreResult
from ccmonitor.store.postgres import PostgresStore, retention
from ccmonitor.store.postgres.partitions import Partitions, existing, following, month_of, name, start
from ccmonitor.store.postgres.writer import connect
from otlp_builders import event_request
from test_store_postgres_writer import batch_of, pg_rows, rollup_mismatches


@pytest.mark.parametrize(("stored", "partition", "lo", "hi"), [
    ("1970-01-01 00:00:00.000", "events_y1970m01", "1970-01-01 00:00:00+00", "1970-02-01 00:00:00+00"),
    ("2026-11-30 23:59:59.999", "events_y2026m11", "2026-11-01 00:00:00+00", "2026-12-01 00:00:00+00"),
    ("2026-12-01 00:00:00.000", "events_y2026m12", "2026-12-01 00:00:00+00", "2027-01-01 00:00:00+00"),
    ("9999-12-31 23:59:59.999", "events_y9999m12", "9999-12-01 00:00:00+00", "10000-01-01 00:00:00+00"),
], ids=["epoch", "last-millisecond-of-a-month", "first-of-december", "year-9999"])
def test_a_timestamp_belongs_to_its_utc_month(stored: str, partition: str, lo: str, hi: str) -> None:
    month = month_of(stored)
    assert (name("events", month), start(month), start(following(month))) == (partition, lo, hi)


def events_at(*times: str) -> Batch:
    batch = batch_of("logs", event_request([{"event.name": "user_prompt", "session.id": "s", "n": i}
                                            for i in range(len(times))]))
    batch.events = [e._replace(timestamp=t) for e, t in zip(batch.events, times, strict=True)]
    return batch


def test_rows_from_1970_to_9999_are_stored_in_their_months(pg: PostgresStore, postgres_url: str) -> None:
    times = ("1970-01-01 00:00:00.000", "2026-11-30 23:59:59.999", "2026-12-01 00:00:00.000",
             "9999-12-31 23:59:59.999")
    batch = events_at(*times)
    assert pg.submit(batch).result(30) == StoreResult(4, 0)
    assert pg_rows(postgres_url, "SELECT tableoid::regclass::text, to_char(timestamp, 'YYYY-MM-DD HH24:MI:SS.MS')"
                                 " FROM events ORDER BY timestamp") == [
        ("events_y1970m01", times[0]), ("events_y2026m11", times[1]), ("events_y2026m12", times[2]),
        ("events_y9999m12", times[3])]
    assert rollup_mismatches(postgres_url) == {}


def test_receivers_asking_at_once_create_each_partition_once(pg: PostgresStore, postgres_url: str) -> None:
    wanted = {(table, (2030, m)) for table in ("events", "metrics") for m in range(1, 13)}
    created: list[list[str]] = []
    errors: list[BaseException] = []

    def ensure() -> None:
        try:
            with connect(postgres_url) as conn:
                created.append(Partitions().ensure(conn, wanted))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ensure) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(n for names in created for n in names) == sorted(name(t, m) for t, m in wanted)
    with connect(postgres_url) as conn:
        assert {m for m in existing(conn)["metrics"] if m[0] == 2030} == {(2030, m) for m in range(1, 13)}


def test_a_cached_partition_dropped_by_retention_is_created_again(pg: PostgresStore, postgres_url: str) -> None:
    first = events_at("2026-08-10 10:00:00.000")
    assert pg.submit(first).result(30) == StoreResult(1, 0)
    done = retention.prune(postgres_url, "2026-10-01 00:00:00.000")  # another process: the writer's cache is stale
    assert done["events"] == 1
    late = events_at("2026-08-11 10:00:00.000")
    late.events = [e._replace(dedup_key=e.dedup_key + 1) for e in late.events]
    assert pg.submit(late).result(30) == StoreResult(1, 0)
    assert pg_rows(postgres_url, "SELECT tableoid::regclass::text FROM events") == [("events_y2026m08",)]
    assert rollup_mismatches(postgres_url) == {}


def test_partitions_are_not_created_for_what_a_batch_does_not_hold(pg: PostgresStore, postgres_url: str) -> None:
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT count(*) FROM pg_inherits WHERE inhparent = 'metrics'::regclass").fetchone() \
            == (0,)
