"""The range each number we store may take: one bound per Claude Code metric, one per numeric event
column, a generic one for everything else (issue 9).

Why: a sender (a bug, a fuzzer, anything on the network) can send 1e308 or 2**63-1 where a token
count belongs. Two such points sum to infinity, and a stored infinity makes every total over it
fail or lie. So the receivers check every value against this catalogue before it reaches the store
(otlp/metrics.py rejects the point, otlp/logs.py keeps the event and moves the value out of its
column); the read side still survives whatever an older version or a hand-typed INSERT left
(queries/encoding.py).

The bounds are generous on purpose: orders of magnitude above anything Claude Code sends
(shared/claude-code/TELEMETRY.md), so they only catch values no real session produces, and low
enough that a billion points at the bound still sum far below the float range (1.8e308) and
counts stay exact integers (below 2**53 ~ 9e15) for a long time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Bound:
    low: float
    high: float
    why: str

    def holds(self, value: float) -> bool:
        return self.low <= value <= self.high  # False for NaN

    def text(self) -> str:
        return f"{self.low:g}..{self.high:g}"

    def problem(self, value: float) -> str | None:
        """Why a metric point's value can't be stored (to complete "metric 'x' ..."), or None."""
        if not math.isfinite(value):
            return "has a point without a finite value"
        return None if self.holds(value) else f"has a point outside {self.text()}"


# A CUMULATIVE point carries the running total since its series started (the life of a Claude Code
# process, days or weeks of a TUI left open), not one export interval's worth: it may be this many
# times a delta point's bound. store/series.py turns it into an increment.
RUNNING_TOTAL = 1000

TOKENS = Bound(0, 1e10, "tokens: one request's context is at most ~1e6")
COUNT = Bound(0, 1e6, "one per action per process; a collector merging many processes adds a few more")
METRICS: dict[str, Bound] = {
    "claude_code.token.usage": Bound(0, 1e10, "tokens in one export interval: a request's context is ~1e6"),
    "claude_code.cost.usage": Bound(0, 1e6, "USD in one export interval: a request costs cents to dollars"),
    "claude_code.lines_of_code.count": Bound(0, 1e9, "lines one interval's edits add or remove"),
    "claude_code.active_time.total": Bound(0, 1e8, "seconds: 1e8 s is three years"),
    "claude_code.session.count": COUNT,
    "claude_code.commit.count": COUNT,
    "claude_code.pull_request.count": COUNT,
    "claude_code.code_edit_tool.decision": COUNT,
}
# Any other sender's metric (gauges may be negative): finite, and exact as an integer.
OTHER_METRIC = Bound(-1e15, 1e15, "any value of a metric we don't know")

# The numeric columns of `events` (otlp/logs.py EVENT_FIELDS). Attributes without a column stay in
# custom_attributes as sent: nothing sums them.
EVENT_COLUMNS: dict[str, Bound] = {
    "prompt_length": Bound(0, 1e9, "characters: a prompt is at most a few megabytes"),
    "duration_ms": Bound(0, 7 * 86_400_000, "a week: API requests take seconds, tools minutes to hours"),
    "cost_usd": Bound(0, 1e6, "USD of one API request: cents to dollars"),
    "input_tokens": TOKENS,
    "output_tokens": TOKENS,
    "cache_read_tokens": TOKENS,
    "cache_creation_tokens": TOKENS,
    "status_code": Bound(100, 599, "an HTTP status code (RFC 9110, section 15)"),
    "attempt": Bound(0, 1e6, "tries of one request: CLAUDE_CODE_MAX_RETRIES is 10 by default"),
}


def metric_bound(name: str, running_total: bool) -> Bound:
    bound = METRICS.get(name, OTHER_METRIC)
    if not running_total:
        return bound
    return Bound(bound.low * RUNNING_TOTAL, bound.high * RUNNING_TOTAL, f"a running total of {bound.why}")


def metric_problem(name: str, value: float, running_total: bool) -> str | None:
    """Why a point of metric `name` can't be stored, or None (receivers look the bound up once per
    metric and ask it per point)."""
    return metric_bound(name, running_total).problem(value)
