"""Spans of a session (Claude Code beta tracing), as an indented tree per prompt.

Claude Code's spans carry `session.id` but not `prompt.id`; each prompt is one trace, and the
prompt's log records carry its trace id, so spans are matched to prompts through it. Only a fixed
set of span attributes is shown: never `user_prompt` (prompt text belongs to the prompt event).
"""

from __future__ import annotations

from typing import Any

from ccmonitor.queries.attributes import object_of
from ccmonitor.queries.buckets import iso
from ccmonitor.store import Reader

SHOWN = ("model", "tool_name", "input_tokens", "output_tokens", "cache_read_tokens",
         "cache_creation_tokens", "ttft_ms", "attempt", "success", "decision", "source", "stop_reason",
         "file_path", "full_command")


def spans_by_prompt(conn: Reader, session_id: str,
                    trace_prompt: dict[str, str | None]) -> dict[str | None, list[dict[str, Any]]]:
    rows = conn.execute(
        "SELECT timestamp, duration_ms, trace_id, span_id, parent_span_id, name, status_code, prompt_id,"
        " custom_attributes FROM spans WHERE session_id = ? ORDER BY timestamp, id", [session_id]).fetchall()
    by_trace: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        attrs = object_of(r["custom_attributes"])
        by_trace.setdefault(r["trace_id"], []).append({
            "timestamp": iso(r["timestamp"]), "duration_ms": round(r["duration_ms"], 3), "name": r["name"],
            "span_id": r["span_id"], "parent_span_id": r["parent_span_id"], "status_code": r["status_code"],
            "prompt_id": r["prompt_id"], "attributes": {k: attrs[k] for k in SHOWN if k in attrs}})
    out: dict[str | None, list[dict[str, Any]]] = {}
    for trace_id, spans in by_trace.items():
        own = next((s["prompt_id"] for s in spans if s["prompt_id"]), None)
        prompt_id = own or trace_prompt.get(trace_id)
        out.setdefault(prompt_id, []).extend(_tree(spans))
    return out


def _tree(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Depth-first order with a `depth`; spans whose parent is missing are roots."""
    ids = {s["span_id"] for s in spans}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for s in spans:
        parent = s["parent_span_id"] if s["parent_span_id"] in ids else None
        children.setdefault(parent, []).append(s)
    out: list[dict[str, Any]] = []
    seen: set[str] = set()  # malformed input may loop (a span its own ancestor): visit each once

    def walk(parent: str | None, depth: int) -> None:
        for s in sorted(children.get(parent, []), key=lambda s: s["timestamp"]):
            if s["span_id"] in seen:
                continue
            seen.add(s["span_id"])
            out.append({**{k: v for k, v in s.items() if k != "prompt_id"}, "depth": depth})
            walk(s["span_id"], depth + 1)

    walk(None, 0)
    return out
