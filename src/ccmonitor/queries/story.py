"""One session told prompt by prompt (`prompt.id`): the prompt, then in order its API requests, tool
uses (permission decision joined with the result by `tool_use_id`), errors, and the cost and tokens
of its requests; the beta-tracing spans of the prompt where they exist (joined by the trace id the
prompt's log records carry). Records before the first prompt (settings, plugins) form a preamble.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from ccmonitor import telemetry as names
from ccmonitor.queries.attributes import object_of
from ccmonitor.queries.buckets import iso
from ccmonitor.queries.filters import Filters
from ccmonitor.queries.sessions import list_sessions
from ccmonitor.queries.spans import spans_by_prompt
from ccmonitor.store import Reader

MAX_EVENTS = 20_000
COLUMNS = ("id, timestamp, event_name, prompt_id, prompt, prompt_length, tool_name, success, duration_ms,"
           " error, decision, source, tool_parameters, model, cost_usd, input_tokens, output_tokens,"
           " cache_read_tokens, cache_creation_tokens, status_code, attempt, trace_id, custom_attributes")
TOKEN_COLUMNS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens")


ALL_TIME = Filters(since=datetime(1970, 1, 1, tzinfo=UTC), until=datetime(9999, 1, 1, tzinfo=UTC))


def session_story(conn: Reader, session_id: str) -> dict[str, Any] | None:
    """The whole session, whatever range the list it was picked from showed."""
    summary = list_sessions(conn, replace(ALL_TIME, sessions=(session_id,)), limit=1)
    rows = [dict(r) for r in conn.execute(
        f"SELECT {COLUMNS} FROM events WHERE session_id = ? ORDER BY timestamp, id LIMIT ?",
        [session_id, MAX_EVENTS])]
    if not rows and not summary["sessions"]:
        return None
    prompts: dict[str | None, dict[str, Any]] = {}
    for row in rows:
        _add(prompts.setdefault(row["prompt_id"], _prompt(row["prompt_id"])), row)
    spans = spans_by_prompt(conn, session_id, {r["trace_id"]: r["prompt_id"] for r in rows if r["trace_id"]})
    for prompt_id, group in spans.items():
        prompts.setdefault(prompt_id, _prompt(prompt_id))["spans"] = group
    return {
        "session": summary["sessions"][0] if summary["sessions"] else {"session_id": session_id},
        "prompts": list(prompts.values()),
        "truncated": len(rows) == MAX_EVENTS,
    }


def _prompt(prompt_id: str | None) -> dict[str, Any]:
    return {"prompt_id": prompt_id, "timestamp": None, "prompt": None, "prompt_length": None,
            "command": None, "steps": [], "spans": [], "api_requests": 0, "cost_usd": 0.0,
            **{c: 0 for c in TOKEN_COLUMNS}, "errors": 0, "tools": 0}


def _add(p: dict[str, Any], row: dict[str, Any]) -> None:
    name, attrs = row["event_name"], object_of(row["custom_attributes"])
    p["timestamp"] = p["timestamp"] or iso(row["timestamp"])
    step: dict[str, Any] = {"timestamp": iso(row["timestamp"]), "event": name}
    if name == names.USER_PROMPT:
        p.update(timestamp=iso(row["timestamp"]), prompt=row["prompt"], prompt_length=row["prompt_length"],
                 command=attrs.get("command_name"))
        return
    if name == names.API_REQUEST:
        step.update({k: row[k] for k in ("model", "cost_usd", "duration_ms", *TOKEN_COLUMNS)})
        p["api_requests"] += 1
        p["cost_usd"] = round(p["cost_usd"] + _number(row["cost_usd"]), 6)
        for c in TOKEN_COLUMNS:
            p[c] += _number(row[c])
    elif name in (names.API_ERROR, names.RETRIES_EXHAUSTED):
        step.update({k: row[k] for k in ("model", "status_code", "error", "attempt", "duration_ms")})
        step["total_attempts"] = attrs.get("total_attempts")
        p["errors"] += 1
    elif name in (names.TOOL_DECISION, names.TOOL_RESULT):
        _tool(p, row, attrs)
        return
    elif name == names.ASSISTANT_RESPONSE:
        step.update(model=row["model"], response_length=attrs.get("response_length"))
    p["steps"].append(step)


def _number(value: object) -> int | float:
    """A numeric column's value; 0 for NULL or for text a hand-typed row may hold there."""
    return value if isinstance(value, int | float) else 0


def _tool(p: dict[str, Any], row: dict[str, Any], attrs: dict[str, Any]) -> None:
    """A decision opens a tool step; its result (same tool_use_id) completes it."""
    use_id = attrs.get("tool_use_id")
    step = next((s for s in p["steps"] if s["event"] == "tool" and use_id and s["tool_use_id"] == use_id
                 and s["success"] is None), None)
    if step is None:
        step = {"timestamp": iso(row["timestamp"]), "event": "tool", "tool_use_id": use_id,
                "tool_name": row["tool_name"], "decision": None, "source": None, "success": None,
                "duration_ms": None, "tool_parameters": None}
        p["steps"].append(step)
        p["tools"] += 1
    if row["event_name"] == names.TOOL_DECISION:
        step.update(decision=row["decision"], source=row["source"])
    else:
        step.update(success=row["success"], duration_ms=row["duration_ms"])
    step["tool_parameters"] = step["tool_parameters"] or row["tool_parameters"]
