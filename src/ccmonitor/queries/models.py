"""Per-model breakdown: API requests, latency p50/p95 (from `api_request` events), and tokens, cost
and cache-hit ratio (from the `token.usage` / `cost.usage` metrics, the same source as the tiles)."""

from __future__ import annotations

import sqlite3
from typing import Any

from ccmonitor.queries import names
from ccmonitor.queries.filters import Filters
from ccmonitor.queries.percentiles import percentiles


def _entry(out: dict[str, dict[str, Any]], model: str | None) -> dict[str, Any]:
    key = model or "unknown"
    return out.setdefault(key, {
        "model": key, "requests": 0, "errors": 0, "p50_ms": None, "p95_ms": None, "cost_usd": 0.0,
        **{t: 0 for t in names.TOKEN_TYPES}, "cache_hit_ratio": None})


def models(conn: sqlite3.Connection, f: Filters) -> list[dict[str, Any]]:
    where, params = f.where()
    out: dict[str, dict[str, Any]] = {}
    for model, event, n in conn.execute(
        f"SELECT model, event_name, COUNT(*) FROM events WHERE event_name IN (?, ?) AND {where}"
        " GROUP BY model, event_name", [names.API_REQUEST, names.API_ERROR, *params]):
        _entry(out, model)["requests" if event == names.API_REQUEST else "errors"] = n
    latency = percentiles(conn, "model", "duration_ms", f"FROM events WHERE event_name = ? AND {where}",
                          [names.API_REQUEST, *params])
    for model, stats in latency.items():
        _entry(out, model).update(p50_ms=stats.get("p50"), p95_ms=stats.get("p95"))
    for name, model, kind, total in conn.execute(
        f"SELECT metric_name, model, type, SUM(metric_value) FROM metrics WHERE metric_name IN (?, ?)"
        f" AND {where} GROUP BY metric_name, model, type", [names.TOKENS, names.COST, *params]):
        e = _entry(out, model)
        if name == names.COST:
            e["cost_usd"] = round(e["cost_usd"] + (total or 0), 6)
        elif kind in names.TOKEN_TYPES:
            e[kind] += int(total or 0)
    for e in out.values():
        e["cache_hit_ratio"] = names.cache_hit_ratio(e["input"], e["cacheRead"], e["cacheCreation"])
    return sorted(out.values(), key=lambda e: (-e["cost_usd"], -e["requests"], e["model"]))
