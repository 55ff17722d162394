"""The provisioned "Claude Code Monitoring Dashboard", for SQLite (frser-sqlite-datasource) and for
PostgreSQL (Grafana's built-in datasource): the two JSON files are what deploy/grafana/dashboards.py
writes, they have the same panels, and every panel's and variable's SQL, expanded the way Grafana and
each datasource expand it (grafana_macros.py), runs on a database of its backend filled by replaying the
captures, with the numbers the captures hold. The agreement with the built-in dashboard over a longer
history is tests/test_grafana_agreement.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

import grafana_macros
import stored
from grafana_panels import Grafana, dashboard, dashboards, datasource, grafana, sql_of, variables

BACKENDS = ("sqlite", "postgres")
BOARDS = {b: dashboard(b) for b in BACKENDS}
PLUGINS = {"sqlite": "frser-sqlite-datasource", "postgres": "grafana-postgresql-datasource"}
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
TITLES = [p["title"] for p in BOARDS["sqlite"]["panels"]]
PROMISED = {
    "Input tokens",
    "Output tokens",
    "Total cost",
    "Sessions started",
    "Cache read tokens",
    "Cache creation tokens",
    "Token usage over time",
    "Cost over time",
    "Lines of code added / removed",
    "Recent user prompts",
    "Recent API requests",
    "API errors",
    "Tool usage",
    "Cost by model",
    "Cost by user",
    "Tool success rate",
    "API latency",
    "Edit decisions",
    "Active time",
    "Commits / pull requests",
}


def epoch_ms(text: str) -> int:
    return int(datetime.fromisoformat(text + "+00:00").timestamp() * 1000)


@pytest.fixture
def g(captures_db: Path | str) -> Iterator[Grafana]:
    with grafana(captures_db) as connected:
        yield connected


@pytest.fixture
def data_range(captures_db: Path | str) -> tuple[int, int]:
    """From an hour before the first capture to an hour after the last: whole hours in between."""
    low, high = stored.rows(captures_db, "SELECT MIN(t), MAX(t) FROM (SELECT timestamp t FROM metrics"
                                         " UNION ALL SELECT timestamp FROM events) AS x")[0]
    return epoch_ms(low) - 3_600_000, epoch_ms(high) + 3_600_000


# ---------------------------------------------------------------- the files


def test_files_are_what_the_catalogue_writes() -> None:
    for backend in BACKENDS:
        path = dashboards.HERE / dashboards.DATASOURCES[backend][2] / dashboards.FILE
        assert path.read_text() == dashboards.render(backend), f"run python {dashboards.__file__}"


def test_title_and_every_promised_panel() -> None:
    for board in BOARDS.values():
        assert board["title"] == "Claude Code Monitoring Dashboard"
        assert {p["title"] for p in board["panels"]} >= PROMISED


def test_both_dashboards_have_the_same_panels_layout_and_variables() -> None:
    def shape(board: dict) -> list:
        return [(p["id"], p["type"], p["title"], p["gridPos"], p["fieldConfig"], p["options"]) for p in board["panels"]]

    assert shape(BOARDS["sqlite"]) == shape(BOARDS["postgres"])
    assert list(variables(BOARDS["sqlite"])) == list(variables(BOARDS["postgres"]))
    assert BOARDS["sqlite"]["uid"] == BOARDS["postgres"]["uid"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_panels_do_not_overlap_and_fit_the_grid(backend: str) -> None:
    cells: dict[tuple[int, int], str] = {}
    ids = [p["id"] for p in BOARDS[backend]["panels"]]
    assert len(ids) == len(set(ids))
    for p in BOARDS[backend]["panels"]:
        g = p["gridPos"]
        assert g["x"] >= 0 and g["w"] > 0 and g["h"] > 0 and g["x"] + g["w"] <= 24, p["title"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"{p['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = p["title"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_panel_target_and_variable_uses_the_pinned_datasource(backend: str) -> None:
    pinned = {"type": PLUGINS[backend], "uid": datasource(backend)["uid"]}
    assert datasource(backend)["type"] == PLUGINS[backend]
    for p in BOARDS[backend]["panels"]:
        assert p["datasource"] == pinned, p["title"]
        assert len(p["targets"]) == 1, p["title"]
        assert p["targets"][0]["datasource"] == pinned, p["title"]
    for v in variables(BOARDS[backend]).values():
        assert v["datasource"] == pinned, v["name"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_target_honours_the_time_picker(backend: str) -> None:
    picker = ("$__from", "$__to") if backend == "sqlite" else ("$__timeFilter(",)
    for p in BOARDS[backend]["panels"]:
        text = sql_of(p["targets"][0])
        assert all(m in text for m in picker), p["title"]
    for v in variables(BOARDS[backend]).values():
        assert any(m in v["query"] for m in ("$__from", "$__timeFrom()")), v["name"]
        assert v["refresh"] == 2, "variables follow the time range"


@pytest.mark.parametrize("backend", BACKENDS)
def test_time_series_are_bucketed_and_ordered(backend: str) -> None:
    for p in BOARDS[backend]["panels"]:
        target = p["targets"][0]
        if p["type"] == "timeseries":
            if backend == "sqlite":
                assert target["queryType"] == "time series", p["title"]
                assert "$__unixEpochGroupSeconds(t * 1000, $__interval_ms) / 1000 AS time" in sql_of(target)
            else:
                assert target["format"] == "time_series", p["title"]
                assert "$__timeGroupAlias(t, $__interval)" in sql_of(target)
            assert sql_of(target).rstrip().split("\n")[-1].startswith("ORDER BY 1"), p["title"]
            assert p["maxDataPoints"] == dashboards.CHART_POINTS and p["interval"] == "1m"
        else:
            assert target.get("queryType", target.get("format")) == "table", p["title"]


@pytest.mark.parametrize(("days", "hours"), [(7, 1), (30, 6)])
def test_charts_over_long_ranges_get_whole_hours_which_the_rollups_serve(days: int, hours: int) -> None:
    assert grafana_macros.interval_ms(days * 86_400_000, dashboards.CHART_POINTS, 60_000) == hours * 3_600_000


@pytest.mark.parametrize("backend", BACKENDS)
def test_variables_offer_all_and_are_only_used_quoted(backend: str) -> None:
    found = variables(BOARDS[backend])
    assert set(found) == {"user", "model", "session", "team"}
    for v in found.values():
        assert v["includeAll"] and v["multi"] and v["allValue"] == "'__all'", v["name"]
    for p in BOARDS[backend]["panels"]:
        for match in grafana_macros.VARIABLE.finditer(sql_of(p["targets"][0])):
            name = match.group(1) or match.group(2) or match.group(4)
            if name in found:
                assert match.group(0) == "${" + name + ":sqlstring}", (p["title"], match.group(0))


def test_postgres_macros_are_only_those_grafana_knows() -> None:
    known = {"__timeFilter", "__timeFrom", "__timeTo", "__timeGroupAlias"}
    board = BOARDS["postgres"]
    texts = [sql_of(p["targets"][0]) for p in board["panels"]] + [v["query"] for v in variables(board).values()]
    for text in texts:
        assert {m.group(1) for m in grafana_macros.POSTGRES_MACRO.finditer(text)} <= known
        assert "--" not in text and "/*" not in text, "Grafana 12 strips comments: keep none in the SQL"


# ---------------------------------------------------------------- the expansion, against Grafana's own examples


def test_postgres_expansion_matches_grafanas_examples() -> None:
    start = int(datetime(2018, 4, 12, 18, tzinfo=UTC).timestamp() * 1000)
    end = start + 5 * 60_000

    def expand(text: str) -> str:
        return grafana_macros.postgres_backend(text, start, end, 300_000)

    assert expand("WHERE $__timeFilter(time_column)") == \
        "WHERE time_column BETWEEN '2018-04-12T18:00:00Z' AND '2018-04-12T18:05:00Z'"
    assert expand("select $__timeFrom()") == "select '2018-04-12T18:00:00Z'"
    assert expand("SELECT $__timeGroupAlias(time_column,'5m')") == \
        "SELECT floor(extract(epoch from time_column)/300)*300 AS \"time\""
    assert expand("SELECT $__timeGroup(time_column,'5m'), value") == \
        "SELECT floor(extract(epoch from time_column)/300)*300 AS \"time\", value"
    assert expand("$__timeGroup(t, $__interval)") == "floor(extract(epoch from t)/300)*300"
    assert grafana_macros.rfc3339_nano(start + 500) == "2018-04-12T18:00:00.5Z"
    assert grafana_macros.go_float(2592000.0) == "2.592e+06" and grafana_macros.go_float(21600.0) == "21600"
    with pytest.raises(grafana_macros.MacroError):
        expand("SELECT $__unknownMacro(x)")


def test_frontend_formats_and_builtins() -> None:
    board = BOARDS["sqlite"]
    text = "${user:sqlstring} ${team:sqlstring} $__interval $__interval_ms $__from"
    out = grafana_macros.frontend(text, variables(board), {"user": ["o'neil", 'say "hi"']}, 1000, 2000, 21_600_000)
    assert out == "'o''neil','say \\\"hi\\\"' '__all' 6h 21600000 1000"
    assert grafana_macros.seconds_to_hms(604800) == "7d" and grafana_macros.seconds_to_hms(5400) == "1h"


# ---------------------------------------------------------------- the SQL against replayed captures


@pytest.mark.parametrize("title", TITLES)
def test_panel_query_runs_and_time_columns_are_times(g: Grafana, data_range: tuple[int, int], title: str) -> None:
    p = g.panel(title)
    columns, rows = g.run(title, data_range)
    assert rows, "no rows for a range that holds all the captures"
    if p["type"] == "timeseries":
        times = [r[columns.index("time")] for r in rows]
        assert all(float(t) == int(t) for t in times), "a time series needs epoch seconds"
        assert times == sorted(times), "a time series must be ordered by time"
        assert data_range[0] // 1000 - 60 <= times[0] and times[-1] <= data_range[1] // 1000
    elif "time" in columns:
        for r in rows:
            t = r[columns.index("time")]
            assert isinstance(t, datetime) if g.backend == "postgres" else RFC3339.match(t), f"{t!r} is not a time"


@pytest.mark.parametrize("interval_ms", [60_000, 300_000, 3_600_000, 21_600_000, 86_400_000, 2_592_000_000])
def test_buckets_follow_the_interval(g: Grafana, data_range: tuple[int, int], interval_ms: int) -> None:
    columns, rows = g.run("Token usage over time", data_range, interval_ms=interval_ms)
    assert all(int(r[0]) % (interval_ms // 1000) == 0 for r in rows)
    assert sum(r[2] for r in rows if r[1] == "input") == 61200


@pytest.mark.parametrize("title", TITLES)
def test_a_range_without_data_shows_nothing(g: Grafana, data_range: tuple[int, int], title: str) -> None:
    before = (data_range[0] - 86_400_000, data_range[0])
    _, rows = g.run(title, before)
    assert all(v in (0, None) for r in rows for v in r) if g.panel(title)["type"] == "stat" else rows == []


def test_totals_match_the_ground_truth(g: Grafana, data_range: tuple[int, int]) -> None:
    # 11 standard sessions + the 2.1.197 one have tokens; api-error-500 only has its session.count.
    assert g.value("Input tokens", data_range) == 12 * 5100
    assert g.value("Output tokens", data_range) == 12 * 280
    assert g.value("Cache read tokens", data_range) == 12 * 21000
    assert g.value("Cache creation tokens", data_range) == 12 * 900
    assert g.value("Total cost", data_range) == pytest.approx(11 * 0.0347 + 0.048625)
    assert g.value("Sessions started", data_range) == 13


def test_edges_cut_through_the_captures(g: Grafana, captures_db: Path | str) -> None:
    """Ranges whose ends fall between the captured records: whole hours from the rollups, the rest from
    rows, and the sum over a split range equals the sum over the whole."""
    points = [(epoch_ms(t), v) for t, v in stored.rows(
        captures_db, "SELECT timestamp, metric_value FROM metrics"
                     " WHERE metric_name = 'claude_code.token.usage' AND type = 'input' ORDER BY timestamp")]
    middle = (points[5][0] + points[6][0]) // 2
    hour = middle // 3_600_000 * 3_600_000
    for start, end in ((hour - 7_200_000, middle), (middle + 1, hour + 7_200_000), (middle - 60_000, middle)):
        expected = sum(v for t, v in points if start <= t <= end)
        assert g.value("Input tokens", (start, end)) == expected, (start, end)
    assert 0 < g.value("Input tokens", (hour - 7_200_000, middle)) < 12 * 5100


def test_model_filter(g: Grafana, data_range: tuple[int, int]) -> None:
    old = {"model": ["claude-opus-4-8[1m]"]}
    assert g.value("Input tokens", data_range, old) == 5100
    assert g.value("Total cost", data_range, old) == pytest.approx(0.048625)
    both = {"model": ["claude-opus-4-8[1m]", "claude-opus-5-5"]}
    assert g.value("Input tokens", data_range, both) == 12 * 5100


def test_session_user_and_team_filters(g: Grafana, captures_db: Path | str, data_range: tuple[int, int]) -> None:
    session, user = stored.rows(captures_db, "SELECT session_id, user_id FROM metrics"
                                             " WHERE metric_name = 'claude_code.token.usage' LIMIT 1")[0]
    assert g.value("Input tokens", data_range, {"session": [session]}) == 5100
    assert g.value("Input tokens", data_range, {"user": [user]}) == 5100
    assert g.value("Input tokens", data_range, {"team": ["platform"]}) == 12 * 5100
    assert g.value("Input tokens", data_range, {"team": ["elsewhere"]}) == 0
    assert g.value("Input tokens", data_range, {"team": ["platform"], "user": [user]}) == 5100


@pytest.mark.parametrize(
    "hostile",
    ["x') OR 1=1 --", "'; DROP TABLE metrics; --", "o'neil", "\\' OR '1'='1", 'say "hi"'],
    ids=["close-paren", "stacked-statement", "apostrophe", "backslash-quote", "double-quote"],
)
def test_variable_values_cannot_inject_sql(g: Grafana, captures_db: Path | str, data_range: tuple[int, int],
                                           hostile: str) -> None:
    for name in variables(g.board):
        for p in [p for p in g.board["panels"] if "${" + name + ":" in sql_of(p["targets"][0])]:
            _, rows = g.run(p["title"], data_range, {name: [hostile]})
            assert all(v in (0, None) for r in rows for v in r) if p["type"] == "stat" else rows == [], p["title"]
    assert stored.scalar(captures_db, "SELECT COUNT(*) FROM metrics") > 0


def test_recent_prompts_shows_only_real_prompts(g: Grafana, data_range: tuple[int, int]) -> None:
    prompts = [r["Prompt"] for r in g.rows("Recent user prompts", data_range)]
    # 13 sessions sent a user_prompt; redacted-defaults ran without OTEL_LOG_USER_PROMPTS.
    assert prompts == ["create hello.txt then run echo hi"] * 12


def test_api_tables(g: Grafana, data_range: tuple[int, int]) -> None:
    assert len(g.rows("Recent API requests", data_range)) == 12 * 4
    errors = g.rows("API errors", data_range)
    assert sorted((r["Event"], r["Status"]) for r in errors) == [("api_error", 500), ("api_retries_exhausted", 500)]
    latency = {r["Model"]: r for r in g.rows("API latency", data_range)}
    assert {m: (r["Requests"], r["Errors"]) for m, r in latency.items()} == {
        "claude-opus-5-5": (44, 1), "claude-opus-4-8": (4, 0)}
    assert all(0 < r["p50 (ms)"] <= r["p95 (ms)"] for r in latency.values())


def test_tool_panels(g: Grafana, data_range: tuple[int, int]) -> None:
    _, usage = g.run("Tool usage", data_range)
    assert dict(usage) == {"Write": 12, "Bash": 12}
    rates = g.rows("Tool success rate", data_range)
    assert {r["Tool"]: (r["Runs"], r["Success rate"]) for r in rates} == {"Write": (12, 1.0), "Bash": (12, 1.0)}
    assert all(r["Median duration (ms)"] > 0 for r in rates)
    _, decisions = g.run("Edit decisions", data_range)
    assert decisions == [("Write", "accept", 12.0)]


def test_cost_panels(g: Grafana, data_range: tuple[int, int]) -> None:
    by_model = dict(g.run("Cost by model", data_range)[1])
    assert by_model == pytest.approx({"claude-opus-5-5": 11 * 0.0347, "claude-opus-4-8[1m]": 0.048625})
    by_user = g.rows("Cost by user", data_range)
    assert len(by_user) == 12 and all(r["Sessions"] == 1 for r in by_user)
    assert sum(r["Cost (USD)"] for r in by_user) == pytest.approx(sum(by_model.values()))


@pytest.mark.parametrize("name", ["user", "model", "session", "team"])
def test_variable_queries_return_one_column(g: Grafana, data_range: tuple[int, int], name: str) -> None:
    values = g.variable(name, data_range)
    assert values and len(values) == len(set(values))
    if name == "team":
        assert values == ["platform"]
    if name == "model":
        assert values == ["claude-opus-4-8", "claude-opus-4-8[1m]", "claude-opus-5-5"]
    assert g.variable(name, (data_range[0] - 86_400_000, data_range[0] - 3_600_000)) == []
