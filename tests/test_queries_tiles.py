"""queries/tiles and queries/series against the replayed captures: totals equal the per-session
figures of the captures README, series add up to the tiles, and filters narrow (or don't) as documented."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import stored
from ccmonitor.queries.buckets import LADDER, MAX_BUCKETS, axis, bucket_seconds
from ccmonitor.queries.filters import Filters
from ccmonitor.queries.series import cost_over_time, lines_over_time, tokens_over_time
from ccmonitor.queries.tiles import tiles
from ccmonitor.store import Reader

HOUR = Filters(since=datetime(2026, 11, 27, 16, tzinfo=UTC), until=datetime(2026, 11, 27, 17, tzinfo=UTC))
TOTALS = {"input_tokens": 61200, "output_tokens": 3360, "cache_read_tokens": 252000,
          "cache_creation_tokens": 10800, "sessions": 13, "active_users": 13, "lines_added": 36,
          "lines_removed": 0, "api_requests": 48, "api_errors": 1, "commits": 0, "pull_requests": 0}


@pytest.fixture
def conn(captures_db: Path | str) -> Iterator[Reader]:
    with stored.reader(captures_db) as c:
        yield c


def test_tiles_equal_the_captured_sessions(conn: Reader) -> None:
    t = tiles(conn, HOUR)
    assert {k: t[k] for k in TOTALS} == TOTALS
    assert t["cost_usd"] == pytest.approx(11 * 0.0347 + 0.048625)  # 2.1.197 priced its model differently
    assert t["cache_hit_ratio"] == pytest.approx(252000 / (61200 + 252000 + 10800))
    assert t["active_time_cli_s"] > 0


def test_tiles_are_raw_sums(conn: Reader) -> None:
    raw = conn.execute(
        "SELECT SUM(metric_value) FROM metrics WHERE metric_name = 'claude_code.cost.usage'").fetchone()[0]
    assert tiles(conn, HOUR)["cost_usd"] == pytest.approx(raw)


def test_model_filter_narrows_model_metrics_only(conn: Reader) -> None:
    t = tiles(conn, replace(HOUR, models=("claude-opus-5-5",)))
    assert t["input_tokens"] == 11 * 5100
    assert t["api_requests"] == 44
    assert t["sessions"] == 13  # session.count has no model: not zeroed by a model filter


@pytest.mark.parametrize(("team", "expected"), [("platform", 61200), ("nobody", 0)])
def test_attribute_filter(conn: Reader, team: str, expected: int) -> None:
    assert tiles(conn, replace(HOUR, attributes=(("team", team),)))["input_tokens"] == expected


def test_attribute_values_of_one_key_are_alternatives(conn: Reader) -> None:
    f = replace(HOUR, attributes=(("team", "nobody"), ("team", "platform")))
    assert tiles(conn, f)["input_tokens"] == 61200


def test_empty_range_is_zero_not_missing(conn: Reader) -> None:
    t = tiles(conn, replace(HOUR, since=HOUR.since - timedelta(days=2), until=HOUR.since - timedelta(days=1)))
    assert t["input_tokens"] == 0 and t["sessions"] == 0 and t["cache_hit_ratio"] is None


def test_series_add_up_to_the_tiles(conn: Reader) -> None:
    t = tiles(conn, HOUR)
    tokens = tokens_over_time(conn, HOUR)
    assert list(tokens["series"])[:4] == ["input", "output", "cacheRead", "cacheCreation"]
    assert sum(tokens["series"]["input"]) == t["input_tokens"]
    assert sum(tokens["series"]["cacheCreation"]) == t["cache_creation_tokens"]
    cost = cost_over_time(conn, HOUR)
    assert sum(sum(v) for v in cost["series"].values()) == pytest.approx(t["cost_usd"])
    assert set(cost["series"]) == {"claude-opus-5-5", "claude-opus-4-8[1m]"}
    assert sum(lines_over_time(conn, HOUR)["series"]["added"]) == 36


def test_series_are_dense(conn: Reader) -> None:
    tokens = tokens_over_time(conn, HOUR)
    assert tokens["bucket_seconds"] == 60
    assert len(tokens["t"]) == 60 and all(len(v) == 60 for v in tokens["series"].values())
    assert tokens["t"][0] == "2026-11-27T16:00:00.000Z"


@pytest.mark.parametrize("hours", [1, 24, 24 * 7, 24 * 30, 24 * 365, 24 * 365 * 5, 24 * 365 * 7973])
def test_bucket_ladder_bounds_the_points(hours: int) -> None:
    start = datetime(2026, 1, 1, 0, 7, tzinfo=UTC)
    f = Filters(since=start, until=start + timedelta(hours=hours))
    size = bucket_seconds(f)
    assert size in LADDER
    assert len(axis(f, size)) <= MAX_BUCKETS + 1  # up to 9999 (the widest range there is)
    assert axis(f, size)[0] <= f.since.timestamp() < axis(f, size)[0] + size
