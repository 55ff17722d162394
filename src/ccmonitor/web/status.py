"""GET /health and GET /stats (the published design's bridge endpoints).

/health answers from the writer's recorded state (store/health.py), in memory on the event loop: no
database lock and no worker thread, so a busy but healthy server is never reported down and a
failing one (full disk, read-only file) is. 200 {"status": "ok", "version", "db_writable": true}, or
503 {"status": "unavailable", "reason", "since", "db_writable": false, "version"}.

/stats adds to the store's counts what this receiver did since it started: requests and records by
signal and transport (`since_start`), secrets redacted by kind (`redactions`) and e-mail identities
hashed (`emails_hashed`); counts only, never what was replaced.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ccmonitor import __version__
from ccmonitor.errors import StoreBusy
from ccmonitor.redaction import Redactor
from ccmonitor.store import Store


def _iso(t: float | None) -> str | None:
    return None if t is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def routes(store: Store, counters: Callable[[], dict[str, Any]], redactor: Redactor | None = None) -> list[Route]:
    async def health(request: Request) -> JSONResponse:
        reason, since = store.health.state()
        if reason is None:
            return JSONResponse({"status": "ok", "version": __version__, "db_writable": True})
        return JSONResponse({"status": "unavailable", "reason": reason, "since": _iso(since), "db_writable": False,
                             "version": __version__}, status_code=503)

    async def stats(request: Request) -> JSONResponse:
        try:
            body = await asyncio.to_thread(store.stats)
        except StoreBusy as exc:
            return JSONResponse({"error": {"code": "database_unavailable", "message": str(exc)}}, status_code=503,
                                headers={"Retry-After": str(exc.retry_after_s)})
        received = dict(store.last_commit)
        body["last_received"] = {
            "metric": _iso(received.get("metrics")),
            "event": _iso(received.get("logs")),
            "span": _iso(received.get("traces")),
        }
        body["queued_records"] = store.queued
        body["since_start"] = counters()
        body.update(redactor.snapshot() if redactor else {"redactions": {}, "emails_hashed": 0})
        body["version"] = __version__
        return JSONResponse(body)

    return [Route("/health", health, methods=["GET", "HEAD"]), Route("/stats", stats, methods=["GET"])]
