"""Tool panels: usage distribution (executions per tool, success rate, median duration, permission
decisions) from `tool_result` / `tool_decision` events, and code-edit decisions (accept/reject by
tool and language) from the `code_edit_tool.decision` metric. Tools have no model: the model filter
does not apply here."""

from __future__ import annotations

import sqlite3
from typing import Any

from ccmonitor.queries import names
from ccmonitor.queries.filters import Filters
from ccmonitor.queries.percentiles import percentiles


def tool_usage(conn: sqlite3.Connection, f: Filters) -> list[dict[str, Any]]:
    where, params = f.where(model=False)
    tools: dict[str, dict[str, Any]] = {}

    def entry(tool: str | None) -> dict[str, Any]:
        key = tool or "unknown"
        return tools.setdefault(key, {"tool": key, "uses": 0, "succeeded": 0, "success_rate": None,
                                      "median_duration_ms": None, "accepted": 0, "rejected": 0})

    for tool, uses, ok in conn.execute(
        f"SELECT tool_name, COUNT(*), SUM(success = 'true') FROM events WHERE event_name = ? AND {where}"
        " GROUP BY tool_name", [names.TOOL_RESULT, *params]):
        e = entry(tool)
        e.update(uses=uses, succeeded=ok or 0, success_rate=(ok or 0) / uses if uses else None)
    for tool, decision, n in conn.execute(
        f"SELECT tool_name, decision, COUNT(*) FROM events WHERE event_name = ? AND {where}"
        " GROUP BY tool_name, decision", [names.TOOL_DECISION, *params]):
        if decision in ("accept", "reject"):
            entry(tool)[decision + "ed"] += n
    medians = percentiles(conn, "tool_name", "duration_ms", f"FROM events WHERE event_name = ? AND {where}",
                          [names.TOOL_RESULT, *params], ps=(50,))
    for tool, stats in medians.items():
        entry(tool)["median_duration_ms"] = stats.get("p50")
    return sorted(tools.values(), key=lambda e: (-e["uses"], -e["accepted"] - e["rejected"], e["tool"]))


def edit_decisions(conn: sqlite3.Connection, f: Filters) -> list[dict[str, Any]]:
    """Accept/reject counts of Edit, Write and NotebookEdit by tool and language."""
    where, params = f.where(model=False)
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for tool, language, decision, n in conn.execute(
        f"SELECT tool, language, decision, SUM(metric_value) FROM metrics WHERE metric_name = ? AND {where}"
        " GROUP BY tool, language, decision", [names.EDIT_DECISION, *params]):
        key = (tool or "unknown", language or "unknown")
        e = out.setdefault(key, {"tool": key[0], "language": key[1], "accept": 0, "reject": 0})
        if decision in ("accept", "reject"):
            e[decision] += int(n or 0)
    return sorted(out.values(), key=lambda e: (-e["accept"] - e["reject"], e["tool"], e["language"]))
