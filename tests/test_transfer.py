"""transfer.py on real stores (a SQLite file, a fresh PostgreSQL database): rows the database refuses are
found and counted while their neighbours are stored; rows stored before SQLite's attribute sets take
their session's set; the cumulative series state moves, so the next cumulative point adds only its
increment, and a restored state never replaces a newer one."""

from __future__ import annotations

from pathlib import Path

import pytest

import stored
from ccmonitor.otlp.signals import SIGNALS
from ccmonitor.records import Batch
from ccmonitor.store import SeriesRow, Store, open_store
from ccmonitor.store.postgres import PostgresStore
from ccmonitor.store.sqlite import SqliteStore
from ccmonitor.transfer import Transfer, stored_time
from otlp_builders import T0, event_request, sum_request

S = 1_000_000_000
TEAM = {"service.name": "claude-code", "team": "platform"}


def metrics(*points: tuple[int, int, float], session: str = "s1") -> Batch:
    """A cumulative token count of one session: (start, time, running total) points."""
    request = sum_request(list(points), attrs={"type": "input", "session.id": session}, resource=TEAM)
    return SIGNALS["metrics"].to_batch(request, True)[0]


def prompts(*numbers: int, session: str = "s1") -> Batch:
    request = event_request([{"event.name": "user_prompt", "session.id": session, "prompt": f"p{n}",
                              "_time": T0 + n * S} for n in numbers], resource=TEAM)
    return SIGNALS["logs"].to_batch(request, True)[0]


def fill(db: Path | str, *batches: Batch) -> None:
    store = open_store(db)
    try:
        for batch in batches:
            store.submit(batch).result(30)
    finally:
        store.close()


def copy(source: Path, target: str, batch_rows: int = 5_000) -> Transfer:
    with stored.opened(source) as src:
        dst = open_store(target)
        try:
            transfer = Transfer(src, dst, batch_rows=batch_rows)
            transfer.run()
        finally:
            dst.close()
    return transfer


@pytest.fixture
def lite(tmp_path: Path) -> Path:
    return tmp_path / "lite.db"


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-11-27 16:19:15.273", "2026-11-27 16:19:15.273"),
    ("2026-11-27T16:19:15Z", "2026-11-27 16:19:15.000000"),
    ("2026-11-27 17:19:15.5+01:00", "2026-11-27 16:19:15.500000"),
    ("0001-01-01 00:00:00", "0001-01-01 00:00:00.000000"),
], ids=["stored form", "ISO with Z", "with an offset", "year one"])
def test_a_time_goes_in_the_stored_form(text: str, expected: str) -> None:
    assert stored_time(text) == expected


@pytest.mark.parametrize("value", ["yesterday", "", "2026-13-01 00:00:00", 1764260355, None,
                                   "0001-01-01 00:00:00+09:00"],
                         ids=["a word", "empty", "month 13", "a number", "NULL", "before year one in UTC"])
def test_a_time_that_is_not_one_is_refused(value: object) -> None:
    with pytest.raises(ValueError, match="is not a time"):
        stored_time(value)


def test_refused_rows_are_counted_and_named_and_their_neighbours_stored(lite: Path, postgres_url: str) -> None:
    fill(lite, prompts(*range(1, 41)))
    stored.execute(lite, "UPDATE events SET timestamp = 'yesterday' WHERE prompt = 'p7'")
    stored.execute(lite, "UPDATE events SET input_tokens = 'many' WHERE prompt = 'p23'")
    stored.execute(lite, "UPDATE events SET custom_attributes = '{not json' WHERE prompt = 'p31'")
    transfer = copy(lite, postgres_url, batch_rows=16)
    tally = transfer.tallies["events"]
    assert (tally.read, tally.stored, tally.duplicates, tally.refused) == (40, 37, 0, 3)
    assert stored.scalar(postgres_url, "SELECT COUNT(*) FROM events") == 37
    reasons = dict(line.split(": ", 1) for line in transfer.refusals)
    assert reasons.keys() == {"events id 7", "events id 23", "events id 31"}
    assert reasons["events id 7"] == "timestamp 'yesterday' is not a time"
    assert reasons["events id 23"].startswith("database error")


def test_rows_from_before_attribute_sets_take_their_sessions_set(lite: Path, postgres_url: str) -> None:
    fill(lite, prompts(1, 2, 3), metrics((T0, T0 + S, 10.0)))
    set_id = stored.scalar(lite, "SELECT attribute_set FROM events LIMIT 1")
    for table in ("events", "metrics"):
        stored.execute(lite, f"UPDATE {table} SET attribute_set = NULL")
    copy(lite, postgres_url)
    assert stored.rows(postgres_url, "SELECT DISTINCT attribute_set FROM events") == [(set_id,)]
    assert stored.rows(postgres_url, "SELECT DISTINCT attribute_set FROM metrics") == [(set_id,)]
    assert stored.scalar(postgres_url, "SELECT SUM(n) FROM rollup_events_sets WHERE attribute_set = ?",
                         [set_id]) == 3


def sums(db: Path | str) -> list[tuple[str, float]]:
    return stored.rows(db, "SELECT session_id, SUM(metric_value) FROM metrics GROUP BY 1 ORDER BY 1")


def test_after_a_copy_a_cumulative_point_adds_only_its_increment(lite: Path, postgres_url: str) -> None:
    history = [metrics((T0, T0 + S, 100.0), (T0, T0 + 2 * S, 250.0)), metrics((T0, T0 + S, 7.0), session="s2")]
    fill(lite, *history)
    transfer = copy(lite, postgres_url)
    assert transfer.tallies["metric_series"].stored == 2
    later = [metrics((T0, T0 + 3 * S, 400.0)), metrics((T0, T0 + 2 * S, 250.0)),  # the next point, a stale retry
             metrics((T0, T0 + 2 * S, 9.0), session="s2")]
    for db in (lite, postgres_url):
        fill(db, *later)
    assert sums(postgres_url) == sums(lite) == [("s1", 400.0), ("s2", 9.0)]


def test_a_restored_state_never_replaces_a_newer_one(pg: PostgresStore, postgres_url: str) -> None:
    pg.submit(metrics((T0, T0 + 5 * S, 900.0))).result(30)
    key = bytes(stored.scalar(postgres_url, "SELECT series_key FROM metric_series"))
    older: list[SeriesRow] = [(key, T0, T0 + 2 * S, 250.0), (key, T0 - S, T0 + 9 * S, 1.0)]
    newer: list[SeriesRow] = [(key, T0, T0 + 6 * S, 1000.0)]
    assert pg.restore_series(older) == 0
    assert pg.restore_series(newer + older) == 1
    assert pg.restore_series(newer) == 0  # the same state again: nothing to change
    pg.submit(metrics((T0, T0 + 7 * S, 1040.0))).result(30)
    assert sums(postgres_url) == [("s1", 940.0)]  # 900, then +40 after the restored 1000


def test_sqlite_takes_no_restored_states(lite: Path) -> None:
    store: Store = SqliteStore(lite)
    try:
        with pytest.raises(NotImplementedError, match="PostgreSQL only"):
            store.restore_series([(b"k", 1, 2, 3.0)])
    finally:
        store.close()
