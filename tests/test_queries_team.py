"""Team views (queries/team.py, adoption.py, silence.py) on both backends: the leaderboard per user and
per group, cost per group over time and the active-user counts equal the raw rows grouped here in
Python, on a range that cuts through hours (rollup edges); who stopped reporting, on a small history
sent through the real server with token names as resource attributes."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

import stored
from ccmonitor.credentials import TOKEN_ATTRIBUTE
from ccmonitor.queries import adoption, silence, team
from ccmonitor.queries.filters import Filters
from ccmonitor.queries.tiles import tiles
from ccmonitor.telemetry import utc_text
from otlp_builders import DELTA, event_request, sum_request
from test_queries_rollups import END, demo_db, demo_postgres  # noqa: F401  (its module-scoped demo history)


@pytest.fixture
def demo(backend: str, request: pytest.FixtureRequest) -> Path | str:
    """test_queries_rollups' demo history (5 users, 4 days, teams and departments) on this backend."""
    return request.getfixturevalue("demo_db" if backend == "sqlite" else "demo_postgres")  # type: ignore[no-any-return]


# 2 days 7 h 12 min 31 s, starting and ending inside hours: both edges are read from raw rows
CUT = Filters(since=END - timedelta(days=2, hours=9, minutes=47, seconds=13),
              until=END - timedelta(hours=2, minutes=34, seconds=42))
LINES = "claude_code.lines_of_code.count"
COUNTED = {("claude_code.session.count", None): "sessions", (LINES, "added"): "lines_added",
           (LINES, "removed"): "lines_removed", ("claude_code.commit.count", None): "commits",
           ("claude_code.pull_request.count", None): "pull_requests",
           ("claude_code.code_edit_tool.decision", "accept"): "edits_accepted",
           ("claude_code.code_edit_tool.decision", "reject"): "edits_rejected"}


def raw(db: Path | str, f: Filters, by: str | None) -> dict[Any, dict[str, Any]]:
    """{(group, user): sums and active days} from every metric row in the range, grouped in Python."""
    sets = {i: json.loads(a) if isinstance(a, str) else a
            for i, a in stored.rows(db, "SELECT id, attributes FROM attribute_sets")}
    session_sets = dict(stored.rows(db, "SELECT session, attribute_set FROM session_attribute_sets"))
    out: dict[Any, dict[str, Any]] = defaultdict(lambda: defaultdict(float, days=set()))
    for ts, email, account, uid, session, aset, name, kind, decision, value in stored.rows(
            db, "SELECT timestamp, user_email, account_uuid, user_id, session_id, attribute_set, metric_name, type,"
                " decision, metric_value FROM metrics WHERE timestamp >= ? AND timestamp < ?",
            [utc_text(f.since), utc_text(f.until)]):
        aset = session_sets.get(session) if aset is None else aset
        group = sets.get(aset, {}).get(by, team.NONE) if by else None
        row = out[(group, email or account or uid)]
        if name in ("claude_code.cost.usage", "claude_code.token.usage"):
            row["cost_usd" if name.endswith("cost.usage") else "tokens"] += value
            row["days"].add(ts[:10])
        column = COUNTED.get((name, kind if "lines" in name else decision))
        if column:
            row[column] += value
    return out


def compare(row: dict[str, Any], sums: dict[str, Any]) -> None:
    assert row["cost_usd"] == pytest.approx(sums["cost_usd"], abs=1e-6)
    for column in ("tokens", "sessions", "lines_added", "lines_removed", "commits", "pull_requests",
                   "edits_accepted", "edits_rejected"):
        assert row[column] == sums[column], column
    assert row["active_days"] == len(sums["days"])
    decided = sums["edits_accepted"] + sums["edits_rejected"]
    assert row["accept_rate"] == (pytest.approx(sums["edits_accepted"] / decided) if decided else None)


def test_leaderboard_equals_the_raw_rows_on_a_range_cutting_hours(demo: Path | str) -> None:
    expected = raw(demo, CUT, None)
    with stored.reader(demo) as conn:
        board = team.leaderboard(conn, CUT)
        top = tiles(conn, CUT)
    assert {r["user"] for r in board["users"]} == {u for _, u in expected} and len(expected) >= 4
    for row in board["users"]:
        compare(row, expected[(None, row["user"])])
        assert row["last_seen"] is not None
    costs = [r["cost_usd"] for r in board["users"]]
    assert costs == sorted(costs, reverse=True)
    total = board["total"]
    assert total["cost_usd"] == top["cost_usd"] and total["tokens"] == sum(
        top[k] for k in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens"))
    assert (total["sessions"], total["lines_added"], total["commits"]) == (top["sessions"], top["lines_added"],
                                                                          top["commits"])


@pytest.mark.parametrize("by", ["team", "department"])
def test_group_by_a_custom_attribute(demo: Path | str, by: str) -> None:
    expected = raw(demo, CUT, by)
    groups: dict[str, dict[str, Any]] = defaultdict(lambda: defaultdict(float, days=set(), users=set()))
    for (group, user), sums in expected.items():
        for k, v in sums.items():
            if k == "days":
                groups[group]["days"] |= v
            else:
                groups[group][k] += v
        if sums["cost_usd"] or sums["tokens"] or sums["sessions"]:
            groups[group]["users"].add(user)
    with stored.reader(demo) as conn:
        board = team.leaderboard(conn, CUT, by)
        series = team.cost_by_group(conn, CUT, by)
        filtered = {g: team.leaderboard(conn, Filters(since=CUT.since, until=CUT.until, attributes=((by, g),)))
                    for g in groups if g != team.NONE}
    assert {g["group"] for g in board["groups"]} == set(groups) and len(groups) >= 2
    for row in board["groups"]:
        compare(row, groups[row["group"]])
        assert row["users"] == len(groups[row["group"]]["users"])
        assert sum(series["series"][row["group"]]) == pytest.approx(row["cost_usd"], abs=1e-5)
        if row["group"] != team.NONE:  # the group is what filtering by it gives
            assert filtered[row["group"]]["total"]["cost_usd"] == row["cost_usd"]
    for row in board["users"]:
        compare(row, expected[(row["group"], row["user"])])


def test_adoption_counts_users_with_usage(demo: Path | str) -> None:
    def users(since: datetime, until: datetime) -> set[str]:
        return {r[0] for r in stored.rows(
            demo, "SELECT COALESCE(user_email, account_uuid, user_id) FROM metrics WHERE metric_name IN (?, ?)"
                  " AND timestamp >= ? AND timestamp < ?",
            ["claude_code.cost.usage", "claude_code.token.usage", utc_text(since), utc_text(until)])}

    with stored.reader(demo) as conn:
        doc = adoption.adoption(conn, CUT)
    for name, days in adoption.WINDOWS:
        span = timedelta(days=days)
        now, then = users(CUT.until - span, CUT.until), users(CUT.until - 2 * span, CUT.until - span)
        assert (doc[name]["users"], doc[name]["previous"]) == (len(now), len(then)), name
    assert doc["range"]["active_users"] == len(users(CUT.since, CUT.until))
    per_day: dict[str, set[str]] = defaultdict(set)
    for user, ts in stored.rows(demo, "SELECT COALESCE(user_email, account_uuid, user_id), timestamp FROM metrics"
                                      " WHERE metric_name IN (?, ?) AND timestamp >= ? AND timestamp < ?",
                                ["claude_code.cost.usage", "claude_code.token.usage", utc_text(CUT.since),
                                 utc_text(CUT.until)]):
        per_day[ts[:10]].add(user)
    assert {t[:10]: n for t, n in zip(doc["daily"]["t"], doc["daily"]["series"]["active_users"], strict=True) if n} \
        == {d: len(u) for d, u in per_day.items()}
    assert {v["version"] for v in doc["versions"]} and all(v["users"] >= 1 for v in doc["versions"])


# ------------------------------------------------------------------ who stopped reporting
NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


def send(server: Any, user: str, token: str | None, at: datetime, *, logs: bool = True, metrics: bool = True,
         version: str = "2.1.300") -> None:
    resource = {"service.name": "claude-code", "team": "platform", **({TOKEN_ATTRIBUTE: token} if token else {})}
    ident = {"session.id": f"s-{user}-{at:%d%H}", "user.email": user, "app.version": version}
    t = int(at.timestamp() * 1e9)
    bodies = []
    if logs:
        bodies.append(("logs", event_request([{"event.name": "user_prompt", **ident, "prompt_length": 3, "_time": t}],
                                             resource=resource)))
    if metrics:
        bodies.append(("metrics", sum_request([(t, t, 1.0)], temporality=DELTA, attrs=ident,
                                              name="claude_code.session.count", resource=resource)))
    for signal, body in bodies:
        r = httpx.post(f"http://127.0.0.1:{server.http_port}/v1/{signal}", content=body.SerializeToString(),
                       headers={"content-type": "application/x-protobuf"})
        assert r.status_code == 200, r.text


def test_who_stopped_reporting(server: Any) -> None:
    send(server, "active@example.com", "laptop-a", NOW - timedelta(days=1))
    send(server, "gone@example.com", "laptop-b", NOW - timedelta(days=10))
    send(server, "gone@example.com", "laptop-b", NOW - timedelta(days=12))
    send(server, "logs-only@example.com", None, NOW - timedelta(days=2), metrics=False, version="2.0.1")
    send(server, "metrics-only@example.com", None, NOW - timedelta(hours=5), logs=False, version="2.0.2")
    f = Filters(since=NOW - timedelta(days=30), until=NOW)
    with stored.reader(server.db_path) as conn:
        doc = silence.silence(conn, f, 7)
        three = silence.silence(conn, f, 3)
        other_team = silence.silence(conn, Filters(since=f.since, until=NOW, attributes=(("team", "mobile"),)), 7)
    assert [(u["user"], u["days_silent"], u["sessions"]) for u in doc["users"]] == [("gone@example.com", 10.0, 2)]
    assert doc["tokens_in_use"] and [(m["machine"], m["users"]) for m in doc["machines"]] == [("laptop-b", 1)]
    assert {(c["user"], c["version"], c["missing"]) for c in doc["one_signal"]} == {
        ("logs-only@example.com", "2.0.1", "metrics"), ("metrics-only@example.com", "2.0.2", "logs")}
    assert [u["user"] for u in three["users"]] == ["gone@example.com"]
    assert {c["user"] for c in three["one_signal"]} == {"logs-only@example.com", "metrics-only@example.com"}
    assert other_team["users"] == other_team["machines"] == other_team["one_signal"] == []


def test_machine_key_is_the_token_attribute() -> None:
    assert silence.MACHINE_KEY == TOKEN_ATTRIBUTE
