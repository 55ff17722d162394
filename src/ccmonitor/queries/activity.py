"""The recent-activity tables: user prompts, API requests, API errors (newest first, from `events`).

"Real prompts only": built-in slash commands (`/exit` arrives as a user_prompt with a `command_name`)
are left out. A prompt whose text was not recorded (prompt logging off, or the server told not to
keep prompts) is still listed, with `prompt` null and its length.
"""

from __future__ import annotations

from typing import Any

from ccmonitor import telemetry as names
from ccmonitor.queries.buckets import iso
from ccmonitor.queries.filters import USER_EXPR, Filters
from ccmonitor.store import Reader

PREVIEW_CHARS = 160
DEFAULT_LIMIT = 50
USER = USER_EXPR.format(p="")


def _rows(conn: Reader, sql: str, params: list[object]) -> list[dict[str, Any]]:
    out = []
    for row in conn.execute(sql, params):
        item = dict(row)
        item["timestamp"] = iso(item["timestamp"])
        out.append(item)
    return out


def recent_prompts(conn: Reader, f: Filters, limit: int = DEFAULT_LIMIT) -> list[dict[str, Any]]:
    where, params = f.where(conn.sql, model=False)
    rows = _rows(conn, (
        f"SELECT timestamp, session_id, prompt_id, {USER} AS user,"
        f" substr(prompt, 1, {PREVIEW_CHARS}) AS preview, length(prompt) > {PREVIEW_CHARS} AS truncated,"
        " COALESCE(prompt_length, length(prompt)) AS prompt_length"
        " FROM events"
        f" WHERE event_name = ? AND {where}"
        f" AND {conn.sql.command_name('custom_attributes')} IS NULL"
        " ORDER BY timestamp DESC LIMIT ?"), [names.USER_PROMPT, *params, limit])
    for row in rows:
        row["truncated"] = bool(row["truncated"])
    return rows


def recent_requests(conn: Reader, f: Filters, limit: int = DEFAULT_LIMIT) -> list[dict[str, Any]]:
    where, params = f.where(conn.sql)
    return _rows(conn, (
        f"SELECT timestamp, session_id, prompt_id, {USER} AS user, model, input_tokens, output_tokens,"
        " cache_read_tokens, cache_creation_tokens, cost_usd, duration_ms FROM events"
        f" WHERE event_name = ? AND {where} ORDER BY timestamp DESC LIMIT ?"),
        [names.API_REQUEST, *params, limit])


def api_errors(conn: Reader, f: Filters, limit: int = DEFAULT_LIMIT) -> list[dict[str, Any]]:
    where, params = f.where(conn.sql)
    return _rows(conn, (
        f"SELECT timestamp, session_id, prompt_id, {USER} AS user, model, status_code, error, attempt,"
        f" duration_ms FROM events WHERE event_name = ? AND {where} ORDER BY timestamp DESC LIMIT ?"),
        [names.API_ERROR, *params, limit])


def prompt_text(conn: Reader, prompt_id: str) -> dict[str, Any] | None:
    """The full text of one prompt ("full text on demand")."""
    row = conn.execute(
        "SELECT timestamp, session_id, prompt_id, prompt, prompt_length FROM events"
        " WHERE prompt_id = ? AND event_name = ? ORDER BY timestamp LIMIT 1",
        [prompt_id, names.USER_PROMPT]).fetchone()
    if row is None:
        return None
    item = dict(row)
    item["timestamp"] = iso(item["timestamp"])
    return item
