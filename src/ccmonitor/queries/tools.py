"""Tool panels: usage distribution (executions per tool, success rate, exact median duration,
permission decisions) from `tool_result` / `tool_decision` events, and code-edit decisions
(accept/reject by tool and language) from the `code_edit_tool.decision` metric. Tools have no model:
the model filter does not apply here. Counts come from the hourly rollups where they can."""

from __future__ import annotations

from typing import Any

from ccmonitor import telemetry as names
from ccmonitor.queries.filters import Filters
from ccmonitor.queries.percentiles import percentiles
from ccmonitor.queries.rollups import totals, whole
from ccmonitor.store import Reader


def tool_usage(conn: Reader, f: Filters) -> list[dict[str, Any]]:
    tools: dict[str, dict[str, Any]] = {}

    def entry(tool: object) -> dict[str, Any]:
        key = str(tool) if tool else "unknown"
        return tools.setdefault(key, {"tool": key, "uses": 0, "succeeded": 0, "success_rate": None,
                                      "median_duration_ms": None, "accepted": 0, "rejected": 0})

    counts = totals(conn, "events", f, (names.TOOL_RESULT, names.TOOL_DECISION),
                    ("event_name", "tool_name", "success", "decision"), model=False)
    for (event, tool, success, decision), n in counts.items():
        e = entry(tool)
        if event == names.TOOL_RESULT:
            e["uses"] += int(n)
            e["succeeded"] += int(n) if success == "true" else 0
        elif decision in ("accept", "reject"):
            e[f"{decision}ed"] += int(n)
    for e in tools.values():
        e["success_rate"] = e["succeeded"] / e["uses"] if e["uses"] else None
    for tool, value in percentiles(conn, f, names.TOOL_RESULT, (50,)).items():
        entry(tool)["median_duration_ms"] = value[50]
    return sorted(tools.values(), key=lambda e: (-e["uses"], -e["accepted"] - e["rejected"], e["tool"]))


def edit_decisions(conn: Reader, f: Filters) -> list[dict[str, Any]]:
    """Accept/reject counts of Edit, Write and NotebookEdit by tool and language."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    sums = totals(conn, "metrics", f, (names.EDIT_DECISION,), ("tool", "language", "decision"), model=False)
    for (tool, language, decision), n in sums.items():
        key = (str(tool or "unknown"), str(language or "unknown"))
        e = out.setdefault(key, {"tool": key[0], "language": key[1], "accept": 0, "reject": 0})
        if decision in ("accept", "reject"):
            e[str(decision)] = whole(e[str(decision)] + n)
    return sorted(out.values(), key=lambda e: (-e["accept"] - e["reject"], e["tool"], e["language"]))
