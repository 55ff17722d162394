"""What the server mounts on the app port for the dashboard: the pages, the JSON API under /api/
and the static files (our scripts and styles, and the vendored chart library: no CDN, works
offline)."""

from __future__ import annotations

from pathlib import Path

from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from ccmonitor.config import Config
from ccmonitor.web import api, pages
from ccmonitor.web.pool import Pool

STATIC = Path(__file__).parent / "static"


def routes(config: Config) -> list[BaseRoute]:
    pool = Pool(config.db, busy_timeout_ms=config.busy_timeout_ms)
    return [
        *pages.routes(config),
        Mount("/api", app=api.app(pool)),
        Mount("/static", app=StaticFiles(directory=STATIC)),
    ]
