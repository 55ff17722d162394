"""The auth token on the HTTP ports. With --auth-token set, every request needs it except
GET /health (container healthchecks carry no secrets) and the OTLP /v1/* paths, which check it
themselves so that their 401 is an OTLP status an exporter understands.

Accepted: `Authorization: Bearer <token>` (percent-encoded or not: the OTLP check, reused) and HTTP
Basic with the token as the password and any user name, so a browser can open the dashboard: the
401 carries a Basic challenge, the browser prompts once, then sends the same credentials on the
dashboard's own same-origin fetch() calls to /api.

This wraps the whole app (not single routes), so a route added later is protected by default.
"""

from __future__ import annotations

import base64
import binascii
import hmac

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketClose

from ccmonitor.credentials import check_token
from ccmonitor.errors import Unauthenticated
from ccmonitor.telemetry import SIGNAL_NAMES
from ccmonitor.web import api
from ccmonitor.web.pages import SECURITY_HEADERS

OPEN_PATHS = frozenset({"/health", *(f"/v1/{name}" for name in SIGNAL_NAMES)})
CHALLENGE = {"www-authenticate": 'Basic realm="ccmonitor", charset="UTF-8"'}
MESSAGE = ("this ccmonitor needs its auth token: send 'Authorization: Bearer <token>', "
           "or log in with the token as password (any user name)")


def authorize(header: str | None, token: str) -> None:
    """Raise Unauthenticated unless the header carries the token, as Bearer or as a Basic password."""
    scheme, _, value = (header or "").strip().partition(" ")
    if scheme.lower() == "basic":
        try:
            _, colon, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthenticated(MESSAGE) from None
        if not colon or not hmac.compare_digest(password.encode(), token.encode()):
            raise Unauthenticated(MESSAGE)
        return
    try:
        check_token(header, token)
    except Unauthenticated:
        raise Unauthenticated(MESSAGE) from None


def refusal(path: str, exc: Unauthenticated) -> Response:
    """The API's JSON error shape under /api, one line of text elsewhere; both with the challenge."""
    if path == "/api" or path.startswith("/api/"):
        response: Response = api.problem(exc)
    else:
        response = PlainTextResponse(f"{exc.http_status} Unauthorized: {exc}\n", status_code=exc.http_status,
                                     headers=SECURITY_HEADERS)
    response.headers.update(CHALLENGE)
    return response


class RequireToken:
    """ASGI middleware; a no-op when no token is configured."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.token and scope["type"] in ("http", "websocket") and scope["path"] not in OPEN_PATHS:
            try:
                authorize(Headers(scope=scope).get("authorization"), self.token)
            except Unauthenticated as exc:
                if scope["type"] == "websocket":
                    await WebSocketClose(code=1008)(scope, receive, send)  # policy violation
                else:
                    await refusal(scope["path"], exc)(scope, receive, send)
                return
        await self.app(scope, receive, send)
