"""The JSON API on a real server over the replayed captures: every panel, the overview, sessions,
stories, prompts, facets, the OpenAPI document, and one error shape for every failure."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

import stored
from capture import ALL, replay_scenario
from ccmonitor.queries import encoding, team
from ccmonitor.queries.filters import Filters
from ccmonitor.queries.panels import PANELS
from ccmonitor.store import Store
from ccmonitor.web.api import app

HOUR = {"range": "custom", "from": "2026-11-27T16:00:00Z", "to": "2026-11-27T17:00:00Z"}
PROMPT = "create hello.txt then run echo hi"


@pytest.fixture
def api(server_factory: Any, captures_db: Path) -> Any:
    running = server_factory(db=captures_db)

    def get(path: str, **params: Any) -> httpx.Response:
        return httpx.get(running.url(path), params=params or None, timeout=30)

    return get


def assert_error(r: httpx.Response, status: int, code: str) -> None:
    assert r.status_code == status
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert list(body) == ["error"] and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code and body["error"]["message"]


def test_overview_has_every_panel_and_each_panel_endpoint_agrees(api: Any) -> None:
    overview = api("/api/overview", **HOUR).json()
    assert overview["empty"] is False
    assert overview["range"] == {"since": "2026-11-27T16:00:00.000Z", "until": "2026-11-27T17:00:00.000Z",
                                 "bucket_seconds": 60}
    assert set(overview["panels"]) == set(PANELS)
    for name in PANELS:
        r = api(f"/api/panels/{name}", **HOUR)
        assert r.status_code == 200, name
        assert r.json()["data"] == overview["panels"][name], name
    assert overview["panels"]["tiles"]["input_tokens"] == 61200


def test_filters_change_the_numbers(api: Any) -> None:
    def tiles(**extra: str) -> dict[str, Any]:
        return api("/api/panels/tiles", **HOUR, **extra).json()["data"]

    assert tiles(model="claude-opus-5-5")["input_tokens"] == 11 * 5100
    assert tiles(**{"attr.team": "platform"})["input_tokens"] == 61200
    assert tiles(**{"attr.team": "other"})["input_tokens"] == 0
    user = api("/api/facets", **HOUR).json()["users"][0]["id"]
    assert tiles(user=user)["sessions"] == 1
    assert api("/api/panels/tiles").json()["range"]["bucket_seconds"] == 900  # default: last 24 hours


def test_sessions_story_and_prompt(api: Any) -> None:
    listed = api("/api/sessions", **HOUR, limit="20").json()
    assert len(listed["sessions"]) == 13 and listed["limit"] == 20
    traced = next(s for s in listed["sessions"] if s["api_requests"] == 4)
    story = api(f"/api/sessions/{traced['session_id']}").json()
    prompt = story["prompts"][-1]
    assert prompt["prompt"] == PROMPT
    assert api(f"/api/prompts/{prompt['prompt_id']}").json()["prompt"] == PROMPT


def test_facets(api: Any) -> None:
    body = api("/api/facets", **HOUR).json()
    assert body["attributes"] == {"department": ["eng"], "team": ["platform"]}
    assert body["terminals"] == ["dumb"]


@pytest.mark.parametrize(("path", "params", "status", "code"), [
    ("/api/overview", {"range": "2d"}, 400, "invalid_parameter"),
    ("/api/overview", {"range": "custom", "from": "2026-11-27T16:00:00Z"}, 400, "invalid_parameter"),
    ("/api/overview", {"range": "custom", "from": "yesterday", "to": "now"}, 400, "invalid_parameter"),
    ("/api/overview", {**HOUR, "to": "2026-11-27T15:00:00Z"}, 400, "invalid_parameter"),
    ("/api/panels/tiles", {"attr.bad key": "x"}, 400, "invalid_parameter"),
    ("/api/sessions", {"limit": "-1"}, 400, "invalid_parameter"),
    ("/api/sessions", {"limit": "100000"}, 400, "invalid_parameter"),
    ("/api/panels/nope", {}, 404, "not_found"),
    ("/api/sessions/no-such-session", {}, 404, "not_found"),
    ("/api/prompts/no-such-prompt", {}, 404, "not_found"),
    ("/api/no/such/endpoint", {}, 404, "not_found"),
    ("/api/reports/yearly", {}, 404, "not_found"),
    ("/api/reports/daily", {"tz": "Mars/Olympus"}, 400, "invalid_parameter"),
], ids=["bad-range", "custom-without-to", "unparsable-time", "to-before-from", "bad-attribute-name",
        "negative-limit", "huge-limit", "unknown-panel", "unknown-session", "unknown-prompt", "unknown-path",
        "unknown-report", "unknown-zone"])
def test_one_error_shape(api: Any, path: str, params: dict[str, str], status: int, code: str) -> None:
    assert_error(api(path, **params), status, code)


@pytest.mark.parametrize(("start", "end"), [
    ("0001-01-01T00:00:00Z", "2026-11-28T00:00:00Z"), ("0001-01-01T00:00:00+09:00", "9999-12-31T23:59:59-05:00"),
    ("2026-11-27T00:00:00-12:00", "9999-12-31T23:59:59.999999"), ("0001-01-01", "0002-01-01")],
    ids=["from-year-1", "year-1-to-year-9999-in-zones", "to-year-9999", "all-before-1970"])
def test_any_range_that_parses_answers(api: Any, start: str, end: str) -> None:
    """Year 1 and 9999, in any zone: read within 1970..9999 UTC, never a 500 (issue 9)."""
    params = {"range": "custom", "from": start, "to": end}
    for path in ("/api/overview", "/api/sessions", "/api/facets", "/api/reports/daily"):
        r = api(path, **params, tz="Pacific/Kiritimati")
        assert r.status_code == 200, (path, r.text)
    overview = api("/api/overview", **params).json()
    assert overview["range"]["since"] >= "1970-01-01T00:00:00.000Z"
    assert len(overview["panels"]["tokens"]["t"]) <= 121
    if start.startswith("0001") and end > "2026":
        assert overview["panels"]["tiles"]["input_tokens"] == 61200


def test_wrong_method_has_the_error_shape_too(server: Any) -> None:
    assert_error(httpx.post(server.url("/api/overview"), timeout=10), 405, "method_not_allowed")


@pytest.mark.parametrize("backend", ["sqlite"])  # the file deleted under the server; PostgreSQL's: below
def test_missing_database_is_503(server_factory: Any, tmp_path: Path) -> None:
    running = server_factory(db=tmp_path / "gone" / "claude_monitoring.db")
    for name in ("claude_monitoring.db", "claude_monitoring.db-wal", "claude_monitoring.db-shm"):
        (tmp_path / "gone" / name).unlink(missing_ok=True)
    assert_error(httpx.get(running.url("/api/overview"), timeout=10), 503, "database_unavailable")


@pytest.mark.parametrize("backend", ["postgres"])
def test_dropped_postgres_database_is_503(server: Any, postgres_cluster: Any, db_target: str) -> None:
    assert httpx.get(server.url("/api/overview"), timeout=10).status_code == 200
    postgres_cluster.drop_database(db_target)  # its connections are ended, and no new one can be made
    assert_error(httpx.get(server.url("/api/overview"), timeout=60), 503, "database_unavailable")


def test_empty_database(server: Any) -> None:
    body = httpx.get(server.url("/api/overview"), timeout=10).json()
    assert body["empty"] is True and body["panels"]["tiles"]["sessions"] == 0
    assert httpx.get(server.url("/api/sessions"), timeout=10).json()["sessions"] == []


def test_no_prompt_text_anywhere_when_the_server_keeps_none(server_factory: Any, tmp_path: Path) -> None:
    running = server_factory(store_prompts=False)
    for scenario in ALL:
        replay_scenario(scenario, running.ports)
    seen = []
    for path in ("/api/overview", "/api/sessions", "/api/facets"):
        seen.append(httpx.get(running.url(path), params=HOUR, timeout=30).text)
    sessions = json.loads(seen[1])["sessions"]
    for s in sessions:
        story = httpx.get(running.url(f"/api/sessions/{s['session_id']}"), timeout=30)
        seen.append(story.text)
        for p in story.json()["prompts"]:
            if p["prompt_id"]:
                seen.append(httpx.get(running.url(f"/api/prompts/{p['prompt_id']}"), timeout=30).text)
    assert len(sessions) == 13 and len(seen) > 20
    assert not [text for text in seen if "hello.txt then" in text]


def test_openapi_describes_every_route(api: Any, tmp_path: Path) -> None:
    doc = api("/api/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    routes = {"/api" + r.path for r in app(cast(Store, None)).routes}
    assert routes == set(doc["paths"])
    for path, item in doc["paths"].items():
        responses = item["get"]["responses"]
        assert "200" in responses and "401" in responses, path  # 401: a server started with --auth-token
        assert all(v == {"$ref": "#/components/responses/Error"} for k, v in responses.items() if k != "200")
        params = {p["name"] for p in item["get"]["parameters"] if p["in"] == "path"}
        assert params == {seg[1:-1] for seg in path.split("/") if seg.startswith("{")}, path
    assert doc["paths"]["/api/panels/{name}"]["get"]["parameters"][0]["schema"]["enum"] == list(PANELS)
    assert {next(iter(s)) for s in doc["security"]} == set(doc["components"]["securitySchemes"]) == {"bearer", "basic"}


def test_team_view_agrees_with_its_queries_and_its_csv(api: Any, captures_db: Path | str) -> None:
    doc = api("/api/team", **HOUR, by="team").json()
    f = Filters(since=datetime(2026, 11, 27, 16, tzinfo=UTC), until=datetime(2026, 11, 27, 17, tzinfo=UTC))
    with stored.reader(captures_db) as conn:
        board = team.leaderboard(conn, f, "team")
    assert doc["leaderboard"] == json.loads(encoding.dumps(board))
    assert [g["group"] for g in doc["leaderboard"]["groups"]] == ["platform"] and len(doc["leaderboard"]["users"]) > 1
    assert set(doc) == {"range", "by", "empty", "leaderboard", "cost", "adoption", "silent"}
    for rows, key in (("users", "user"), ("groups", "group")):
        r = api("/api/team/leaderboard.csv", **HOUR, by="team", rows=rows)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        assert "attachment" in r.headers["content-disposition"] and PROMPT not in r.text
        got = list(csv.DictReader(io.StringIO(r.text)))
        assert [(g[key], float(g["cost_usd"]), int(g["tokens"]), int(g["sessions"])) for g in got] == [
            (x[key], x["cost_usd"], x["tokens"], x["sessions"]) for x in doc["leaderboard"][rows]]
    assert api("/api/team", **HOUR, token="no-such-machine").json()["leaderboard"]["users"] == []


@pytest.mark.parametrize(("path", "params"), [
    ("/api/team", {"by": "bad key"}), ("/api/team", {"days": "0"}), ("/api/team", {"days": "x"}),
    ("/api/team/leaderboard.csv", {"rows": "groups"}), ("/api/team/leaderboard.csv", {"rows": "prompts"}),
    ("/api/reports/tools", {"by": "team"}), ("/api/reports/users", {"by": "team", "breakdown": "1"}),
], ids=["bad-group-key", "zero-days", "days-not-a-number", "groups-without-by", "unknown-rows", "by-on-tools",
        "by-with-breakdown"])
def test_team_parameters_have_the_error_shape(api: Any, path: str, params: dict[str, str]) -> None:
    assert_error(api(path, **params), 400, "invalid_parameter")
