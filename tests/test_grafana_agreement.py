"""The Grafana panels give the built-in dashboard's numbers (issue #14): over a demo history of several days
and teams, on SQLite and on PostgreSQL, for ranges whose ends cut through hours and days (whole hours
from the rollups, the edges from rows) and under each variable (team = the attribute sets of `attr.team`),
every panel's expanded SQL equals what the query functions behind /api/overview answer for the same
range and filters.

Grafana's range includes its end, the built-in API's does not: every range here ends on a millisecond
that holds no record, so both mean the same rows.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import stored
from ccmonitor import telemetry as names
from ccmonitor.demo import demo_command
from ccmonitor.queries import facets, models, tiles, tools
from ccmonitor.queries.filters import Filters
from ccmonitor.queries.rollups import totals
from grafana_panels import Grafana, grafana
from postgres_cluster import PostgresCluster

END = datetime(2026, 11, 27, 12, tzinfo=UTC)
HISTORY = ("--users", "6", "--days", "4", "--traces", "0", "--end", END.isoformat())
MS = timedelta(milliseconds=1)
# (name, start, end) in the history, which covers the 4 days before END
RANGES = [
    ("all", END - timedelta(days=6), END + timedelta(hours=1)),
    ("days-cut-mid-hour", END - timedelta(days=3, hours=5, minutes=17, milliseconds=123),
     END - timedelta(hours=7, minutes=41, milliseconds=544)),
    ("one-day", END - timedelta(days=2, minutes=30), END - timedelta(days=1, minutes=5)),
    ("within-an-hour", END - timedelta(days=1, hours=6, minutes=50), END - timedelta(days=1, hours=6, minutes=5)),
]


def run_demo(db: Path | str) -> None:
    result = CliRunner().invoke(demo_command, [*HISTORY, "--db", str(db)], catch_exceptions=False)
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def history_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("grafana") / "history.db"
    run_demo(db)
    return db


@pytest.fixture(scope="module")
def history_postgres(postgres_cluster: PostgresCluster) -> Iterator[str]:
    url = postgres_cluster.create_database()
    try:
        run_demo(url)
        yield url
    finally:
        postgres_cluster.drop_database(url)


@pytest.fixture
def history(backend: str, request: pytest.FixtureRequest) -> Path | str:
    return request.getfixturevalue(f"history_{backend}")  # type: ignore[no-any-return]


@pytest.fixture
def g(history: Path | str) -> Iterator[Grafana]:
    with grafana(history) as connected:
        yield connected


def ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def no_record_at(db: Path | str, at: datetime) -> datetime:
    """`at`, or the next millisecond that holds no record (so an inclusive end means an exclusive one)."""
    while stored.scalar(db, "SELECT (SELECT COUNT(*) FROM metrics WHERE timestamp = ?)"
                            " + (SELECT COUNT(*) FROM events WHERE timestamp = ?)", [names.utc_text(at)] * 2):
        at += MS
    return at


def picks(db: Path | str) -> dict[str, dict[str, list[str]]]:
    """Variable selections of values the history has: one team, two teams, a model, a user, a session."""
    teams = sorted({json.loads(a)["team"] for (a,) in stored.rows(db, "SELECT attributes FROM attribute_sets")})
    user, session = stored.rows(db, "SELECT \"user\", session_id FROM rollup_sessions ORDER BY first_ts LIMIT 1")[0]
    model = ["claude-opus-5-5"]
    return {"none": {}, "team": {"team": teams[:1]}, "two-teams": {"team": teams[:2]}, "model": {"model": model},
            "team-and-model": {"team": teams[:1], "model": model}, "user": {"user": [user]},
            "session": {"session": [session]}}


def built_in(selected: dict[str, list[str]], start: datetime, end: datetime) -> Filters:
    return Filters(since=start, until=end, users=tuple(selected.get("user", ())),
                   models=tuple(selected.get("model", ())), sessions=tuple(selected.get("session", ())),
                   attributes=tuple(("team", t) for t in selected.get("team", ())))


@pytest.fixture(params=[r[0] for r in RANGES])
def span(request: pytest.FixtureRequest, history: Path | str) -> tuple[datetime, datetime]:
    _, start, end = next(r for r in RANGES if r[0] == request.param)
    return start, no_record_at(history, end)


@pytest.mark.parametrize("selection", ["none", "team", "two-teams", "model", "team-and-model", "user", "session"])
def test_totals_equal_the_built_in_tiles(g: Grafana, history: Path | str, span: tuple[datetime, datetime],
                                         selection: str) -> None:
    selected = picks(history)[selection]
    f = built_in(selected, *span)
    rng = (ms(span[0]), ms(span[1]))
    t = stored.read(history, lambda r: tiles.tiles(r, f))
    panel = {k: g.value(title, rng, selected) for k, title in (
        ("input_tokens", "Input tokens"), ("output_tokens", "Output tokens"),
        ("cache_read_tokens", "Cache read tokens"), ("cache_creation_tokens", "Cache creation tokens"),
        ("sessions", "Sessions started"))}
    assert panel == {k: t[k] for k in panel}
    assert g.value("Total cost", rng, selected) == pytest.approx(t["cost_usd"], abs=1e-6)
    assert g.run("Commits / pull requests", rng, selected)[1] == [(t["commits"], t["pull_requests"])]


@pytest.mark.parametrize("selection", ["none", "two-teams", "model", "user"])
def test_breakdowns_equal_the_built_in_panels(g: Grafana, history: Path | str, span: tuple[datetime, datetime],
                                              selection: str) -> None:
    selected = picks(history)[selection]
    f = built_in(selected, *span)
    rng = (ms(span[0]), ms(span[1]))
    by_model = stored.read(history, lambda r: models.models(r, f))
    cost = {e["model"]: e["cost_usd"] for e in by_model if e["cost_usd"]}
    assert dict(g.run("Cost by model", rng, selected)[1]) == pytest.approx(cost, abs=1e-6)
    latency = {r["Model"]: (r["Requests"], r["Errors"], r["p50 (ms)"], r["p95 (ms)"])
               for r in g.rows("API latency", rng, selected)}
    assert latency == {e["model"]: (e["requests"], e["errors"], e["p50_ms"], e["p95_ms"])
                       for e in by_model if e["requests"] or e["errors"]}
    used = [e for e in stored.read(history, lambda r: tools.tool_usage(r, f)) if e["uses"]]
    assert {r["Tool"]: (r["Runs"], r["Succeeded"], r["Median duration (ms)"])
            for r in g.rows("Tool success rate", rng, selected)} == {
        e["tool"]: (e["uses"], e["succeeded"], e["median_duration_ms"]) for e in used}
    assert dict(g.run("Tool usage", rng, selected)[1]) == {e["tool"]: e["uses"] for e in used}
    decisions: dict[tuple[str, str], float] = defaultdict(float)
    for e in stored.read(history, lambda r: tools.edit_decisions(r, f)):
        for decision in ("accept", "reject"):
            if e[decision]:
                decisions[(e["tool"], decision)] += e[decision]
    assert {(r["Tool"], r["Decision"]): r["Count"] for r in g.rows("Edit decisions", rng, selected)} == decisions


@pytest.mark.parametrize(("title", "metric", "split", "model"), [
    ("Token usage over time", names.TOKENS, "type", True), ("Cost over time", names.COST, "model", True),
    ("Lines of code added / removed", names.LINES, "type", True), ("Active time", names.ACTIVE_TIME, "type", False)])
@pytest.mark.parametrize("interval_ms", [600_000, 3_600_000, 21_600_000, 86_400_000])
def test_charts_equal_the_built_in_sums_per_bucket(g: Grafana, history: Path | str, span: tuple[datetime, datetime],
                                                   title: str, metric: str, split: str, model: bool,
                                                   interval_ms: int) -> None:
    selected = picks(history)["team"]
    f = built_in(selected, *span)
    expected = stored.read(history, lambda r: totals(r, "metrics", f, (metric,), (split,), model=model,
                                                     bucket=interval_ms // 1000))
    _, rows = g.run(title, (ms(span[0]), ms(span[1])), selected, interval_ms)
    assert {(int(t), key): v for t, key, v in rows if v} == pytest.approx(
        {k: v for k, v in expected.items() if v}, abs=1e-9)


@pytest.mark.parametrize("selection", ["none", "team", "two-teams", "model", "user", "session"])
def test_cost_by_user_equals_the_built_in_cost_of_each_user(g: Grafana, history: Path | str,
                                                            span: tuple[datetime, datetime], selection: str) -> None:
    """Whole hours from rollup_metrics_users (its attribute_set under a team), edges from rows; Sessions
    counts the user's sessions active in the range, as the session variable lists them."""
    selected = picks(history)[selection]
    rng = (ms(span[0]), ms(span[1]))
    rows = g.rows("Cost by user", rng, selected)
    users = [u["id"] for u in stored.read(history, lambda r: facets.users(r, Filters(since=span[0], until=span[1])))]
    costs = {}
    for user in selected.get("user", users):
        f = built_in({**selected, "user": [user]}, *span)
        costs[user] = stored.read(history, lambda r, f=f: tiles.tiles(r, f))["cost_usd"]  # type: ignore[misc]
    assert {r["User"]: r["Cost (USD)"] for r in rows} == pytest.approx({u: c for u, c in costs.items() if c},
                                                                       abs=1e-6)
    if selection == "none":
        active = stored.rows(history, 'SELECT "user", COUNT(*) FROM rollup_sessions WHERE last_ts >= ?'
                                      " AND first_ts <= ? GROUP BY 1", [names.utc_text(t) for t in span])
        assert {r["User"]: r["Sessions"] for r in rows} == {u: n for u, n in active if u in costs and costs[u]}


def test_variables_offer_the_built_in_filter_choices(g: Grafana, history: Path | str) -> None:
    _, start, end = RANGES[1]
    f = Filters(since=start, until=end)
    choices: dict[str, Any] = stored.read(history, lambda r: facets.facets(r, f))
    rng = (ms(start), ms(end))
    assert g.variable("user", rng) == [u["id"] for u in choices["users"]]
    assert g.variable("model", rng) == choices["models"]
    assert g.variable("team", rng) == choices["attributes"]["team"]
    sessions = stored.rows(history, "SELECT session_id FROM rollup_sessions WHERE last_ts >= ? AND first_ts <= ?",
                           [names.utc_text(start), names.utc_text(end)])
    assert sorted(g.variable("session", rng)) == sorted(s for (s,) in sessions)
