"""The dashboard's login: a token typed once into /login becomes a session cookie.

The cookie (`ccmonitor_session`, HttpOnly, SameSite=Strict, Secure under TLS, 12 hours) holds the
token's name, a fingerprint of that very token, the expiry and the session's CSRF token, signed with
the database's `session` secret (store/access.py), so every receiver on the database accepts it. It
never holds the token. Each request re-checks the token (web/auth.py), so revoking it ends its
sessions at once.

CSRF: the login form is a double submit (a random value in a short-lived cookie and in the form);
after login every state-changing request carries the session's CSRF token (the `X-CSRF-Token` header,
or the `csrf` field of a form such as /logout). SameSite=Strict alone would not cover old browsers.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from ccmonitor import __version__
from ccmonitor.credentials import Gate, permit
from ccmonitor.errors import CcmonitorError, Forbidden
from ccmonitor.web.pages import SECURITY_HEADERS

SESSION_COOKIE = "ccmonitor_session"
LOGIN_COOKIE = "ccmonitor_login"  # the login form's double-submit value
SESSION_S = 12 * 3600
MAX_FORM_BYTES = 8192
TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class Session:
    name: str
    fingerprint: str
    expires: int
    csrf: str


class Cookies:
    """Signs and reads session cookies with the database's session key."""

    def __init__(self, key: bytes, secure: bool) -> None:
        self.key = key
        self.secure = secure

    def _sign(self, payload: bytes) -> str:
        return hmac.new(self.key, payload, hashlib.sha256).hexdigest()

    def make(self, name: str, fingerprint: str, now: float | None = None) -> tuple[str, Session]:
        session = Session(name, fingerprint, int((now or time.time()) + SESSION_S), secrets.token_urlsafe(24))
        payload = base64.urlsafe_b64encode(json.dumps(
            [session.name, session.fingerprint, session.expires, session.csrf]).encode())
        return f"{payload.decode()}.{self._sign(payload)}", session

    def read(self, value: str | None, now: float | None = None) -> Session | None:
        payload, _, signature = (value or "").partition(".")
        if not payload or not hmac.compare_digest(self._sign(payload.encode()), signature):
            return None
        try:
            name, fingerprint, expires, csrf = json.loads(base64.urlsafe_b64decode(payload))
        except ValueError:
            return None
        session = Session(str(name), str(fingerprint), int(expires), str(csrf))
        return session if session.expires > (now or time.time()) else None

    def header(self, name: str, value: str, max_age: int) -> str:
        flags = "; Secure" if self.secure else ""
        return f"{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict{flags}"


def safe_next(target: str | None) -> str:
    """Only a path of this site: never `//evil.example` or `https://...` (an open redirect)."""
    target = target or "/"
    return target if target.startswith("/") and not target.startswith(("//", "/\\")) else "/"


async def form(request: Request) -> dict[str, str]:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise Forbidden("form too large")
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in fields.items()}


def routes(gate: Gate, cookies: Cookies) -> list[Route]:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True))

    def page(next_path: str, message: str = "", status: int = 200) -> Response:
        csrf = secrets.token_urlsafe(24)
        html = env.get_template("login.html").render(version=__version__, csrf=csrf, next=next_path,
                                                      message=message)
        response = HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
        response.headers.append("set-cookie", cookies.header(LOGIN_COOKIE, csrf, 600))
        return response

    async def login_page(request: Request) -> Response:
        return page(safe_next(request.query_params.get("next")))

    async def login(request: Request) -> Response:
        fields = await form(request)
        next_path = safe_next(fields.get("next"))
        expected = request.cookies.get(LOGIN_COOKIE, "")
        if not expected or not hmac.compare_digest(expected, fields.get("csrf", "")):
            return page(next_path, "The form expired; please try again.", 403)
        token = fields.get("token", "").strip()
        try:
            sender = await asyncio.to_thread(gate.identify, {token} if token else set())
            permit(sender, "viewer", "admin")
        except Forbidden:
            return page(next_path, "This token may only send telemetry (role ingest).", 403)
        except CcmonitorError:
            return page(next_path, "That token does not open this server.", 401)
        value, _ = cookies.make(sender.name, sender.fingerprint)
        response = RedirectResponse(next_path, status_code=303)
        response.headers.append("set-cookie", cookies.header(SESSION_COOKIE, value, SESSION_S))
        response.headers.append("set-cookie", cookies.header(LOGIN_COOKIE, "", 0))
        return response

    async def logout(request: Request) -> Response:
        session = cookies.read(request.cookies.get(SESSION_COOKIE))
        fields = await form(request)
        if session is not None and not hmac.compare_digest(session.csrf, fields.get("csrf", "")):
            return Response("403 Forbidden: missing or wrong CSRF token\n", status_code=403, media_type="text/plain")
        response = RedirectResponse("/login", status_code=303)
        response.headers.append("set-cookie", cookies.header(SESSION_COOKIE, "", 0))
        return response

    return [Route("/login", login_page, methods=["GET", "HEAD"]), Route("/login", login, methods=["POST"]),
            Route("/logout", logout, methods=["POST"])]


def login_url(path: str, query: str) -> str:
    target = path + (f"?{query}" if query else "")
    return "/login?next=" + quote(target, safe="")
