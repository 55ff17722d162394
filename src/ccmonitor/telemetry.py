"""The shared vocabulary of what Claude Code sends, low enough for every layer to import (receivers,
ingest, store, queries, retention): metric, event and token-type names (shared/claude-code/TELEMETRY.md),
the keys that hold prompt text, the attribute-set rule, and the stored timestamp form.

Metric and event names carry the `claude_code.` prefix as stored. Metrics that carry a `model`
attribute honour the model filter; the others (sessions, active time, commits, ...) don't have one,
so a model filter leaves them untouched rather than zeroing them.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

TOKENS = "claude_code.token.usage"
COST = "claude_code.cost.usage"
LINES = "claude_code.lines_of_code.count"
SESSIONS = "claude_code.session.count"
ACTIVE_TIME = "claude_code.active_time.total"
COMMITS = "claude_code.commit.count"
PULL_REQUESTS = "claude_code.pull_request.count"
EDIT_DECISION = "claude_code.code_edit_tool.decision"

MODEL_METRICS = (TOKENS, COST, LINES)
UNMODELLED_METRICS = (SESSIONS, ACTIVE_TIME, COMMITS, PULL_REQUESTS)

USER_PROMPT = "claude_code.user_prompt"
API_REQUEST = "claude_code.api_request"
API_ERROR = "claude_code.api_error"
RETRIES_EXHAUSTED = "claude_code.api_retries_exhausted"
TOOL_DECISION = "claude_code.tool_decision"
TOOL_RESULT = "claude_code.tool_result"
ASSISTANT_RESPONSE = "claude_code.assistant_response"

TOKEN_TYPES = ("input", "output", "cacheRead", "cacheCreation")


def cache_hit_ratio(input_tokens: float, cache_read: float, cache_creation: float) -> float | None:
    """Share of prompt tokens served from the cache: cacheRead / (input + cacheRead + cacheCreation)."""
    total = input_tokens + cache_read + cache_creation
    return cache_read / total if total else None


# The OTLP signals, also the paths /v1/<name> of OTLP/HTTP.
SIGNAL_NAMES = ("logs", "metrics", "traces")

# Attributes and events that hold prompt text: dropped when prompts are not kept, blanked by retention.
PROMPT_KEYS = ("prompt", "prompt_text", "user_prompt")
PROMPT_BODY_EVENTS = ("claude_code.api_request_body",)

# Attribute -> identity column, shared by metrics and events (Claude Code's standard attributes).
IDENTITY_KEYS: tuple[tuple[str, str], ...] = (
    ("session_id", "session.id"),
    ("account_uuid", "user.account_uuid"),
    ("organization_id", "organization.id"),
    ("terminal_type", "terminal.type"),
    ("app_version", "app.version"),
    ("user_id", "user.id"),
    ("user_email", "user.email"),
)
# Resource keys set by OTel SDKs, Claude Code or the platform: not a custom attribute.
STANDARD_PREFIXES = ("host.", "os.", "service.", "otel.", "anthropic.", "telemetry.", "process.",
                     "resource.", "deployment.", "container.", "k8s.", "cloud.", "event.")
_IDENTITY_ATTRIBUTES = frozenset(key for _, key in IDENTITY_KEYS)


def digest(*parts: bytes, size: int = 16) -> bytes:
    h = hashlib.blake2b(digest_size=size)
    for part in parts:
        h.update(len(part).to_bytes(4, "little"))
        h.update(part)
    return h.digest()


def record_key(*parts: bytes) -> int:
    """A record's dedup key: a signed 64-bit digest (an SQL bigint), unique together with its timestamp."""
    return int.from_bytes(digest(*parts, size=8), "little", signed=True)


def is_custom(key: str) -> bool:
    """A resource key users added (OTEL_RESOURCE_ATTRIBUTES: team, department, ...)."""
    return not key.startswith(STANDARD_PREFIXES) and key not in _IDENTITY_ATTRIBUTES


def attribute_set(custom: dict[str, Any]) -> tuple[int, str]:
    """(id, canonical JSON) of a set of custom attributes; the empty set is 0."""
    if not custom:
        return 0, "{}"
    text = json.dumps(custom, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return record_key(text.encode()) or 1, text


def utc_text(dt: datetime) -> str:
    """A datetime as the stored timestamp form ('YYYY-MM-DD HH:MM:SS.mmm', UTC; naive means UTC)."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%d %H:%M:%S.") + f"{dt.microsecond // 1000:03d}"
