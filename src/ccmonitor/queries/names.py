"""The names Claude Code gives its metrics, events and token types (shared/claude-code/TELEMETRY.md).

Metric and event names carry the `claude_code.` prefix as stored. Metrics that carry a `model`
attribute honour the model filter; the others (sessions, active time, commits, ...) don't have one,
so a model filter leaves them untouched rather than zeroing them.
"""

from __future__ import annotations

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
