"""The dashboard's HTML pages. Each is a shell that its script fills from the page's JSON twin:
    /                      <- /api/overview
    /sessions              <- /api/sessions
    /sessions/{session_id} <- /api/sessions/{session_id}
    /team                  <- /api/team
with the filters taken from the page's own query string, so the URL is the shareable state.

All data is inserted as text by the scripts (never as HTML), and the Content-Security-Policy
allows only our own scripts: a prompt that contains `<script>` stays a string either way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from ccmonitor import __version__
from ccmonitor.config import Config

TEMPLATES = Path(__file__).parent / "templates"
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
                               " object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


def setup_lines(config: Config) -> list[str]:
    """What to tell Claude Code (the published settings, SEED-SCHEMA.md), for the empty state."""
    host = "localhost" if config.host in ("127.0.0.1", "0.0.0.0", "::", "localhost") else config.host
    lines = [
        "CLAUDE_CODE_ENABLE_TELEMETRY=1",
        "OTEL_METRICS_EXPORTER=otlp",
        "OTEL_LOGS_EXPORTER=otlp",
        "OTEL_EXPORTER_OTLP_PROTOCOL=grpc",
        f"OTEL_EXPORTER_OTLP_ENDPOINT={'https' if config.tls_cert else 'http'}://{host}:{config.grpc_port}",
    ]
    if config.auth_token:
        lines.append("OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer <your CCMONITOR_AUTH_TOKEN>")
    return lines


def routes(config: Config) -> list[Route]:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True))
    common = {"version": __version__, "setup": setup_lines(config), "store_prompts": config.store_prompts,
              "http_port": config.http_port}

    def render(request: Request, name: str, **context: Any) -> HTMLResponse:
        # the session's CSRF token (web/auth.py) for the log-out form; absent without a login session
        sender = request.scope.get("ccmonitor.sender")
        html = env.get_template(name).render(**common, **context, csrf=request.scope.get("ccmonitor.csrf"),
                                             role=sender.role if sender else None)
        return HTMLResponse(html, headers=SECURITY_HEADERS)

    async def overview(request: Request) -> HTMLResponse:
        return render(request, "overview.html", page="overview", twin="/api/overview")

    async def sessions(request: Request) -> HTMLResponse:
        return render(request, "sessions.html", page="sessions", twin="/api/sessions")

    async def session(request: Request) -> HTMLResponse:
        session_id = request.path_params["session_id"]
        return render(request, "session.html", page="session", session_id=session_id,
                      twin=f"/api/sessions/{session_id}")

    async def team(request: Request) -> HTMLResponse:
        return render(request, "team.html", page="team", twin="/api/team")

    get = ["GET", "HEAD"]
    return [Route("/", overview, methods=get), Route("/sessions", sessions, methods=get),
            Route("/sessions/{session_id}", session, methods=get), Route("/team", team, methods=get)]
