"""The bounds catalogue: one bound for every metric Claude Code sends and every numeric event column,
each with its reason, none so wide that a sum of many points at it could overflow or lose counts."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from ccmonitor import bounds
from ccmonitor import telemetry as names
from ccmonitor.otlp.logs import EVENT_FIELDS
from ccmonitor.otlp.values import as_float, as_int

CLAUDE_METRICS = {names.TOKENS, names.COST, names.LINES, names.SESSIONS, names.ACTIVE_TIME, names.COMMITS,
                  names.PULL_REQUESTS, names.EDIT_DECISION}
EVERY = [*bounds.METRICS.values(), bounds.OTHER_METRIC, *bounds.EVENT_COLUMNS.values()]
STORAGE_DOC = Path(__file__).parent.parent / "docs" / "storage.md"


def test_every_claude_code_metric_has_its_bound() -> None:
    assert set(bounds.METRICS) == CLAUDE_METRICS


def test_every_numeric_event_column_has_its_bound() -> None:
    numeric = {column for column, parse in EVENT_FIELDS if parse in (as_int, as_float)}
    assert set(bounds.EVENT_COLUMNS) == numeric


@pytest.mark.parametrize("bound", EVERY, ids=lambda b: b.why[:40])
def test_each_bound_says_why_and_keeps_sums_finite_and_exact(bound: bounds.Bound) -> None:
    assert bound.why and bound.low < bound.high
    running = bound.high * bounds.RUNNING_TOTAL
    assert math.isfinite(running * 1e9 * 1e9)  # a billion points at the bound, a billion times over
    assert max(abs(bound.low), bound.high) <= 2**53  # whole numbers stay exact in a float


@pytest.mark.parametrize(("name", "value", "running_total", "problem"), [
    (names.TOKENS, 1e10, False, None),
    (names.TOKENS, 1e10 + 1, False, "has a point outside 0..1e+10"),
    (names.TOKENS, 1e13, True, None),
    (names.TOKENS, -1.0, True, "has a point outside 0..1e+13"),
    (names.COST, float("nan"), False, "has a point without a finite value"),
    ("some.gauge", -1e15, False, None),
    ("some.gauge", float("-inf"), False, "has a point without a finite value"),
], ids=["at-the-bound", "past-it", "running-total", "negative-running-total", "nan", "other-metric", "minus-inf"])
def test_metric_problem(name: str, value: float, running_total: bool, problem: str | None) -> None:
    assert bounds.metric_problem(name, value, running_total) == problem


@pytest.mark.parametrize(("name", "bound"), [*bounds.METRICS.items(), *bounds.EVENT_COLUMNS.items()],
                         ids=[*bounds.METRICS, *bounds.EVENT_COLUMNS])
def test_the_storage_docs_state_each_bound(name: str, bound: bounds.Bound) -> None:
    names = (f"`{name}`", f"`{name.removeprefix('claude_code.')}`")
    lines = [line for line in STORAGE_DOC.read_text().splitlines() if any(n in line for n in names)]
    assert any(f"| {bound.text()} |" in line for line in lines), name
