"""GET /health and GET /stats (the published design's bridge endpoints)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ccmonitor import __version__
from ccmonitor.queries import reader
from ccmonitor.queries.status import database_stats


def _iso(t: float | None) -> str | None:
    return None if t is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def routes(db: Path, writable: Callable[[], bool], counters: Callable[[], dict[str, Any]],
           last_received: Callable[[], dict[str, float]], queued: Callable[[], int]) -> list[Route]:
    async def health(request: Request) -> JSONResponse:
        ok = await asyncio.to_thread(writable)
        body = {"status": "ok" if ok else "unavailable", "version": __version__, "db_writable": ok}
        return JSONResponse(body, status_code=200 if ok else 503)

    def _stats() -> dict[str, Any]:
        conn = reader(db)
        try:
            return database_stats(conn, db)
        finally:
            conn.close()

    async def stats(request: Request) -> JSONResponse:
        body = await asyncio.to_thread(_stats)
        received = last_received()
        body["last_received"] = {
            "metric": _iso(received.get("metrics")),
            "event": _iso(received.get("logs")),
            "span": _iso(received.get("traces")),
        }
        body["queued_records"] = queued()
        body["since_start"] = counters()
        body["version"] = __version__
        return JSONResponse(body)

    return [Route("/health", health, methods=["GET", "HEAD"]), Route("/stats", stats, methods=["GET"])]
