"""Retention on PostgreSQL: expired months are dropped whole, the edge month is deleted in batches, and
the rollups (sessions included) equal GROUP BYs of the rows left, also while a receiver keeps writing;
prompt text is blanked with the rows kept."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from ccmonitor.records import Batch, StoreResult
from ccmonitor.store.postgres import PostgresStore
from ccmonitor.telemetry import utc_text
from otlp_builders import DELTA, T0, event_request, sum_request
from test_store_postgres_writer import batch_of, pg_rows, rollup_mismatches

S = 1_000_000_000
DAY = 86_400 * S
TEAMS = ({"service.name": "claude-code", "team": "platform"}, {"service.name": "claude-code"})


def history(days: int = 120, step: int = 3, tag: str = "") -> list[Batch]:
    """Four months back from T0 (2026-11-27, so from August 2): sessions of about three weeks (so some cross a month's
    end and the cutoff), prompts, API requests and tool results with durations, token and session metrics,
    half of them in a custom attribute set."""
    batches = []
    for day in range(0, days, step):
        t = T0 - day * DAY
        session, resource = f"s{day // 20}{tag}", TEAMS[day // step % 2]
        batches.append(batch_of("logs", event_request([
            {"event.name": "user_prompt", "session.id": session, "prompt": f"secret {day}", "_time": t, "n": tag},
            {"event.name": "api_request", "session.id": session, "model": f"m{day % 2}", "duration_ms": 90 + day * 37,
             "_time": t + S, "n": tag},
            {"event.name": "tool_result", "session.id": session, "tool_name": "Bash", "duration_ms": day,
             "_time": t + 2 * S, "n": tag},
            {"event.name": "api_request_body", "session.id": session, "body": "{\"messages\": []}",
             "_time": t + 3 * S, "n": tag},
        ], resource=resource)))
        for name, attrs, value in (("claude_code.token.usage", {"type": "input", "model": "m0"}, 100.0 + day),
                                   ("claude_code.session.count", {}, 1.0)):
            batches.append(batch_of("metrics", sum_request([(t - S, t, value)], temporality=DELTA, name=name,
                                                           attrs={"session.id": session, **attrs, "n": tag},
                                                           resource=resource)))
    return batches


def utc_text_ns(ns: int) -> str:
    return utc_text(datetime.fromtimestamp(ns / S, UTC))


@pytest.fixture
def pg(postgres_url: str) -> Iterator[PostgresStore]:
    store = PostgresStore(postgres_url)
    try:
        for b in history():
            store.submit(b).result(30)
        yield store
    finally:
        store.close()


def partitions(url: str) -> list[str]:
    return [r[0] for r in pg_rows(url, "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                                       " WHERE c.relkind = 'r' ORDER BY 1")]


def counts(url: str, where: str = "TRUE") -> dict[str, int]:
    return {t: pg_rows(url, f"SELECT count(*) FROM {t} WHERE {where}")[0][0] for t in ("metrics", "events")}


def test_prune_drops_expired_months_and_deletes_only_in_the_edge_month(pg: PostgresStore, postgres_url: str) -> None:
    before = utc_text_ns(T0 - 50 * DAY + 7 * 3600 * S)  # 2026-10-08: August and September go whole
    assert partitions(postgres_url)[:2] == ["events_y2026m08", "events_y2026m09"]
    kept = counts(postgres_url, f"timestamp >= '{before}'")
    predicted = pg.count(before)
    seen: dict[str, int] = {}
    done = pg.prune(before, progress=lambda t, n: seen.__setitem__(t, seen.get(t, 0) + n))
    assert done == predicted | {"spans": 0, "metric_series": 0}
    assert {t: seen.get(t, 0) for t in done} == done
    assert counts(postgres_url) == kept
    assert [p for p in partitions(postgres_url) if p.startswith("events")] == ["events_y2026m10", "events_y2026m11"]
    assert rollup_mismatches(postgres_url) == {}
    assert pg.count(before) == dict.fromkeys(("metrics", "events", "spans", "metric_series"), 0)
    assert pg.vacuum() == 0


def test_a_session_whose_marks_all_went_is_removed_and_one_crossing_the_cutoff_keeps_its_rest(
        pg: PostgresStore, postgres_url: str) -> None:
    before = utc_text_ns(T0 - 50 * DAY)
    sessions_before = dict(pg_rows(postgres_url, "SELECT session_id, last_ts FROM rollup_sessions"))
    pg.prune(before)
    after = dict(pg_rows(postgres_url, "SELECT session_id, to_char(first_ts, 'YYYY-MM-DD HH24:MI:SS.MS')"
                                       " FROM rollup_sessions"))
    assert len(after) < len(sessions_before)
    assert all(first >= before for first in after.values())
    assert rollup_mismatches(postgres_url) == {}


def test_prune_beside_a_writing_receiver_keeps_the_rollups_exact(pg: PostgresStore, postgres_url: str) -> None:
    late = history(days=120, step=5, tag="late")  # more rows in every month, also the ones being dropped
    results: list[StoreResult] = []

    def write() -> None:
        results.extend(pg.submit(b).result(60) for b in late)

    writer = threading.Thread(target=write)
    writer.start()
    pg.prune(utc_text_ns(T0 - 50 * DAY))
    writer.join(120)
    assert sum(r.accepted for r in results) == sum(b.size for b in late)
    assert rollup_mismatches(postgres_url) == {}


def test_blank_prompts_keeps_the_rows_and_their_lengths(pg: PostgresStore, postgres_url: str) -> None:
    prompts_before = utc_text_ns(T0 - 30 * DAY)
    after = utc_text_ns(T0 - 90 * DAY)
    holding = ("prompt IS NOT NULL OR custom_attributes ?| array['prompt', 'prompt_text', 'user_prompt']"
               " OR custom_attributes ? 'body'")
    in_range = f"timestamp >= '{after}' AND timestamp < '{prompts_before}'"
    expected = pg_rows(postgres_url, f"SELECT count(*) FROM events WHERE {in_range} AND ({holding})")[0][0]
    rows, lengths = counts(postgres_url), pg_rows(postgres_url, "SELECT sum(prompt_length) FROM events")
    assert expected and pg.count(None, prompts_before)["prompts"] > expected  # count() has no lower bound
    assert pg.blank_prompts(prompts_before, after) == expected
    assert pg_rows(postgres_url, f"SELECT count(*) FROM events WHERE {in_range} AND ({holding})") == [(0,)]
    assert pg_rows(postgres_url, f"SELECT count(*) FROM events WHERE timestamp >= '{prompts_before}'"
                                 f" AND ({holding})")[0][0] > 0
    assert counts(postgres_url) == rows
    assert pg_rows(postgres_url, "SELECT sum(prompt_length) FROM events") == lengths
    assert rollup_mismatches(postgres_url) == {}
