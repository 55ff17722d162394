"""The guard in front of both HTTP ports: who the request is (credentials.Gate), and what its role may
do. It wraps the whole app (not single routes), so a route added later is guarded by default.

Who: a session cookie from /login (web/login.py), `Authorization: Bearer <token>`, or HTTP Basic with
the token as the password (any user name) for scripts (`curl -u :TOKEN`). A server with no
--auth-token and no tokens asks for nothing.

Open without a token: GET /health (container healthchecks), the login page and its stylesheet, and
OTLP's /v1/* paths, which check tokens themselves so that a refusal is an OTLP status an exporter
understands.

Roles: `ingest` reaches nothing here but /v1/* (403); `viewer` reads every page and number, gets
every JSON answer through web/privacy.py and never the routes that only show private text;
`admin` reaches everything. A state-changing request (not GET/HEAD) made with the session cookie
carries its CSRF token (web/login.py); one made with Basic credentials (which browsers resend by
themselves) is refused; Bearer tokens are never sent by a browser on its own.

Unauthenticated: a page answers 303 to /login; /api and /stats answer 401 in the API's JSON shape.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
from http.cookies import SimpleCookie

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketClose

from ccmonitor.credentials import Gate, Sender, bearer_forms, permit
from ccmonitor.errors import CcmonitorError, Forbidden, RetryableError, Unauthenticated
from ccmonitor.telemetry import SIGNAL_NAMES
from ccmonitor.web.login import SESSION_COOKIE, Cookies, login_url
from ccmonitor.web.pages import SECURITY_HEADERS
from ccmonitor.web.privacy import PRIVATE_ROUTES, ViewerFilter

OTLP_PATHS = frozenset(f"/v1/{name}" for name in SIGNAL_NAMES)
OPEN_PATHS = frozenset({"/health", "/login", "/static/dashboard.css", *OTLP_PATHS})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FORMS = frozenset({"/logout"})  # these check the form's csrf field themselves
MESSAGE = ("this ccmonitor needs a token: send 'Authorization: Bearer <token>', use Basic auth with the token"
           " as password, or log in at /login")
CODES = {401: "unauthenticated", 403: "forbidden", 503: "database_unavailable"}
SENDER_KEY = "ccmonitor.sender"  # the scope key pages read the Sender (and CSRF token) from
CSRF_KEY = "ccmonitor.csrf"


def basic_password(header: str | None) -> str | None:
    scheme, _, value = (header or "").strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        _, colon, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return password if colon else None


def is_api(path: str) -> bool:
    return path in ("/api", "/stats") or path.startswith("/api/")


def refusal(scope: Scope, exc: CcmonitorError) -> Response:
    """401/403 (or 503 when the token could not be looked up) in the API's JSON shape under /api and
    /stats; a page without a token goes to /login, any other refusal is one line of text."""
    path, status = scope["path"], exc.http_status
    headers = {"retry-after": str(exc.retry_after_s)} if isinstance(exc, RetryableError) else {}
    if status == 401:
        headers["www-authenticate"] = 'Bearer realm="ccmonitor"'  # not Basic: no browser prompt pops up
    if is_api(path):
        return JSONResponse({"error": {"code": CODES.get(status, "http_error"), "message": str(exc)}},
                            status_code=status, headers=headers)
    if status == 401 and scope["method"] in SAFE_METHODS:
        return RedirectResponse(login_url(path, scope.get("query_string", b"").decode("latin-1")), status_code=303)
    return PlainTextResponse(f"{status} {CODES.get(status, 'error')}: {exc}\n", status_code=status,
                             headers={**SECURITY_HEADERS, **headers})


class Guard:
    """ASGI middleware; `gate` None (or one that requires nothing) leaves the server open."""

    def __init__(self, app: ASGIApp, gate: Gate | None, cookies: Cookies | None) -> None:
        self.app = app
        self.gate = gate
        self.cookies = cookies
        self.viewer_app = ViewerFilter(app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":  # we serve none (ws="none"); never let one past unguarded
            await WebSocketClose(code=1008)(scope, receive, send)
            return
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS or self.gate is None:
            await self.app(scope, receive, send)
            return
        try:
            sender = await self._sender(scope)
            self._permit(scope, sender)
        except CcmonitorError as exc:
            await refusal(scope, exc)(scope, receive, send)
            return
        scope[SENDER_KEY] = sender
        app = self.viewer_app if sender.role == "viewer" else self.app
        await app(scope, receive, send)

    async def _sender(self, scope: Scope) -> Sender:
        gate = self.gate
        assert gate is not None
        headers = Headers(scope=scope)
        header = headers.get("authorization")
        if header:
            password = basic_password(header)
            sender = await gate.check({password} if password is not None else bearer_forms(header))
            if password is not None and scope["method"] not in SAFE_METHODS:
                raise Forbidden("Basic credentials may only read; log in, or send a Bearer token")
            return sender
        session = self.cookies.read(_cookie(headers)) if self.cookies is not None else None
        if session is not None:
            found = await asyncio.to_thread(gate.session, session.name, session.fingerprint)
            if found is not None:
                if scope["method"] not in SAFE_METHODS and scope["path"] not in CSRF_FORMS \
                        and not hmac.compare_digest(headers.get("x-csrf-token", ""), session.csrf):
                    raise Forbidden("missing or wrong X-CSRF-Token header")
                scope[CSRF_KEY] = session.csrf
                return found
        return await gate.check(set())  # an open server lets everyone in; otherwise Unauthenticated

    @staticmethod
    def _permit(scope: Scope, sender: Sender) -> None:
        path = scope["path"]
        if path == "/logout":
            return
        permit(sender, "viewer", "admin")
        if sender.role == "viewer" and path.startswith(PRIVATE_ROUTES):
            raise Forbidden("a viewer sees numbers, not prompt text; this needs an admin token")


def _cookie(headers: Headers) -> str | None:
    raw = headers.get("cookie")
    if not raw:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except Exception:  # a malformed Cookie header is no session, not a 500
        return None
    morsel = jar.get(SESSION_COOKIE)
    return morsel.value if morsel else None


__all__ = ["Guard", "Unauthenticated", "refusal"]
