"""Terminal rendering of query results: a rich table (default), JSON or CSV.

No SQL here. Every number comes from ccmonitor.queries (or, with `--server`, from the server's API,
which calls the same functions), so the terminal, the API and the dashboard cannot disagree. JSON is
the query result exactly; CSV is its rows; the table only formats (thousands separators, dollars,
percentages, shortened hashes) and never computes. A number that overflowed (only rows past ingest's
bounds make one) is null in every format, as in the API (queries/encoding.py): "—" in the table.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

from ccmonitor.queries.encoding import dumps, finite
from ccmonitor.queries.periods import CATALOGUE

FORMATS = ("table", "json", "csv")
TITLES = {name: r.title for name, r in CATALOGUE.items()}
# Second tables some reports carry beside their rows (JSON has them all; CSV is the rows only).
EXTRA_TABLES = {"edit_decisions": "Code edit decisions (code_edit_tool.decision)",
                "versions": "Claude Code versions in use (sessions active in the range)",
                "machines": "Machines (tokens) silent as long",
                "one_signal": "Clients that sent only logs or only metrics"}
LABELS = {
    "period": "Period", "session_id": "Session", "model": "Model", "user": "User", "tool": "Tool",
    "start": "Start", "end": "End", "duration_s": "Seconds", "terminal": "Terminal", "prompts": "Prompts",
    "input_tokens": "Input", "output_tokens": "Output", "cache_read_tokens": "Cache read",
    "cache_creation_tokens": "Cache create", "cost_usd": "Cost (USD)", "sessions": "Sessions",
    "api_requests": "API requests", "api_errors": "Errors", "lines_added": "Lines +", "lines_removed": "Lines -",
    "p50_ms": "p50 ms", "p95_ms": "p95 ms", "cache_hit_ratio": "Cache hits", "uses": "Calls",
    "succeeded": "Succeeded", "success_rate": "Success", "median_duration_ms": "Median ms",
    "accepted": "Accepted", "rejected": "Rejected", "language": "Language", "accept": "Accepted",
    "reject": "Rejected", "group": "Group", "users": "Users", "tokens": "Tokens", "active_days": "Active days",
    "cost_per_active_day": "Cost/day", "edits_accepted": "Edits ok", "edits_rejected": "Edits rejected",
    "accept_rate": "Accept rate", "commits": "Commits", "pull_requests": "PRs", "last_seen": "Last seen",
    "measure": "Measure", "value": "Value", "previous": "Previous", "change": "Change", "version": "Version",
    "days_silent": "Days silent", "machine": "Machine", "with_logs": "With logs", "with_metrics": "With metrics",
    "missing": "Missing",
}
TEXT_COLUMNS = ("period", "session_id", "model", "user", "tool", "start", "end", "terminal", "language", "group",
                "last_seen", "measure", "version", "machine", "missing")
PERCENT_COLUMNS = ("success_rate", "cache_hit_ratio", "accept_rate")
MONEY_COLUMNS = ("cost_usd", "cost_per_active_day", "cost_per_active_user")
TIMES = ("start", "end", "last_seen")
# The sessions and users tables would not fit a terminal: these stay in JSON/CSV only.
TABLE_HIDES = {"sessions": ("end", "terminal", "sessions", "lines_added", "lines_removed"),
               "users": ("tokens", "edits_accepted", "edits_rejected")}  # tokens: the four columns' sum
LONG_ID = 24  # hashed user ids are 64 hex characters: the table shows a prefix, JSON/CSV the whole id


def render(doc: Mapping[str, Any], fmt: str, out: TextIO) -> None:
    """Print a report document ({"report", "tz", "rows", "total"}) in one of FORMATS."""
    doc = finite(doc)
    if fmt == "json":
        write_json(doc, out)
    elif fmt == "csv":
        write_csv(doc["rows"], out)
    else:
        title = f"{TITLES.get(doc['report'], doc['report'])} — time zone {doc['tz']}"
        if doc.get("by"):
            title += f" — by {doc['by']}"
        if doc["report"] == "silent":
            title += f" — users silent for {doc['days']} days or more"
        screen = console(out)
        if not doc["rows"]:
            screen.print(f"{title}: no telemetry matches")
        else:
            hide = () if doc.get("by") else TABLE_HIDES.get(doc["report"], ())
            rows = [{k: _local(k, v, doc["tz"]) for k, v in row.items() if k not in hide} for row in doc["rows"]]
            screen.print(table(rows, doc.get("total"), title))
        for key, heading in EXTRA_TABLES.items():
            if doc.get(key):
                extra = [{k: _local(k, v, doc["tz"]) for k, v in row.items()} for row in doc[key]]
                screen.print(table(extra, None, heading))
        if doc["report"] == "silent" and not doc.get("tokens_in_use"):
            screen.print("No tokens in use: machines are not named (Claude Code sends no host.name); see the users.")


def _local(column: str, value: Any, tz: str) -> Any:
    """Session start/end, last seen (ISO UTC) as local wall time in the report's zone, to the second."""
    if column not in TIMES or not isinstance(value, str):
        return value
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:  # a timestamp typed in by hand in a form we can't read: shown as stored
        return value
    try:
        local = at.astimezone() if tz == "local" else at.astimezone(ZoneInfo(tz))
    except (OverflowError, ValueError):  # a hand-typed year 1 or 9999 that leaves the calendar there: UTC
        local = at
    return local.strftime("%Y-%m-%d %H:%M:%S")


def write_json(doc: Any, out: TextIO) -> None:
    out.write(dumps(doc, indent=2) + "\n")


def write_csv(rows: Iterable[Mapping[str, Any]], out: TextIO) -> None:
    writer: csv.DictWriter[str] | None = None
    for row in rows:
        if writer is None:
            writer = csv.DictWriter(out, fieldnames=list(row), lineterminator="\n")
            writer.writeheader()
        writer.writerow({k: "" if v is None else v for k, v in row.items()})


def console(out: TextIO) -> Console:
    """Wide enough for every column when writing to a pipe or file; the terminal's width otherwise."""
    return Console(file=out, width=None if out.isatty() else 220, highlight=False, soft_wrap=False)


def table(rows: Sequence[Mapping[str, Any]], total: Mapping[str, Any] | None, title: str) -> Table:
    columns = list(rows[0]) if rows else list(total or {})
    footer = total is not None and bool(rows)
    t = Table(title=title, show_footer=footer, title_justify="left")
    for i, column in enumerate(columns):
        text = column in TEXT_COLUMNS
        foot = cell(column, total[column]) if total and column in total and not text else ""
        foot = "Total" if i == 0 and text else foot
        t.add_column(LABELS.get(column, column), footer=foot if footer else "",
                     justify="left" if text else "right", no_wrap=True)
    for row in rows:
        t.add_row(*(cell(c, row.get(c)) for c in columns))
    return t


def cell(column: str, value: Any) -> str:
    if value is None:
        return "—"
    if column in MONEY_COLUMNS:
        return f"${value:,.4f}"
    if column in PERCENT_COLUMNS:
        return f"{value:.0%}"
    if column == "change":
        return f"{value:+.0%}"
    if isinstance(value, float) and column.endswith("_ms"):
        return f"{value:,.0f}"
    if isinstance(value, int | float):
        return f"{value:,}"
    text = str(value)
    if column == "user" and len(text) > LONG_ID:
        return text[:12] + "…"
    return text


def render_mapping(title: str, data: Mapping[str, Any], fmt: str, out: TextIO) -> None:
    """A flat key/value view of a nested document (stats, prune and export summaries)."""
    if fmt == "json":
        write_json(data, out)
        return
    t = Table(title=title, show_header=False, title_justify="left")
    t.add_column(no_wrap=True)
    t.add_column(justify="right")
    for key, value in _flatten(data):
        t.add_row(key, cell(key, value))
    console(out).print(t)


def _flatten(data: Mapping[str, Any], prefix: str = "") -> Iterable[tuple[str, Any]]:
    for key, value in data.items():
        if isinstance(value, Mapping):
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value
