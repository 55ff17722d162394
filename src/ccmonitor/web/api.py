"""The JSON API under /api/: one endpoint per overview panel, the overview as a whole, sessions,
a session's story, a prompt's full text, filter choices, the team views (leaderboard per user or
group, cost per group, adoption, who stopped reporting; its leaderboard also as CSV), reports, and
the OpenAPI document describing them.

Every error, including unknown paths and wrong methods, has one shape:
    {"error": {"code": "<machine code>", "message": "<one line for a human>"}}
400 invalid_parameter, 401 unauthenticated (web/auth.py), 404 not_found, 405 method_not_allowed,
503 database_unavailable (locked or missing; retry), 500 internal_error. The handlers live on this
sub-application, so they never touch the OTLP routes next to it. Answers are encoded by
queries/encoding.py, as `ccmonitor report --json` is: a number that overflowed is null.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ccmonitor.errors import CcmonitorError, InputError, StoreBusy
from ccmonitor.queries import activity, adoption, encoding, facets, periods, sessions, silence, story, team
from ccmonitor.queries.buckets import bucket_seconds, iso_unix
from ccmonitor.queries.filters import Filters
from ccmonitor.queries.panels import PANELS, overview
from ccmonitor.store import Reader, Store
from ccmonitor.web import params
from ccmonitor.web.openapi import document

log = logging.getLogger(__name__)
T = TypeVar("T")
HTTP_CODES = {400: "invalid_parameter", 401: "unauthenticated", 404: "not_found", 405: "method_not_allowed"}


class Document(JSONResponse):
    def render(self, content: Any) -> bytes:
        return encoding.dumps(content).encode()


def error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def problem(exc: CcmonitorError) -> JSONResponse:
    """An error of the tree in this API's shape: the status is the one the tree gives it."""
    return error(exc.http_status, HTTP_CODES.get(exc.http_status, "http_error"), str(exc))


def range_of(f: Filters) -> dict[str, Any]:
    return {"since": iso_unix(int(f.since.timestamp())), "until": iso_unix(int(f.until.timestamp())),
            "bucket_seconds": bucket_seconds(f)}


def csv_text(rows: list[dict[str, Any]]) -> str:
    """Rows as CSV, header first; a missing number (None, or one that overflowed) is an empty cell."""
    out = io.StringIO()
    rows = encoding.finite(rows)
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)
    return out.getvalue()


def team_view(conn: Reader, f: Filters, by: str | None, days: int) -> dict[str, Any]:
    """The Team page's twin: every team view over one snapshot."""
    return {"range": range_of(f), "by": by, "empty": not has_data(conn),
            "leaderboard": team.leaderboard(conn, f, by), "cost": team.cost_by_group(conn, f, by),
            "adoption": adoption.adoption(conn, f), "silent": silence.silence(conn, f, days)}


def has_data(conn: Reader) -> bool:
    return bool(conn.execute(
        "SELECT EXISTS(SELECT 1 FROM metrics) OR EXISTS(SELECT 1 FROM events)").fetchone()[0])


def app(store: Store) -> Starlette:
    async def run(fn: Callable[[Reader], T]) -> T:
        """A query in a worker thread: the event loop (which also serves OTLP here) never waits on it."""
        return await asyncio.to_thread(store.read, fn)

    async def overview_endpoint(request: Request) -> JSONResponse:
        f = params.filters(request.query_params)

        def query(conn: Reader) -> dict[str, Any]:
            return {"range": range_of(f), "empty": not has_data(conn), "panels": overview(conn, f)}

        return Document(await run(query))

    async def panel_endpoint(request: Request) -> JSONResponse:
        panel = PANELS.get(request.path_params["name"])
        if panel is None:
            raise HTTPException(404, f"no panel {request.path_params['name']!r}; see /api/openapi.json")
        f = params.filters(request.query_params)
        data = await run(lambda conn: panel.query(conn, f))
        return Document({"range": range_of(f), "panel": panel.name, "data": data})

    async def sessions_endpoint(request: Request) -> JSONResponse:
        q = request.query_params
        f = params.filters(q)
        limit, offset = params.integer(q, "limit", sessions.PAGE), params.integer(q, "offset", 0, 10**9)
        data = await run(lambda conn: sessions.list_sessions(conn, f, limit, offset))
        return Document({"range": range_of(f), **data})

    async def session_endpoint(request: Request) -> JSONResponse:
        session_id = request.path_params["session_id"]
        data = await run(lambda conn: story.session_story(conn, session_id))
        if data is None:
            raise HTTPException(404, f"no session {session_id!r}")
        return Document(data)

    async def prompt_endpoint(request: Request) -> JSONResponse:
        prompt_id = request.path_params["prompt_id"]
        data = await run(lambda conn: activity.prompt_text(conn, prompt_id))
        if data is None:
            raise HTTPException(404, f"no prompt {prompt_id!r}")
        return Document(data)

    async def facets_endpoint(request: Request) -> JSONResponse:
        f = params.filters(request.query_params)
        return Document({"range": range_of(f), **await run(lambda conn: facets.facets(conn, f))})

    async def report_endpoint(request: Request) -> JSONResponse:
        """What `ccmonitor report NAME --server URL --json` prints, computed here (queries/periods.py)."""
        name, q = request.path_params["name"], request.query_params
        if name not in periods.REPORTS:
            raise HTTPException(404, f"no report {name!r}; choose one of {', '.join(periods.REPORTS)}")
        f, zone, breakdown = params.filters(q), params.zone(q), q.get("breakdown", "") in ("1", "true", "yes")
        by, days = params.group_key(q), params.days(q)
        if by is not None and (name not in periods.GROUPED or breakdown):
            raise InputError(f"by applies to {', '.join(periods.GROUPED)} without breakdown")
        return Document(await run(lambda conn: periods.report(conn, name, f, zone, breakdown, by, days)))

    async def team_endpoint(request: Request) -> JSONResponse:
        q = request.query_params
        f, by, days = params.filters(q), params.group_key(q), params.days(q)
        return Document(await run(lambda conn: team_view(conn, f, by, days)))

    async def leaderboard_csv_endpoint(request: Request) -> Response:
        """The leaderboard's rows as a CSV download: numbers and names only, never prompt text."""
        q = request.query_params
        f, by, rows = params.filters(q), params.group_key(q), q.get("rows") or "users"
        if rows not in ("users", "groups") or (rows == "groups" and by is None):
            raise InputError("rows must be users, or groups with by=<key>")
        board = await run(lambda conn: team.leaderboard(conn, f, by))
        name = f"ccmonitor-{rows}{'-by-' + by if by else ''}.csv"
        return Response(csv_text(board[rows]), media_type="text/csv; charset=utf-8",
                        headers={"content-disposition": f'attachment; filename="{name}"'})

    async def openapi_endpoint(request: Request) -> JSONResponse:
        return Document(document())

    get = ["GET", "HEAD"]
    routes = [
        Route("/overview", overview_endpoint, methods=get),
        Route("/panels/{name}", panel_endpoint, methods=get),
        Route("/sessions", sessions_endpoint, methods=get),
        Route("/sessions/{session_id}", session_endpoint, methods=get),
        Route("/prompts/{prompt_id}", prompt_endpoint, methods=get),
        Route("/facets", facets_endpoint, methods=get),
        Route("/reports/{name}", report_endpoint, methods=get),
        Route("/team", team_endpoint, methods=get),
        Route("/team/leaderboard.csv", leaderboard_csv_endpoint, methods=get),
        Route("/openapi.json", openapi_endpoint, methods=get),
    ]
    return Starlette(routes=routes, exception_handlers={
        HTTPException: _http_error, InputError: _input_error, StoreBusy: _db_error,
        Exception: _internal_error})


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    message = exc.detail
    if exc.status_code == 404 and message == "Not Found":
        message = f"no API endpoint {request.url.path}; see /api/openapi.json"
    elif exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}; use GET"
    return error(exc.status_code, HTTP_CODES.get(exc.status_code, "http_error"), message)


async def _input_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InputError)
    return problem(exc)


async def _db_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StoreBusy)
    response = error(503, "database_unavailable", str(exc))
    response.headers["Retry-After"] = str(exc.retry_after_s)
    return response


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("dashboard API error on %s: %s", request.url.path, type(exc).__name__)
    return error(500, "internal_error", f"internal error ({type(exc).__name__})")
