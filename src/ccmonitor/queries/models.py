"""Per-model breakdown: API requests, errors and exact latency p50/p95 (from `api_request` events),
and tokens, cost and cache-hit ratio (from the `token.usage` / `cost.usage` metrics, the same source
as the tiles). Counts and sums come from the hourly rollups where they can; the exact percentiles
from duration histograms plus one bucket's rows (queries/percentiles.py)."""

from __future__ import annotations

from typing import Any

from ccmonitor import telemetry as names
from ccmonitor.queries.filters import Filters
from ccmonitor.queries.percentiles import percentiles
from ccmonitor.queries.rollups import totals, whole
from ccmonitor.store import Reader


def _entry(out: dict[str, dict[str, Any]], model: object) -> dict[str, Any]:
    key = str(model) if model else "unknown"
    return out.setdefault(key, {
        "model": key, "requests": 0, "errors": 0, "p50_ms": None, "p95_ms": None, "cost_usd": 0.0,
        **{t: 0 for t in names.TOKEN_TYPES}, "cache_hit_ratio": None})


def models(conn: Reader, f: Filters) -> list[dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for (event, model), n in totals(conn, "events", f, (names.API_REQUEST, names.API_ERROR),
                                     ("event_name", "model")).items():
        _entry(out, model)["requests" if event == names.API_REQUEST else "errors"] = int(n)
    for model, value in percentiles(conn, f, names.API_REQUEST, (50, 95)).items():
        _entry(out, model).update(p50_ms=value[50], p95_ms=value[95])
    for (name, model, kind), total in totals(conn, "metrics", f, (names.TOKENS, names.COST),
                                             ("metric_name", "model", "type")).items():
        e = _entry(out, model)
        if name == names.COST:
            e["cost_usd"] = round(e["cost_usd"] + total, 6)
        elif kind in names.TOKEN_TYPES:
            e[str(kind)] = whole(e[str(kind)] + total)
    for e in out.values():
        e["cache_hit_ratio"] = names.cache_hit_ratio(e["input"], e["cacheRead"], e["cacheCreation"])
    return sorted(out.values(), key=lambda e: (-e["cost_usd"], -e["requests"], e["model"]))
