"""Every read path survives whatever is already stored (issue 9): rows written straight into the
database, past ingest's bounds (1e308, infinities, the largest 64-bit ints, negatives, NULLs, years 1
and 9999, megabyte strings, JSON that isn't an object or isn't JSON), then every API route, every page
and every report in every format answers, with JSON that has no NaN or Infinity in it. On PostgreSQL,
what of the same rows its column types can hold, as an old history copied in leaves them."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

import stored
from ccmonitor.errors import StoreBusy
from ccmonitor.queries.panels import PANELS
from ccmonitor.queries.periods import REPORTS
from ccmonitor.records import Batch, Event, MetricPoint, Span
from ccmonitor.store import open_store
from ccmonitor.store.sqlite.rollups import refresh_rollups
from ccmonitor.store.sqlite.writer import open_database
from ccmonitor.web.openapi import document
from conftest import BACKENDS, RunningServer, make_config
from test_commands import run

BIG = 9223372036854775807  # the largest SQLite INTEGER
HUGE, INF = 1e308, float("inf")
LONG = "x" * 1_000_000
DAY, MINUTE = "2026-11-27 16:15:00.000", "2026-11-27 16:15:30.500"
YEAR_1, YEAR_9999, BEFORE_1970 = "0001-01-01 00:00:00.000", "9999-12-31 23:59:59.999", "1969-12-31 23:59:59.000"
ODD_TIMES = ("2026-11-27T16:20:00Z", "2026-11-27 16:21", "garbage", "")  # typed by hand, not by ingest
ODD_JSON = ("not json", "[]", '"text"', "null", "1e999", '{"command_name": {"deep": [1, 2, {"x": null}]}}',
            '{"response_length": "many", "total_attempts": 1e308, "tool_use_id": 7}', "")
SET_77 = '{"team":"platform","deep":{"a":[1e308]}}'  # an attribute set with a number no double holds exactly
SESSIONS = ("s-extreme", "s-years", "s-" + "L" * 5000, "s-null-user")
TOKENS, COST = "claude_code.token.usage", "claude_code.cost.usage"
METRIC_NAMES = (TOKENS, COST, "claude_code.session.count", "claude_code.active_time.total",
                "claude_code.lines_of_code.count", "claude_code.commit.count", "claude_code.pull_request.count",
                "claude_code.code_edit_tool.decision", "some.other.gauge")
VALUES = (HUGE, HUGE, -HUGE, INF, -INF, float(BIG), -5.0, 0.0, 1e-300)
EVENT_NAMES = ("user_prompt", "api_request", "api_error", "api_retries_exhausted", "tool_decision", "tool_result",
               "assistant_response")


def _now() -> str:
    return (datetime.now(UTC) - timedelta(minutes=30)).strftime("%Y-%m-%d %H:%M:%S.000")


def _rows() -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    times = (DAY, MINUTE, DAY, YEAR_1, YEAR_9999, BEFORE_1970, _now(), *ODD_TIMES)
    metrics, events, spans = [], [], []
    n = 0
    for name in METRIC_NAMES:
        for i, value in enumerate(VALUES):
            n += 1
            metrics.append({
                "timestamp": times[i % len(times)], "session_id": SESSIONS[i % len(SESSIONS)],
                "user_id": None if i % 4 == 3 else ("u" * 3000 if i % 2 else "user-1"),
                "terminal_type": None if i % 3 else LONG[:5000], "metric_name": name, "metric_value": value,
                "model": (None, "claude-opus-5-5", LONG)[i % 3], "type": ("input", "cacheRead", "cli", "added",
                                                                         None, "accept", "removed")[i % 7],
                "tool": "Write" if i % 2 else None, "decision": "accept" if i % 2 else "reject",
                "language": LONG[:100], "custom_attributes": ODD_JSON[i % len(ODD_JSON)],
                "attribute_set": (None, 0, 77)[i % 3]})
    # sums that overflow: to inf over 16:00-18:00, to -inf over 18:00-20:00; each addend in an hour of its
    # own and each kind a user of its own (rollup_metrics_users has no type), so no single hourly rollup
    # row overflows (PostgreSQL's writer refuses a row that would) and the overflow happens where a view
    # adds them up
    for name in METRIC_NAMES:
        for time, value in ((DAY, HUGE), ("2026-11-27 17:15:00.000", HUGE), ("2026-11-27 18:00:00.000", -HUGE),
                            ("2026-11-27 19:00:00.000", -HUGE)):
            for kind in ("input", "output", "added", "cli"):
                metrics.append({
                    "timestamp": time, "session_id": "s-extreme", "user_id": f"user-{kind}", "metric_name": name,
                    "metric_value": value, "model": "claude-opus-5-5", "type": kind, "tool": "Write",
                    "decision": "accept", "language": "Go", "custom_attributes": "{}", "attribute_set": 77})
    numbers = (BIG, -BIG - 1, HUGE, -HUGE, -1, "12 tokens", None)
    for i in range(len(EVENT_NAMES) * len(numbers)):
        name, number = EVENT_NAMES[i % len(EVENT_NAMES)], numbers[i % len(numbers)]
        events.append({
            "timestamp": times[i % len(times)], "session_id": SESSIONS[i % len(SESSIONS)],
            "user_email": "e" * 3000 if i % 5 == 0 else None, "user_id": "user-1" if i % 2 else None,
            "event_name": "claude_code." + name, "prompt_id": f"p{i % 4}" if i % 6 else None,
            "prompt": LONG if i % 3 == 0 else None, "prompt_length": number, "tool_name": ("Bash", None, LONG)[i % 3],
            "success": ("true", "false", None, "maybe")[i % 4], "duration_ms": (number, "slow", HUGE)[i % 3],
            "error": LONG[:10000], "decision": ("accept", "reject", None)[i % 3], "source": "config",
            "tool_parameters": ODD_JSON[i % len(ODD_JSON)], "model": ("claude-opus-5-5", None, LONG)[i % 3],
            "cost_usd": (HUGE, -HUGE, INF, None, -1.0)[i % 5], "input_tokens": number, "output_tokens": BIG,
            "cache_read_tokens": -BIG - 1, "cache_creation_tokens": number, "status_code": number, "attempt": number,
            "trace_id": "t1" if i % 2 else None, "custom_attributes": ODD_JSON[i % len(ODD_JSON)],
            "attribute_set": (None, 0, 77)[i % 3]})
    for i, time in enumerate(times):
        spans.append({
            "timestamp": time, "end_timestamp": times[-1 - i], "duration_ms": (HUGE, -HUGE, INF, float(BIG))[i % 4],
            "trace_id": "t1", "span_id": f"sp{i}", "parent_span_id": f"sp{i - 1}" if i % 2 else f"sp{i + 1}",
            "name": ("claude_code.interaction", LONG)[i % 2], "kind": BIG, "status_code": -BIG - 1,
            "session_id": SESSIONS[i % 2], "prompt_id": ("p1", None)[i % 2],
            "custom_attributes": ('{"input_tokens": 1e308, "model": [1]}', *ODD_JSON)[i % (len(ODD_JSON) + 1)],
            "span_events": ODD_JSON[i % len(ODD_JSON)], "links": "[[]]"})
    return metrics, events, spans


def write_extremes(db: Path) -> None:
    """The rows as a hand-typed INSERT (or an old version of ccmonitor) would leave them, then the
    rollups refreshed over them as the writer does, so the hourly sums hold them too."""
    conn = open_database(db)
    conn.execute(f"INSERT INTO attribute_sets VALUES (77, '{SET_77}')")
    conn.executemany("INSERT INTO session_attribute_sets VALUES (?, 77)", [(s,) for s in SESSIONS[:2]])
    for table, rows in zip(("metrics", "events", "spans"), _rows(), strict=True):
        for row in rows:
            row["dedup_key"] = int.from_bytes(os.urandom(8), "little", signed=True)
            conn.execute(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                         list(row.values()))
    refresh_rollups(conn, {"metrics": 0, "events": 0})
    conn.close()


RECORDS = {"metrics": (MetricPoint, "metrics"), "events": (Event, "logs"), "spans": (Span, "traces")}
MISSING = {"series_key": b"", "start_time_unix_nano": 0, "time_unix_nano": 0, "cumulative": False,
           "monotonic": False, "attribute_set": 0}


def _holds(kind: str, value: object) -> bool:
    """Whether a PostgreSQL column of this type takes the value as it is."""
    if value is None or kind in ("text", "double precision"):
        return True
    if kind == "bigint":
        return isinstance(value, int) and -2**63 <= value < 2**63
    if kind == "jsonb":
        try:
            json.loads(str(value))
        except ValueError:
            return False
        return True
    if kind == "timestamp with time zone":
        try:
            datetime.fromisoformat(str(value))
        except ValueError:
            return False
        return True
    raise AssertionError(kind)


def write_extremes_postgres(url: str) -> dict[str, int]:
    """What PostgreSQL can hold of the same rows, as an old SQLite history copied in (`ccmonitor copy`)
    leaves them: through the store's writer (so the partitions and the rollups follow), a request per row.
    A value its column's type cannot hold is NULL (a time that is no time: year 1); a row the database
    refuses (its rollup's sum or histogram bucket would overflow) is not there. Returns the rows refused,
    by table and reason."""
    store = open_store(url)
    try:
        kinds = {(t, c): k for t, c, k in stored.rows(url, "SELECT table_name, column_name, data_type FROM"
                                                          " information_schema.columns WHERE table_schema = 'public'")}
        stored.execute(url, f"INSERT INTO attribute_sets VALUES (77, '{SET_77}')")
        for session in SESSIONS[:2]:
            stored.execute(url, "INSERT INTO session_attribute_sets VALUES (?, 77)", (session,))
        refused: dict[str, int] = {}
        for table, rows in zip(("metrics", "events", "spans"), _rows(), strict=True):
            record, signal = RECORDS[table]
            for row in rows:
                fields: dict[str, Any] = {f: MISSING.get(f) for f in record._fields}
                fields.update({c: v if _holds(kinds[(table, c)], v) else None for c, v in row.items()})
                for c in ("timestamp", "end_timestamp"):
                    if c in fields and fields[c] is None:
                        fields[c] = YEAR_1  # a time that is no time: the earliest there is instead
                fields["dedup_key"] = int.from_bytes(os.urandom(8), "little", signed=True)
                if fields.get("attribute_set", 0) is None:
                    fields["attribute_set"] = 0  # NOT NULL DEFAULT 0: what an INSERT without one leaves
                one = record(**fields)
                try:
                    store.submit(Batch(signal, **{table: [one]})).result(30)
                except StoreBusy as exc:
                    reason = str(exc).removeprefix("database error: ").splitlines()[0]
                    refused[f"{table}: {reason}"] = refused.get(f"{table}: {reason}", 0) + 1
        return refused
    finally:
        store.close()


@pytest.fixture(scope="module", params=BACKENDS)
def extreme_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path | str:
    if request.param == "sqlite":
        db = tmp_path_factory.mktemp("extremes") / "claude_monitoring.db"
        write_extremes(db)
        return db
    cluster = request.getfixturevalue("postgres_cluster")
    url = cluster.create_database()
    request.addfinalizer(lambda: cluster.drop_database(url))
    refused = write_extremes_postgres(url)
    # a duration of -2**63 ms, whose histogram bucket (store/histograms.py) is no integer
    assert set(refused) == {"events: integer out of range"}, refused
    return url


@pytest.fixture(scope="module")
def app(extreme_db: Path | str) -> Iterator[RunningServer]:
    running = RunningServer(make_config(extreme_db))
    try:
        yield running
    finally:
        running.stop()


def strict_json(text: str) -> Any:
    def refuse(token: str) -> None:
        raise AssertionError(f"{token} is not JSON")

    return json.loads(text, parse_constant=refuse)


EVERYTHING = {"range": "custom", "from": "0001-01-01T00:00:00Z", "to": "9999-12-31T23:59:59.999Z"}
QUERIES = {
    "default-24h": {},
    "everything": EVERYTHING,
    "everything-in-tokyo": {"range": "custom", "from": "0001-01-01T00:00:00+09:00", "to": "9999-12-31T23:59:59-05:00"},
    "one-day-rollups": {"range": "custom", "from": "2026-11-27T00:00:00Z", "to": "2026-11-28T00:00:00Z"},
    "minutes-raw": {"range": "custom", "from": "2026-11-27T16:14:00Z", "to": "2026-11-27T16:16:00Z"},
    "filtered": {**EVERYTHING, "model": "claude-opus-5-5", "user": "user-1", "attr.team": "platform",
                 "terminal": LONG[:5000][:100]},
    "one-session": {**EVERYTHING, "session": "s-extreme", "attr.deep": "x"},
}
REPORT_QUERIES = {"utc": {}, "tokyo-breakdown": {"tz": "Asia/Tokyo", "breakdown": "1"},
                  "new-york": {"tz": "America/New_York"}}


def api_paths() -> list[str]:
    """Every path of the OpenAPI document (a test keeps it equal to the routes), each parameter filled in."""
    paths = []
    for path in document()["paths"]:
        if "{name}" in path:
            paths += [path.replace("{name}", n) for n in (PANELS if "panels" in path else REPORTS)]
        elif "{" not in path:
            paths.append(path)
    return paths


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("path", api_paths())
def test_every_api_route_answers(app: RunningServer, path: str, query: str) -> None:
    variants = [QUERIES[query]]
    if path.startswith("/api/reports/"):
        variants = [{**QUERIES[query], **extra} for extra in REPORT_QUERIES.values()]
    for params in variants:
        r = httpx.get(app.url(path), params=params, timeout=60)
        assert r.status_code == 200, (params, r.text[:500])
        if path.endswith(".csv"):  # the leaderboard download: an overflowed number is an empty cell
            assert not {"inf", "-inf", "nan"} & {v.lower() for row in csv.reader(io.StringIO(r.text)) for v in row}
        else:
            strict_json(r.text)


def test_every_session_story_and_prompt_answers(app: RunningServer, extreme_db: Path | str) -> None:
    sessions = [r[0] for r in stored.rows(extreme_db, "SELECT DISTINCT session_id FROM events"
                                                      " WHERE session_id IS NOT NULL")]
    prompts = [r[0] for r in stored.rows(extreme_db, "SELECT DISTINCT prompt_id FROM events"
                                                     " WHERE prompt_id IS NOT NULL")]
    assert len(sessions) == len(SESSIONS) and prompts
    for session_id in sessions:
        for path in (f"/api/sessions/{session_id}", f"/sessions/{session_id}"):
            r = httpx.get(app.url(path), timeout=60)
            assert r.status_code == 200, (path[:80], r.text[:500])
            if path.startswith("/api/"):
                story = strict_json(r.text)
                assert story["prompts"]
    for prompt_id in prompts:
        r = httpx.get(app.url(f"/api/prompts/{prompt_id}"), timeout=60)
        assert r.status_code == 200 and strict_json(r.text)["prompt_id"] == prompt_id


@pytest.mark.parametrize("path", ["/", "/sessions"])
def test_every_page_answers(app: RunningServer, path: str) -> None:
    for params in QUERIES.values():
        assert httpx.get(app.url(path), params=params, timeout=60).status_code == 200


def test_a_sum_that_overflows_is_null(app: RunningServer) -> None:
    def tiles(start: str, end: str) -> dict[str, Any]:
        params = {"range": "custom", "from": f"2026-11-27T{start}Z", "to": f"2026-11-27T{end}Z"}
        return strict_json(httpx.get(app.url("/api/panels/tiles"), params=params, timeout=60).text)["data"]

    inf = tiles("16:00:00", "18:00:00")
    assert inf["input_tokens"] is None and inf["cost_usd"] is None and inf["lines_added"] is None
    assert inf["api_requests"] > 0  # counts of events are untouched
    assert tiles("18:00:00", "20:00:00")["commits"] is None  # to -inf


def test_a_report_shows_an_overflow_as_a_missing_number(extreme_db: Path | str) -> None:
    args = ["report", "daily", "--db", str(extreme_db), "--tz", "UTC", "--since", "2026-11-27T16:00:00",
            "--until", "2026-11-27T18:00:00"]
    row = strict_json(run(*args, "--json").stdout)["rows"][0]
    assert row["input_tokens"] is None and row["api_requests"] > 0
    assert run(*args, "--csv").stdout.splitlines()[1].startswith("2026-11-27,,")
    assert "—" in run(*args).stdout


REPORT_ARGS = {
    "default": [],
    "everything-utc": ["--since", "0001-01-01", "--until", "9999-12-31", "--tz", "UTC"],
    "everything-tokyo": ["--since", "0001-01-01", "--until", "9999-12-31", "--tz", "Asia/Tokyo"],
    "everything-new-york-model": ["--since", "0001-01-01T00:00:00", "--until", "9999-12-31T23:59:59",
                                  "--tz", "America/New_York", "--model", "claude-opus-5-5"],
    "one-day": ["--since", "2026-11-27", "--until", "2026-11-27", "--tz", "UTC", "--attr", "team=platform"],
}


@pytest.mark.parametrize("args", REPORT_ARGS)
@pytest.mark.parametrize("name", REPORTS)
def test_every_report_in_every_format(extreme_db: Path | str, name: str, args: str) -> None:
    breakdown = ["--breakdown"] if name in ("daily", "weekly", "monthly", "users") and "model" not in args else []
    for fmt in ("table", "json", "csv"):
        flags = [] if fmt == "table" else [f"--{fmt}"]
        result = run("report", name, "--db", str(extreme_db), *REPORT_ARGS[args], *breakdown, *flags)
        assert result.exit_code == 0, result.output[-2000:]
        if fmt == "json":
            doc = strict_json(result.stdout)
            assert doc["report"] == name
