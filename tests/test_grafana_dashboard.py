"""The provisioned "Claude Code Monitoring Dashboard": every panel's SQL, expanded the way Grafana and
the frser-sqlite-datasource plugin expand it, run against a DB filled by replaying the captures.

Expansion order, as in the plugin (src/DataSource.ts, pkg/plugin/{variables,macros}.go):
1. Grafana's frontend: `templateSrv.replace(rawQueryText, scopedVars)` - dashboard variables with
   their format (`${user:sqlstring}`: each value single-quoted, quotes doubled, joined by commas; a
   custom "All" value is inserted as is), `$__from`/`$__to` as epoch milliseconds, `$__interval_ms`.
2. The plugin's backend: `$__from`/`$__to` again (for alerting), then the macros matched by
   `\\$__(\\w+)\\(([^)]*)\\)`: `$__unixEpochGroupSeconds(col, n)` -> `cast((col / n) as int) * n`, n
   must parse as an integer.
3. Columns named in the target's `timeColumns` become times: a number is epoch seconds, a string
   must be RFC 3339 - anything else turns into NULL in Grafana.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

import pytest
import yaml

DEPLOY = Path(__file__).parents[1] / "deploy"
DASHBOARD = json.loads((DEPLOY / "grafana" / "dashboards" / "claude-code-monitoring.json").read_text())
DATASOURCE = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "datasources" / "ccmonitor.yaml").read_text())[
    "datasources"
][0]
PANELS = DASHBOARD["panels"]
VARIABLES = {v["name"]: v for v in DASHBOARD["templating"]["list"]}
ALL = "$__all"

# Grafana's variable syntax: $name | [[name:format]] | ${name.field:format}
VARIABLE_RE = re.compile(r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\${(\w+)(?:\.([^:^\}]+))?(?::([^\}]+))?}")
MACRO_RE = re.compile(r"\$__([_a-zA-Z0-9]+)\(([^\)]*)\)")
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
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


def sqlstring(values: Sequence[str]) -> str:
    return ",".join("'" + v.replace("'", "''") + "'" for v in values)


def frontend_replace(sql: str, selected: Mapping[str, Sequence[str]], builtins: Mapping[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(4)
        fmt = match.group(3) or match.group(6)
        if name in builtins:
            return builtins[name]
        if name not in VARIABLES:
            return match.group(0)  # not a variable (e.g. a macro); Grafana leaves it alone
        values = list(selected.get(name, [ALL]))
        if values == [ALL]:
            return VARIABLES[name]["allValue"]  # custom all values skip formatting
        assert fmt == "sqlstring", f"${name} must be formatted with :sqlstring"
        return sqlstring(values)

    return VARIABLE_RE.sub(one, sql)


def backend_replace(sql: str, from_ms: int, to_ms: int) -> str:
    sql = sql.replace("$__from", str(from_ms // 1000 * 1000)).replace("$__to", str(to_ms // 1000 * 1000))

    def macro(match: re.Match[str]) -> str:
        name, args = match.group(1), match.group(2).split(",")
        if name != "unixEpochGroupSeconds":
            return match.group(0)
        assert len(args) == 2, "gap filling is not used"
        interval = int(args[1].strip())  # Go's strconv.Atoi: the plugin errors on anything else
        return f"cast(({args[0]} / {interval}) as int) * {interval}"

    return MACRO_RE.sub(macro, sql)


def expand(
    sql: str,
    from_ms: int,
    to_ms: int,
    selected: Mapping[str, Sequence[str]] | None = None,
    interval_ms: int = 60_000,
) -> str:
    builtins = {"__from": str(from_ms), "__to": str(to_ms), "__interval_ms": str(interval_ms)}
    return backend_replace(frontend_replace(sql, selected or {}, builtins), from_ms, to_ms)


def epoch_ms(text: str) -> int:
    return int(datetime.fromisoformat(text + "+00:00").timestamp() * 1000)


@pytest.fixture
def db(captures_db: Path) -> sqlite3.Connection:
    """Opened like the datasource: read-only, query_only."""
    conn = sqlite3.connect(f"file:{captures_db}?mode=ro", uri=True)
    conn.execute("PRAGMA query_only = 1")
    yield conn
    conn.close()


@pytest.fixture
def data_range(db: sqlite3.Connection) -> tuple[int, int]:
    low, high = db.execute(
        "SELECT MIN(t), MAX(t) FROM (SELECT timestamp t FROM metrics UNION ALL SELECT timestamp FROM events)"
    ).fetchone()
    return epoch_ms(low) - 3_600_000, epoch_ms(high) + 3_600_000


def run(db: sqlite3.Connection, panel: dict, rng: tuple[int, int], **kw: object) -> tuple[list[str], list]:
    cursor = db.execute(expand(panel["targets"][0]["rawQueryText"], *rng, **kw))  # type: ignore[arg-type]
    return [d[0] for d in cursor.description], cursor.fetchall()


def panel(title: str) -> dict:
    (found,) = [p for p in PANELS if p["title"] == title]
    return found


def value(db: sqlite3.Connection, title: str, rng: tuple[int, int], **kw: object) -> object:
    _, rows = run(db, panel(title), rng, **kw)
    return rows[0][0]


# ---------------------------------------------------------------- structure


def test_title_and_every_promised_panel() -> None:
    assert DASHBOARD["title"] == "Claude Code Monitoring Dashboard"
    assert {p["title"] for p in PANELS} >= PROMISED


def test_panel_ids_are_unique() -> None:
    ids = [p["id"] for p in PANELS]
    assert len(ids) == len(set(ids))


def test_panels_do_not_overlap_and_fit_the_grid() -> None:
    cells: dict[tuple[int, int], str] = {}
    for p in PANELS:
        g = p["gridPos"]
        assert g["x"] >= 0 and g["w"] > 0 and g["h"] > 0 and g["x"] + g["w"] <= 24, p["title"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"{p['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = p["title"]


def test_every_panel_target_and_variable_uses_the_pinned_datasource() -> None:
    pinned = {"type": "frser-sqlite-datasource", "uid": DATASOURCE["uid"]}
    for p in PANELS:
        assert p["datasource"] == pinned, p["title"]
        assert p["targets"], p["title"]
        for target in p["targets"]:
            assert target["datasource"] == pinned, p["title"]
    for v in VARIABLES.values():
        assert v["datasource"] == pinned, v["name"]


def test_every_target_honours_the_time_picker() -> None:
    for p in PANELS:
        sql = p["targets"][0]["rawQueryText"]
        assert "$__from" in sql and "$__to" in sql, p["title"]


def test_time_series_are_bucketed_and_ordered() -> None:
    for p in PANELS:
        target = p["targets"][0]
        if p["type"] == "timeseries":
            assert target["queryType"] == "time series", p["title"]
            assert "$__unixEpochGroupSeconds(" in target["rawQueryText"], p["title"]
            assert target["rawQueryText"].rstrip().split("\n")[-1].startswith("ORDER BY 1"), p["title"]
        else:
            assert target["queryType"] == "table", p["title"]


def test_variables_offer_all_and_are_only_used_quoted() -> None:
    assert {"user", "model", "session", "team"} <= set(VARIABLES)
    for v in VARIABLES.values():
        assert v["includeAll"] and v["multi"] and v["allValue"] == "'__all'", v["name"]
    for p in PANELS:
        sql = p["targets"][0]["rawQueryText"]
        for match in VARIABLE_RE.finditer(sql):
            name = match.group(1) or match.group(2) or match.group(4)
            if name in VARIABLES:
                assert match.group(0) == "${" + name + ":sqlstring}", (p["title"], match.group(0))


# ---------------------------------------------------------------- the SQL against replayed captures


@pytest.mark.parametrize("title", [p["title"] for p in PANELS])
def test_panel_query_runs_and_time_columns_are_times(
    db: sqlite3.Connection, data_range: tuple[int, int], title: str
) -> None:
    p = panel(title)
    columns, rows = run(db, p, data_range)
    assert rows, "no rows for a range that holds all the captures"
    time_columns = [i for i, c in enumerate(columns) if c in p["targets"][0]["timeColumns"]]
    if p["type"] == "timeseries":
        assert len(time_columns) == 1
        times = [r[time_columns[0]] for r in rows]
        assert all(isinstance(t, int) for t in times), "a time series needs epoch seconds"
        assert times == sorted(times), "a time series must be ordered by time"
        assert data_range[0] // 1000 - 60 <= times[0] and times[-1] <= data_range[1] // 1000
    for i in time_columns:
        for r in rows:
            assert isinstance(r[i], int) or RFC3339.match(r[i]), f"{columns[i]}={r[i]!r} is not a time"


@pytest.mark.parametrize("interval_ms", [1_000, 300_000, 86_400_000])
def test_buckets_follow_the_interval(db: sqlite3.Connection, data_range: tuple[int, int], interval_ms: int) -> None:
    _, rows = run(db, panel("Token usage over time"), data_range, interval_ms=interval_ms)
    assert all(r[0] % (interval_ms // 1000) == 0 for r in rows)
    assert sum(r[2] for r in rows if r[1] == "input") == 61200


@pytest.mark.parametrize("title", [p["title"] for p in PANELS])
def test_a_range_without_data_shows_nothing(db: sqlite3.Connection, data_range: tuple[int, int], title: str) -> None:
    before = (data_range[0] - 86_400_000, data_range[0])
    _, rows = run(db, panel(title), before)
    assert all(v in (0, None) for r in rows for v in r) if panel(title)["type"] == "stat" else rows == []


def test_totals_match_the_ground_truth(db: sqlite3.Connection, data_range: tuple[int, int]) -> None:
    # 11 standard sessions + the 2.1.197 one have tokens; api-error-500 only has its session.count.
    assert value(db, "Input tokens", data_range) == 12 * 5100
    assert value(db, "Output tokens", data_range) == 12 * 280
    assert value(db, "Cache read tokens", data_range) == 12 * 21000
    assert value(db, "Cache creation tokens", data_range) == 12 * 900
    assert value(db, "Total cost", data_range) == pytest.approx(11 * 0.0347 + 0.048625)
    assert value(db, "Sessions started", data_range) == 13


def test_model_filter(db: sqlite3.Connection, data_range: tuple[int, int]) -> None:
    old = {"model": ["claude-opus-4-8[1m]"]}
    assert value(db, "Input tokens", data_range, selected=old) == 5100
    assert value(db, "Total cost", data_range, selected=old) == pytest.approx(0.048625)
    both = {"model": ["claude-opus-4-8[1m]", "claude-opus-5-5"]}
    assert value(db, "Input tokens", data_range, selected=both) == 12 * 5100


def test_session_user_and_team_filters(db: sqlite3.Connection, data_range: tuple[int, int]) -> None:
    session, user = db.execute(
        "SELECT session_id, user_id FROM metrics WHERE metric_name = 'claude_code.token.usage' LIMIT 1"
    ).fetchone()
    assert value(db, "Input tokens", data_range, selected={"session": [session]}) == 5100
    assert value(db, "Input tokens", data_range, selected={"user": [user]}) == 5100
    assert value(db, "Input tokens", data_range, selected={"team": ["platform"]}) == 12 * 5100
    assert value(db, "Input tokens", data_range, selected={"team": ["elsewhere"]}) == 0


@pytest.mark.parametrize(
    "hostile",
    ["x') OR 1=1 --", "'; DROP TABLE metrics; --", "o'neil", "\\' OR '1'='1"],
    ids=["close-paren", "stacked-statement", "apostrophe", "backslash-quote"],
)
def test_variable_values_cannot_inject_sql(db: sqlite3.Connection, data_range: tuple[int, int], hostile: str) -> None:
    for name in VARIABLES:
        for p in [p for p in PANELS if "${" + name + ":" in p["targets"][0]["rawQueryText"]]:
            _, rows = run(db, p, data_range, selected={name: [hostile]})
            assert all(v in (0, None) for r in rows for v in r) if p["type"] == "stat" else rows == [], p["title"]
    assert db.execute("SELECT COUNT(*) FROM metrics").fetchone()[0] > 0


def test_recent_prompts_shows_only_real_prompts(db: sqlite3.Connection, data_range: tuple[int, int]) -> None:
    columns, rows = run(db, panel("Recent user prompts"), data_range)
    prompts = [r[columns.index("Prompt")] for r in rows]
    # 13 sessions sent a user_prompt; redacted-defaults ran without OTEL_LOG_USER_PROMPTS.
    assert prompts == ["create hello.txt then run echo hi"] * 12


def test_api_tables(db: sqlite3.Connection, data_range: tuple[int, int]) -> None:
    _, requests = run(db, panel("Recent API requests"), data_range)
    assert len(requests) == 12 * 4
    columns, errors = run(db, panel("API errors"), data_range)
    assert sorted((r[columns.index("Event")], r[columns.index("Status")]) for r in errors) == [
        ("api_error", 500),
        ("api_retries_exhausted", 500),
    ]


def test_tool_panels(db: sqlite3.Connection, data_range: tuple[int, int]) -> None:
    _, usage = run(db, panel("Tool usage"), data_range)
    assert dict(usage) == {"Write": 12, "Bash": 12}
    columns, rates = run(db, panel("Tool success rate"), data_range)
    assert {r[0]: r[columns.index("Success rate")] for r in rates} == {"Write": 1.0, "Bash": 1.0}
    _, decisions = run(db, panel("Edit decisions"), data_range)
    assert decisions == [("Write", "accept", 12.0)]


@pytest.mark.parametrize("name", sorted(VARIABLES))
def test_variable_queries_return_one_column(db: sqlite3.Connection, name: str) -> None:
    cursor = db.execute(VARIABLES[name]["query"])
    rows = cursor.fetchall()
    assert len(cursor.description) == 1 and rows
    if name == "team":
        assert rows == [("platform",)]
