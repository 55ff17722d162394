"""Issue 5: the CLI report, the JSON API and the query functions give the same numbers on the same DB.

A real server runs over a copy of the replayed captures; the CLI reads the same file. Where the API has
the panel (tiles, models, tools, edit decisions, sessions) its JSON is compared with the report's JSON;
`/api/reports/<name>` (what `report --server` reads) must equal the local report document exactly.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from click.testing import CliRunner

import stored
from ccmonitor.commands import COMMANDS
from ccmonitor.queries.filters import Filters
from ccmonitor.queries.periods import REPORTS, USAGE_COLUMNS, report
from ccmonitor.queries.tiles import tiles
from ccmonitor.queries.tools import edit_decisions, tool_usage

SINCE, UNTIL = "2026-11-27T00:00:00Z", "2026-11-28T00:00:00Z"
WINDOW = Filters(since=datetime(2026, 11, 27, tzinfo=UTC), until=datetime(2026, 11, 28, tzinfo=UTC))
CASES = {  # scenario -> (CLI options, API query, Filters changes)
    "everything": ((), {}, {}),
    "team platform": (("--attr", "team=platform"), {"attr.team": "platform"}, {"attributes": (("team", "platform"),)}),
    "one model": (("--model", "claude-opus-5-5"), {"model": "claude-opus-5-5"}, {"models": ("claude-opus-5-5",)}),
}
MODEL_KEYS = {"input_tokens": "input", "output_tokens": "output", "cache_read_tokens": "cacheRead",
              "cache_creation_tokens": "cacheCreation", "cost_usd": "cost_usd", "api_requests": "requests",
              "api_errors": "errors", "p50_ms": "p50_ms", "p95_ms": "p95_ms", "cache_hit_ratio": "cache_hit_ratio"}
SESSION_KEYS = ("session_id", "user", "start", "end", "duration_s", "terminal", "prompts", "cost_usd",
                "api_requests", "api_errors", "lines_added", "lines_removed")
report_group = next(c for c in COMMANDS if c.name == "report")


@pytest.fixture
def running(server_factory, captures_db: Path | str) -> Any:
    return server_factory(db=captures_db)


def cli(name: str, db: Path | str, *options: str) -> dict[str, Any]:
    result = CliRunner().invoke(report_group, [name, "--db", str(db), "--json", "--tz", "UTC", "--since", SINCE,
                                               "--until", UNTIL, *options], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def api(server: Any, path: str, query: dict[str, str]) -> Any:
    r = httpx.get(server.url(f"/api/{path}"), params={"range": "custom", "from": SINCE, "to": UNTIL, **query})
    assert r.status_code == 200, f"{path}: {r.status_code} {r.text[:300]}"
    return r.json()


def functions(db: Path | str, scenario: str) -> tuple[dict[str, Any], Filters]:
    f = Filters(since=WINDOW.since, until=WINDOW.until, **CASES[scenario][2])  # type: ignore[arg-type]
    with stored.reader(db) as conn:
        return {"tiles": tiles(conn, f), "tool_usage": tool_usage(conn, f), "edits": edit_decisions(conn, f),
                **{name: report(conn, name, f, ZoneInfo("UTC")) for name in REPORTS}}, f


@pytest.mark.parametrize("scenario", CASES)
def test_totals_agree(running: Any, captures_db: Path | str, scenario: str) -> None:
    options, query, _ = CASES[scenario]
    fn, _ = functions(captures_db, scenario)
    panel = api(running, "panels/tiles", query)["data"]
    for name in ("daily", "weekly", "monthly", "users", "sessions", "models"):
        doc = cli(name, captures_db, *options)
        assert doc == fn[name], name
        assert doc["total"] == {c: panel[c] for c in USAGE_COLUMNS} == {c: fn["tiles"][c] for c in USAGE_COLUMNS}


@pytest.mark.parametrize("scenario", CASES)
def test_models_agree(running: Any, captures_db: Path | str, scenario: str) -> None:
    options, query, _ = CASES[scenario]
    rows = cli("models", captures_db, *options)["rows"]
    panel = api(running, "panels/models", query)["data"]
    assert [r["model"] for r in rows] == [m["model"] for m in panel]
    for row, m in zip(rows, panel, strict=True):
        assert {k: row[k] for k in MODEL_KEYS} == {k: m[v] for k, v in MODEL_KEYS.items()}, row["model"]


@pytest.mark.parametrize("scenario", CASES)
def test_tools_agree(running: Any, captures_db: Path | str, scenario: str) -> None:
    options, query, _ = CASES[scenario]
    doc = cli("tools", captures_db, *options)
    fn, _ = functions(captures_db, scenario)
    assert doc["rows"] == api(running, "panels/tools", query)["data"] == fn["tool_usage"]
    assert doc["edit_decisions"] == api(running, "panels/edit_decisions", query)["data"] == fn["edits"]


@pytest.mark.parametrize("scenario", CASES)
def test_sessions_agree(running: Any, captures_db: Path | str, scenario: str) -> None:
    options, query, _ = CASES[scenario]
    rows = cli("sessions", captures_db, *options)["rows"]
    listed = api(running, "sessions", {**query, "limit": "500"})
    assert not listed["has_more"]
    assert [{k: r[k] for k in SESSION_KEYS} for r in rows] == [{k: s[k] for k in SESSION_KEYS}
                                                               for s in listed["sessions"]]
    tokens = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens")
    assert [sum(r[t] for t in tokens) for r in rows] == [s["tokens"] for s in listed["sessions"]]


@pytest.mark.parametrize("name", REPORTS)
def test_report_endpoint_and_server_mode_agree(running: Any, captures_db: Path | str, name: str) -> None:
    options = ("--breakdown",) if name in ("daily", "users") else ()
    local = cli(name, captures_db, *options)
    served = api(running, f"reports/{name}", {"tz": "UTC", **({"breakdown": "1"} if options else {})})
    remote = cli(name, Path("/nonexistent.db"), "--server", running.url(), *options)
    assert local == served == remote
