"""queries/periods: every report against the replayed captures (exact totals from the captures README),
and local periods: midnight, DST, half-hour zones, Monday weeks, month ends."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

import stored
from ccmonitor.queries.filters import Filters
from ccmonitor.queries.periods import USAGE_COLUMNS, by_session, offset_spans, report, usage
from ccmonitor.store import Reader
from otlp_builders import DELTA, event_request, sum_request

ALL = Filters(since=datetime(1970, 1, 1, tzinfo=UTC), until=datetime(9999, 1, 1, tzinfo=UTC))
STANDARD = {"input_tokens": 5100, "output_tokens": 280, "cache_read_tokens": 21000, "cache_creation_tokens": 900}
TOTAL = {"input_tokens": 61200, "output_tokens": 3360, "cache_read_tokens": 252000, "cache_creation_tokens": 10800,
         "cost_usd": pytest.approx(11 * 0.0347 + 0.048625), "sessions": 13, "api_requests": 48, "api_errors": 1}
NEW_YORK, LOS_ANGELES, KOLKATA = ZoneInfo("America/New_York"), ZoneInfo("America/Los_Angeles"), ZoneInfo("Asia/Kolkata")


@pytest.fixture
def conn(captures_db: Path | str) -> Iterator[Reader]:
    with stored.reader(captures_db) as c:
        yield c


def nanos(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp()) * 1_000_000_000


def send_usage(server: object, session: str, records: list[tuple[str, int, float]], *, started: str | None = None,
               user: str = "dev@example.com", model: str = "claude-opus-5-5") -> None:
    """Through the real server: per (UTC time, input tokens, cost) an api_request event and the matching
    token/cost metric points; `started` adds the session.count point."""
    ident = {"session.id": session, "user.email": user}
    bodies = [("logs", event_request([{"event.name": "api_request", **ident, "model": model, "input_tokens": n,
                                       "cost_usd": cost, "_time": nanos(t)} for t, n, cost in records]))]
    for t, n, cost in records:
        for name, kind, value in (("claude_code.token.usage", "input", n), ("claude_code.cost.usage", None, cost)):
            attrs = {**ident, "model": model, **({"type": kind} if kind else {})}
            bodies.append(("metrics", sum_request([(nanos(t) - 10**9, nanos(t), float(value))], temporality=DELTA,
                                                  attrs=attrs, name=name)))
    if started:
        bodies.append(("metrics", sum_request([(nanos(started), nanos(started), 1.0)], temporality=DELTA,
                                              attrs=ident, name="claude_code.session.count")))
    for signal, body in bodies:
        r = httpx.post(f"http://127.0.0.1:{server.http_port}/v1/{signal}",  # type: ignore[attr-defined]
                       content=body.SerializeToString(), headers={"content-type": "application/x-protobuf"})
        assert r.status_code == 200, r.text


def midnight_session(server: object) -> None:
    """One session from 23:40 to 00:10 New York time (04:40-05:10 UTC: a single UTC day)."""
    send_usage(server, "s-midnight", [("2026-11-28T04:50:00+00:00", 100, 0.01),
                                      ("2026-11-28T05:10:00+00:00", 200, 0.02)], started="2026-11-28T04:40:00+00:00")


def days(conn: Reader, tz: ZoneInfo, by: str = "day") -> dict[str, tuple[int, float, int, int]]:
    return {r["period"]: (r["input_tokens"], r["cost_usd"], r["sessions"], r["api_requests"])
            for r in usage(conn, ALL, by, tz)}


# ------------------------------------------------------------------ the captures, exactly
@pytest.mark.parametrize("name", ["daily", "weekly", "monthly", "users", "sessions", "models"])
def test_rows_add_up_to_the_captures_totals(conn: Reader, name: str) -> None:
    doc = report(conn, name, ALL, ZoneInfo("UTC"))
    assert doc["total"] == TOTAL
    for column in USAGE_COLUMNS:
        if column == "sessions" and name == "models":
            continue  # per model: sessions that used it (12: the failed session used none)
        assert sum(r[column] for r in doc["rows"]) == TOTAL[column], column


def test_daily_weekly_monthly_labels(conn: Reader) -> None:
    utc, tokyo = ZoneInfo("UTC"), ZoneInfo("Asia/Tokyo")  # captured 16:17-16:21 UTC: already the 28th in Tokyo
    assert [r["period"] for r in report(conn, "daily", ALL, utc)["rows"]] == ["2026-11-27"]
    assert [r["period"] for r in report(conn, "daily", ALL, tokyo)["rows"]] == ["2026-11-28"]
    assert [r["period"] for r in report(conn, "weekly", ALL, tokyo)["rows"]] == ["2026-11-23"]
    assert [r["period"] for r in report(conn, "monthly", ALL, tokyo)["rows"]] == ["2026-11"]


def test_breakdown_splits_each_day_by_model(conn: Reader) -> None:
    rows = {r["model"]: r for r in report(conn, "daily", ALL, ZoneInfo("UTC"), breakdown=True)["rows"]}
    assert {k: rows["claude-opus-5-5"][k] for k in STANDARD} == {k: v * 11 for k, v in STANDARD.items()}
    assert rows["claude-opus-5-5"]["cost_usd"] == pytest.approx(11 * 0.0347)
    assert (rows["claude-opus-5-5"]["api_requests"], rows["claude-opus-5-5"]["api_errors"]) == (44, 1)
    # 2.1.197 names the model differently on metrics and events (TELEMETRY.md): both rows are shown as sent
    assert {k: rows["claude-opus-4-8[1m]"][k] for k in STANDARD} == STANDARD
    assert rows["claude-opus-4-8"]["api_requests"] == 4
    assert rows["claude-opus-5-5"]["sessions"] == 11  # sessions that used the model (with tokens)


def test_users_and_sessions(conn: Reader) -> None:
    users = report(conn, "users", ALL)["rows"]
    assert len(users) == 13 and sum(1 for u in users if u["input_tokens"] == 5100) == 12
    sessions = report(conn, "sessions", ALL)["rows"]
    assert len(sessions) == 13 and all(s["sessions"] == 1 for s in sessions)
    failed = [s for s in sessions if s["api_errors"]]
    assert len(failed) == 1 and failed[0]["input_tokens"] == 0 and failed[0]["api_requests"] == 0
    assert [s["start"] for s in sessions] == sorted((s["start"] for s in sessions), reverse=True)


def test_sessions_page_through_the_whole_list(conn: Reader) -> None:
    assert by_session(conn, ALL, page=5) == by_session(conn, ALL) == report(conn, "sessions", ALL)["rows"]


def test_models_and_tools(conn: Reader) -> None:
    models = {m["model"]: m for m in report(conn, "models", ALL)["rows"]}
    assert models["claude-opus-5-5"]["cost_usd"] == pytest.approx(0.3817)
    assert models["claude-opus-5-5"]["sessions"] == 11 and models["claude-opus-5-5"]["api_requests"] == 44
    doc = report(conn, "tools", ALL)
    tools = {t["tool"]: t for t in doc["rows"]}
    assert (tools["Bash"]["uses"], tools["Bash"]["accepted"], tools["Bash"]["rejected"]) == (12, 12, 11)
    assert (tools["Write"]["uses"], tools["Write"]["accepted"], tools["Write"]["success_rate"]) == (12, 12, 1.0)
    assert doc["edit_decisions"] == [{"tool": "Write", "language": "Plain text", "accept": 12, "reject": 0}]
    assert doc["total"] is None


def test_filters_user_model_and_attribute(conn: Reader) -> None:
    def total(**kw: object) -> dict[str, object]:
        return report(conn, "daily", Filters(since=ALL.since, until=ALL.until, **kw))["total"]  # type: ignore[arg-type]

    assert total(attributes=(("team", "platform"),)) == TOTAL
    assert total(attributes=(("team", "mobile"),))["input_tokens"] == 0
    only = total(models=("claude-opus-4-8[1m]",))
    assert (only["input_tokens"], only["api_requests"]) == (5100, 0)
    user = report(conn, "users", ALL)["rows"][0]["user"]
    assert total(users=(user,))["input_tokens"] == 5100


def test_nothing_in_range_is_empty_not_an_error(conn: Reader) -> None:
    empty = Filters(since=datetime(2001, 1, 1, tzinfo=UTC), until=datetime(2001, 2, 1, tzinfo=UTC))
    for name in ("daily", "sessions", "models", "tools"):
        assert report(conn, name, empty, NEW_YORK)["rows"] == []


# ------------------------------------------------------------------ local periods
def test_a_session_spanning_local_midnight_lands_on_both_local_days(server) -> None:
    midnight_session(server)
    with stored.reader(server.db_path) as conn:
        assert days(conn, NEW_YORK) == {"2026-11-27": (100, 0.01, 1, 1), "2026-11-28": (200, 0.02, 0, 1)}
        assert days(conn, ZoneInfo("UTC")) == {"2026-11-28": (300, 0.03, 1, 2)}


def test_dst_change_moves_midnight(server) -> None:
    # Los Angeles springs forward 2026-03-08 10:00 UTC: midnight is 08:00 UTC before, 07:00 UTC after.
    send_usage(server, "s-dst", [("2026-03-08T07:30:00+00:00", 1, 0.0), ("2026-03-09T06:30:00+00:00", 2, 0.0),
                                 ("2026-03-09T07:30:00+00:00", 4, 0.0)])
    with stored.reader(server.db_path) as conn:
        assert {d: v[0] for d, v in days(conn, LOS_ANGELES).items()} == {
            "2026-03-07": 1, "2026-03-08": 2, "2026-03-09": 4}


def test_half_hour_zone_weeks_and_months(server) -> None:
    send_usage(server, "s-edges", [
        ("2026-11-27T18:29:00+00:00", 1, 0.0),  # 23:59 in Kolkata (+05:30), Friday
        ("2026-11-27T18:31:00+00:00", 2, 0.0),  # 00:01 Saturday in Kolkata
        ("2026-11-30T04:30:00+00:00", 4, 0.0),  # Sunday 23:30 in New York, Monday in UTC
        ("2026-12-01T04:30:00+00:00", 8, 0.0),  # 30 November 23:30 in New York, December in UTC
    ])
    with stored.reader(server.db_path) as conn:
        assert {d: v[0] for d, v in days(conn, KOLKATA).items()} == {
            "2026-11-27": 1, "2026-11-28": 2, "2026-11-30": 4, "2026-12-01": 8}
        assert {d: v[0] for d, v in days(conn, NEW_YORK, "week").items()} == {"2026-11-23": 7, "2026-11-30": 8}
        assert {d: v[0] for d, v in days(conn, ZoneInfo("UTC"), "week").items()} == {"2026-11-23": 3, "2026-11-30": 12}
        assert {d: v[0] for d, v in days(conn, NEW_YORK, "month").items()} == {"2026-11": 15}
        assert {d: v[0] for d, v in days(conn, ZoneInfo("UTC"), "month").items()} == {"2026-11": 7, "2026-12": 8}


def test_offset_spans_follow_the_zone_rules() -> None:
    year = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    assert offset_spans(LOS_ANGELES, *year) == [
        ("2026-03-08 10:00:00.000", -480), ("2026-11-01 09:00:00.000", -420), (None, -480)]
    assert offset_spans(KOLKATA, *year) == [(None, 330)]
    assert offset_spans(ZoneInfo("UTC"), *year) == [(None, 0)]
