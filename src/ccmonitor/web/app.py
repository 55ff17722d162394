"""What the server mounts on the app port for the dashboard: the pages, the JSON API under /api/
and the static files (our scripts and styles, and the vendored chart library: no CDN, works
offline)."""

from __future__ import annotations

from pathlib import Path

from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from ccmonitor.config import Config
from ccmonitor.store import Store
from ccmonitor.web import api, pages

STATIC = Path(__file__).parent / "static"


def routes(config: Config, store: Store) -> list[BaseRoute]:
    return [
        *pages.routes(config),
        Mount("/api", app=api.app(store)),
        Mount("/static", app=StaticFiles(directory=STATIC)),
    ]
