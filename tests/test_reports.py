"""reports: JSON is the query result exactly, CSV its rows, the table only formats."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

import stored
from ccmonitor import reports
from ccmonitor.queries.periods import REPORTS, report
from test_periods import ALL


def rendered(doc: dict, fmt: str) -> str:
    out = io.StringIO()
    reports.render(doc, fmt, out)
    return out.getvalue()


@pytest.fixture
def docs(captures_db: Path | str) -> dict[str, dict]:
    with stored.reader(captures_db) as conn:
        return {name: report(conn, name, ALL) for name in REPORTS}


@pytest.mark.parametrize("name", REPORTS)
def test_json_is_the_query_result(docs: dict[str, dict], name: str) -> None:
    assert json.loads(rendered(docs[name], "json")) == docs[name]


@pytest.mark.parametrize("name", REPORTS)
def test_csv_is_the_rows(docs: dict[str, dict], name: str) -> None:
    rows = list(csv.DictReader(io.StringIO(rendered(docs[name], "csv"))))
    want = docs[name]["rows"]
    assert len(rows) == len(want) and list(rows[0]) == list(want[0])
    assert [r[k] for r in rows for k in r] == ["" if v is None else str(v) for w in want for v in w.values()]


def test_table_formats_numbers_and_shows_the_total(docs: dict[str, dict]) -> None:
    text = rendered(docs["daily"], "table")
    assert "Daily usage" in text and "time zone local" in text
    for shown in ("61,200", "3,360", "252,000", "10,800", "$0.4303", "Total", "Cache read", "API requests"):
        assert shown in text


def test_table_of_sessions_shortens_hashes_and_shows_local_times(docs: dict[str, dict]) -> None:
    doc = {**docs["sessions"], "tz": "Asia/Tokyo"}
    text = rendered(doc, "table")
    user = doc["rows"][0]["user"]
    assert user[:12] + "…" in text and user not in text  # 64-hex ids: JSON and CSV keep them whole
    assert "2026-11-28 01:" in text  # 16:xx UTC is past midnight in Tokyo
    assert "Terminal" not in text  # kept for JSON/CSV: the table must fit a terminal


def test_tools_table_has_the_edit_decisions_too(docs: dict[str, dict]) -> None:
    text = rendered(docs["tools"], "table")
    assert "Tool usage" in text and "Bash" in text and "100%" in text
    assert "Code edit decisions" in text and "Plain text" in text


def test_empty_report_says_so() -> None:
    doc = {"report": "daily", "tz": "UTC", "rows": [], "total": {"input_tokens": 0}}
    assert "no telemetry matches" in rendered(doc, "table")
    assert rendered(doc, "csv") == ""


@pytest.mark.parametrize(("column", "value", "shown"), [
    ("cost_usd", 1234.5, "$1,234.5000"), ("success_rate", 0.5, "50%"), ("cache_hit_ratio", None, "—"),
    ("median_duration_ms", 12.5, "12"), ("input_tokens", 1234567, "1,234,567"), ("model", "m", "m"),
])
def test_cells(column: str, value: object, shown: str) -> None:
    assert reports.cell(column, value) == shown


def test_mapping_view_flattens_nested_keys() -> None:
    out = io.StringIO()
    reports.render_mapping("stats", {"rows": {"events": 3}, "db_path": "/x.db"}, "table", out)
    assert "rows.events" in out.getvalue() and "/x.db" in out.getvalue()
    out = io.StringIO()
    reports.render_mapping("stats", {"rows": {"events": 3}}, "json", out)
    assert json.loads(out.getvalue()) == {"rows": {"events": 3}}
